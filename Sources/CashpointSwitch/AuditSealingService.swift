public import CashpointDatabase
import CashpointStore
public import Crypto
public import Logging
public import PostgresNIO
public import ServiceLifecycle

/// Seals the audit log's hash chain while the switch runs: every `interval`, a round seals every row
/// not yet sealed (`AuditSealer.sealAll`; one sealer at a time across switch instances, under an
/// advisory lock). Off the posting path.
///
/// No round waits for ever. One that has not ended within `roundDeadline` (on the injected clock) is
/// abandoned: its task is cancelled, which closes the connection it holds (the server then ends its
/// transaction and advisory lock), and the next round starts `interval` later on another connection.
/// The batches a round committed before that stay sealed. At graceful shutdown (which reaches this
/// service after the server has answered its last request) a round in progress is abandoned at once,
/// and a last round seals what was written before the shutdown, within `finalDeadline`, so the pool
/// still closes within the switch's shutdown budget; what it leaves waits for the next start.
public struct AuditSealingService: Service {
    /// One round: seals what there is now and returns how many rows it sealed. Cancelled, it must close
    /// what it holds; it is not waited for after that.
    public typealias Round = @Sendable () async throws -> Int

    let round: Round
    let interval: Duration
    let roundDeadline: Duration
    let finalDeadline: Duration
    let clock: any Clock<Duration>
    let logger: Logger

    public init(
        client: DatabaseClient,
        key: SymmetricKey,
        interval: Duration = .seconds(1),
        roundDeadline: Duration = .seconds(10),
        finalDeadline: Duration = .milliseconds(1_500),
        logger: Logger
    ) {
        let sealer = AuditSealer(client: client, key: key, logger: logger)
        self.init(
            round: { try await sealer.sealAll() },
            interval: interval,
            roundDeadline: roundDeadline,
            finalDeadline: finalDeadline,
            logger: logger
        )
    }

    /// A service that runs `round` (tests give one of their own, and a manual clock).
    public init(
        round: @escaping Round,
        interval: Duration = .seconds(1),
        roundDeadline: Duration = .seconds(10),
        finalDeadline: Duration = .milliseconds(1_500),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger
    ) {
        self.round = round
        self.interval = interval
        self.roundDeadline = roundDeadline
        self.finalDeadline = finalDeadline
        self.clock = clock
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await self.bounded(by: self.roundDeadline, isLast: false)
            // Sleep until the next round, waking at once for a graceful shutdown.
            try? await cancelWhenGracefulShutdown { try await self.clock.sleep(for: self.interval) }
        }
        // A last round, so nothing written before the shutdown waits for the next start.
        if !Task.isCancelled { await self.bounded(by: self.finalDeadline, isLast: true) }
    }

    /// Runs one round and logs how it went. It is given up when `deadline` passes, when the task is
    /// cancelled, and (unless it is the last round) at graceful shutdown; a round given up is cancelled
    /// and left to end by itself, never waited for.
    func bounded(by deadline: Duration, isLast: Bool) async {
        let logger = self.logger
        let result = await runRound(
            self.round,
            deadline: deadline,
            clock: self.clock,
            abandonAtShutdown: !isLast
        ) { late in
            // Where an abandoned round was stuck shows in how it ended (if it ever does).
            logger.notice("an abandoned audit sealing round ended", metadata: [LogKey.reason: "\(Self.describe(late))"])
        }
        switch result {
        case .success(let sealed):
            if sealed > 0 { self.logger.debug("audit rows sealed", metadata: [LogKey.sealed: "\(sealed)"]) }
        case .failure(let abandoned as RoundAbandoned) where abandoned.reason == .deadline:
            self.logger.warning(
                isLast
                    ? "the last audit sealing round did not end in time; what it did not seal waits for the next start (or atm-switch audit seal)"
                    : "audit sealing round abandoned: cancelled (its connection, if it had one, closed); the next starts on another",
                metadata: [LogKey.reason: "\(abandoned)"]
            )
        case .failure(is RoundAbandoned), .failure(is CancellationError):
            break
        case .failure:
            self.logger.warning(
                "audit sealing failed; trying again",
                metadata: [LogKey.error: "\(Self.describe(result))"]
            )
        }
    }

    /// A round's result as a log line says it: PostgreSQL's message and SQLSTATE, or postgres-nio's code.
    static func describe(_ result: Result<Int, any Error>) -> String {
        switch result {
        case .success(let sealed): "\(sealed) rows sealed"
        case .failure(let error): DatabaseFailure(error).map { "\($0)" } ?? "\(error)"
        }
    }
}

/// Why a round of a periodic service was given up.
struct RoundAbandoned: Error, CustomStringConvertible {
    enum Reason { case deadline, shutdown }
    let reason: Reason
    let deadline: Duration

    var description: String {
        switch self.reason {
        case .deadline: "the round did not end within \(self.deadline)"
        case .shutdown: "the switch is shutting down"
        }
    }
}

/// Runs `work` (one round of a periodic service: the audit sealer, the monitoring worker) in a task of
/// its own and waits for its result, which is `RoundAbandoned` when `deadline` passes on `clock` first,
/// or at graceful shutdown when `abandonAtShutdown`, and `CancellationError` when the waiting task is
/// cancelled. A round given up is cancelled (a query closes its connection, and the server ends its
/// transaction) and never waited for; `lateEnd` is told how it ended, if it ever does.
func runRound<T: Sendable>(
    _ work: @escaping @Sendable () async throws -> T,
    deadline: Duration,
    clock: any Clock<Duration>,
    abandonAtShutdown: Bool,
    lateEnd: @escaping @Sendable (Result<T, any Error>) -> Void
) async -> Result<T, any Error> {
    let outcome = Outcome<T>()
    let task = Task {
        let result: Result<T, any Error>
        do {
            result = .success(try await work())
        } catch {
            result = .failure(error)
        }
        if !outcome.finish(result) { lateEnd(result) }
    }
    let timer = Task {
        do {
            try await clock.sleep(for: deadline)
            outcome.fail(RoundAbandoned(reason: .deadline, deadline: deadline))
        } catch {}
    }
    let result = await withTaskCancellationHandler {
        await withGracefulShutdownHandler {
            await outcome.value
        } onGracefulShutdown: {
            if abandonAtShutdown { outcome.fail(RoundAbandoned(reason: .shutdown, deadline: deadline)) }
        }
    } onCancel: {
        outcome.fail(CancellationError())
    }
    timer.cancel()
    // A round that has ended is not affected; one that has not closes its connection.
    task.cancel()
    return result
}
