import ATMTestSupport
import CashpointBank
import CashpointDatabase
import CashpointHarness
import CashpointSecurity
import CashpointStore
import CashpointSwitch
import CashpointTestSupport
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing

/// The switch's audit sealer against real faults of its database connection, on a manual clock: the
/// server ends the sealer's backend in the middle of its transaction, and a partition leaves its
/// connection silent. Each time the round ends, and the next seals everything on a fresh connection.
@Suite("Audit sealing under database faults", .serialized, .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct AuditSealingFaultTests {
    enum Event: Sendable, Equatable {
        case sealed(Int)
        case failed
    }

    /// The real sealer as a round that reports how each round ended.
    static func reporting(_ sealer: AuditSealer) -> (AuditSealingService.Round, AsyncStream<Event>) {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let round: AuditSealingService.Round = {
            do {
                let sealed = try await sealer.sealAll()
                continuation.yield(.sealed(sealed))
                return sealed
            } catch {
                continuation.yield(.failed)
                throw error
            }
        }
        return (round, events)
    }

    static func service(_ round: @escaping AuditSealingService.Round, clock: ManualClock) -> AuditSealingService {
        AuditSealingService(
            round: round,
            interval: .seconds(1),
            roundDeadline: .seconds(10),
            finalDeadline: .milliseconds(1_500),
            clock: clock,
            logger: quietLogger
        )
    }

    /// Runs `service` while `body` runs, then stops it gracefully; cancels it if `body` throws.
    static func running(_ service: AuditSealingService, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(services: [service], logger: quietLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body()
            } catch {
                tasks.cancelAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
    }

    /// Waits until a backend of the switch's role waits for the sealer's advisory lock. PostgreSQL tells
    /// no one when a lock wait starts, so this looks at pg_stat_activity (bounded).
    static func sealerWaitsForLock(_ bank: TestBank) async throws {
        for _ in 0..<500 {
            let waiting = try await bank.count(
                """
                SELECT count(*)::int FROM pg_stat_activity
                WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'
                  AND usename = 'cashpoint_switch' AND datname = current_database()
                """
            )
            if waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TestFailure("the sealer never waited for its advisory lock")
    }

    /// Runs `body` while a connection of the test's own, as the superuser, holds the sealer's lock
    /// (closing it releases the lock); the connection is closed afterwards.
    static func holdingLock(_ bank: TestBank, _ body: (PostgresConnection) async throws -> Void) async throws {
        let url = bank.adminURL
        let configuration = PostgresConnection.Configuration(
            host: url.host,
            port: url.port,
            username: url.username,
            password: url.password,
            database: url.database,
            tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: quietLogger)
        do {
            try await connection.query("SELECT pg_advisory_lock(\(AuditSealer.lockKey))", logger: quietLogger)
            try await body(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }

    static func audited(_ service: Bank, _ count: Int) async throws {
        for index in 0..<count {
            try await service.store.audit(
                actor: .system("test"),
                action: "test.write",
                outcome: "00",
                details: ["n": "\(index)"]
            )
        }
    }

    @Test(
        "the sealer's backend is terminated in the middle of its transaction: the round fails at once, the next seals"
    )
    func backendTerminated() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let sealer = AuditSealer(client: service.store.client, key: testAuditKey.key, logger: quietLogger)
            let (round, events) = Self.reporting(sealer)
            let clock = ManualClock()
            var next = events.makeAsyncIterator()
            // Holding the sealer's lock stops its first round inside its transaction.
            try await Self.holdingLock(bank) { holder in
                try await Self.running(Self.service(round, clock: clock)) {
                    try await Self.sealerWaitsForLock(bank)
                    let ended = try await bank.count(
                        """
                        SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
                        WHERE wait_event = 'advisory' AND usename = 'cashpoint_switch' AND datname = current_database()
                        """
                    )
                    #expect(ended == 1)
                    // Its ROLLBACK meets a closed connection: it fails instead of waiting for ever. The clock
                    // has not moved, so no deadline ended it.
                    #expect(await next.next() == .failed)
                    try await holder.close()
                    try await Self.audited(service, 3)
                    let written = try await bank.count("SELECT count(*)::int FROM bank.audit_logs")
                    await clock.sleeper(within: .seconds(1))
                    clock.advance(by: .seconds(1))
                    #expect(await next.next() == .sealed(written))
                }
            }
            let report = try await AuditVerifier.verify(
                client: service.store.client,
                key: testAuditKey.key,
                logger: quietLogger
            )
            #expect(report.isClean, "\(report.findings)")
            #expect(report.pending == 0)
        }
    }

    @Test(
        "a partition leaves the sealer's connection silent: the round is abandoned at its deadline and ends; the next seals on a new connection"
    )
    func silentConnection() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let proxy = ChaosProxy(upstreamHost: bank.switchURL.host, upstreamPort: bank.switchURL.port)
            try await proxy.start(port: 0)
            var url = bank.switchURL
            url.port = proxy.port
            try await url.withClient(logger: quietLogger, maximumConnections: 2) { client in
                let sealer = AuditSealer(client: client, key: testAuditKey.key, logger: quietLogger)
                let (round, events) = Self.reporting(sealer)
                let clock = ManualClock()
                var next = events.makeAsyncIterator()
                try await Self.holdingLock(bank) { holder in
                    try await Self.running(Self.service(round, clock: clock)) {
                        try await Self.sealerWaitsForLock(bank)
                        // The lock is granted while nothing passes: the answer never reaches the sealer.
                        proxy.partition()
                        try await holder.close()
                        await clock.sleeper(within: .seconds(10))
                        clock.advance(by: .seconds(10))
                        // Abandoned, the round closes its connection, so its statement fails and the round ends.
                        #expect(await next.next() == .failed)
                        proxy.heal()
                        try await Self.audited(service, 3)
                        let written = try await bank.count("SELECT count(*)::int FROM bank.audit_logs")
                        await clock.sleeper(within: .seconds(1))
                        clock.advance(by: .seconds(1))
                        #expect(await next.next() == .sealed(written))
                    }
                }
            }
            await proxy.stop()
            let report = try await AuditVerifier.verify(
                client: service.store.client,
                key: testAuditKey.key,
                logger: quietLogger
            )
            #expect(report.isClean, "\(report.findings)")
            #expect(report.pending == 0)
        }
    }
}
