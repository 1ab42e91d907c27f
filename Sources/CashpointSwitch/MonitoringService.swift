import CashpointBank
import CashpointDatabase
public import CashpointStore
public import Logging
import Metrics
public import ServiceLifecycle

/// Transaction monitoring's worker (docs/compliance.md): examines the postings bank.post queued
/// (`bank.monitoring_queue`, written in the posting's own statement) with the rules that run after
/// commit, never on a terminal's wait. Each round takes up to `batch` rows (`bank.monitor`: FOR UPDATE
/// SKIP LOCKED, so several switches on one database share the queue, each row examined once) and raises
/// what the rules find as alerts and cases, in one transaction. While rows remain it goes on at once;
/// otherwise it sleeps `interval` on its clock.
///
/// A round that has not ended within `roundDeadline`, or is running at graceful shutdown, is given up
/// (cancelled, not waited for). A round is one statement in one transaction: it commits whole (its rows
/// examined, their alerts raised) or not at all (its rows stay queued for the next round or the next
/// start). Nothing is lost and nothing is examined twice.
public struct MonitoringService: Service {
    public typealias Round = @Sendable () async throws -> MonitoringRound

    let round: Round
    let interval: Duration
    let roundDeadline: Duration
    let clock: any Clock<Duration>
    let logger: Logger

    public init(
        store: BankStore,
        batch: Int = 500,
        interval: Duration = .seconds(1),
        roundDeadline: Duration = .seconds(30),
        logger: Logger
    ) {
        self.init(
            round: { try await store.monitor(limit: batch) },
            interval: interval,
            roundDeadline: roundDeadline,
            logger: logger
        )
    }

    /// A service that runs `round` (tests give one of their own, and a manual clock).
    public init(
        round: @escaping Round,
        interval: Duration = .seconds(1),
        roundDeadline: Duration = .seconds(30),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger
    ) {
        self.round = round
        self.interval = interval
        self.roundDeadline = roundDeadline
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        let queued = Gauge(label: "cashpoint_monitoring_queue")
        let alerts = Counter(label: "cashpoint_monitoring_alerts_total")
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let logger = self.logger
            let result = await runRound(self.round, deadline: self.roundDeadline, clock: self.clock, abandonAtShutdown: true) {
                logger.notice("an abandoned monitoring round ended", metadata: [LogKey.reason: "\($0)"])
            }
            switch result {
            case .success(let round):
                queued.record(round.remaining)
                if round.alerts > 0 {
                    alerts.increment(by: round.alerts)
                    self.logger.info(
                        "transaction monitoring raised alerts",
                        metadata: [LogKey.alerts: "\(round.alerts)", LogKey.examined: "\(round.examined)"]
                    )
                }
                // More queued than one round takes: the next round at once.
                if round.remaining > 0 && round.examined > 0 { continue }
            case .failure(let abandoned as RoundAbandoned) where abandoned.reason == .deadline:
                self.logger.warning(
                    "monitoring round abandoned: its rows stay queued for the next",
                    metadata: [LogKey.reason: "\(abandoned)"]
                )
            case .failure(is RoundAbandoned), .failure(is CancellationError):
                break
            case .failure(let error):
                self.logger.warning(
                    "monitoring round failed; its rows stay queued, trying again",
                    metadata: [LogKey.error: "\(DatabaseFailure(error).map { "\($0)" } ?? "\(error)")"]
                )
            }
            try? await cancelWhenGracefulShutdown { try await self.clock.sleep(for: self.interval) }
        }
    }
}
