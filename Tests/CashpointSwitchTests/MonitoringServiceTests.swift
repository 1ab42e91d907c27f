import ATMTestSupport
import CashpointBank
import CashpointDatabase
import CashpointHarness
import CashpointStore
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Transaction monitoring's worker (`MonitoringService`) over a real bank: on a manual clock, it drains
/// the queue in rounds, sleeps, wakes for the next postings and stops at graceful shutdown; and the
/// structuring script played over the wire at a switch with the rules in force ends in an alert and a
/// case.
@Suite("transaction monitoring's worker", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct MonitoringServiceTests {
    static let bob = "5555555555554444"

    static func rules() throws -> MonitoringRuleSet {
        try MonitoringRules.parse(
            yaml: try String(contentsOf: repositoryRoot.appendingPathComponent("fixtures/aml-rules.yaml"), encoding: .utf8)
        )
    }

    /// Puts fixtures/aml-rules.yaml in force at `bank` (a switch test's `before`).
    static func loadRules(_ bank: TestBank) async throws {
        let rules = try Self.rules()
        try await bank.switchURL.withClient(logger: quietLogger) { client in
            _ = try await BankStore(client: client, logger: quietLogger).loadMonitoringRules(
                rules,
                source: "aml-rules.yaml",
                maker: nil,
                reason: nil,
                actor: .system("test")
            )
        }
    }

    /// Stops the switch and examines what its worker had not reached: the switch's worker examines
    /// postings after commit; once it has stopped, whatever it had not reached is examined here by the
    /// same round, so a check does not depend on timing. Start the switch again after.
    static func drain(_ under: SwitchUnderTest) async throws {
        try await under.current.stop()
        try await under.bank.switchURL.withClient(logger: quietLogger) { client in
            let store = BankStore(client: client, logger: quietLogger)
            while try await store.monitor(limit: 100).remaining > 0 {}
        }
    }

    static func deposit(_ service: Bank, _ keys: KeyMaker, amount: Int64) async throws -> ResponseCode {
        let result = try await service.authenticateCard(service.present(pan: Self.bob), pin: "4321", terminal: keys.terminal, ip: nil)
        guard case .approved(let holder) = result else { throw TestFailure("bob's card refused: \(result)") }
        return try await service.perform(
            .deposit(amount: amount, account: nil),
            for: holder,
            card: service.present(pan: Self.bob),
            key: keys.next(),
            ip: nil
        ).code
    }

    @Test("on a manual clock: rounds of two until the queue is empty, then it sleeps; the next posting joins the alert; shutdown ends it")
    func workerOnManualClock() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let store = service.store
            _ = try await store.loadMonitoringRules(
                try Self.rules(),
                source: "aml-rules.yaml",
                maker: nil,
                reason: nil,
                actor: .system("test")
            )
            let keys = KeyMaker(terminal: "ATM00002")
            for _ in 0..<3 { #expect(try await Self.deposit(service, keys, amount: 350_000) == .approved) }
            let clock = ManualClock()
            let rounds = RoundCounter()
            let worker = MonitoringService(
                round: {
                    rounds.add()
                    return try await store.monitor(limit: 2)
                },
                interval: .seconds(1),
                clock: clock,
                logger: quietLogger
            )
            let group = ServiceGroup(services: [worker], logger: quietLogger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                // Two rounds (2 rows, then 1), then asleep for the interval.
                await clock.sleeper(within: .seconds(1))
                #expect(rounds.value == 2)
                #expect(try await bank.count("SELECT count(*)::int FROM bank.monitoring_queue") == 0)
                #expect(
                    try await bank.count(
                        """
                        SELECT count(*)::int FROM bank.alerts a JOIN bank.cases c ON c.id = a.case_id
                        WHERE a.rule_id = 'structuring-deposits' AND cardinality(a.transaction_ids) = 3
                          AND c.status = 'open' AND c.severity = 'high'
                        """
                    ) == 1
                )
                // A fourth deposit waits for the next round, one interval later.
                #expect(try await Self.deposit(service, keys, amount: 100_000) == .approved)
                #expect(try await bank.count("SELECT count(*)::int FROM bank.monitoring_queue") == 1)
                clock.advance(by: .seconds(1))
                await clock.sleeper(within: .seconds(1))
                #expect(rounds.value == 3)
                #expect(try await bank.count("SELECT count(*)::int FROM bank.alerts") == 1)
                #expect(try await bank.count("SELECT cardinality(transaction_ids) FROM bank.alerts") == 4)
                await group.triggerGracefulShutdown()
                try await tasks.next()
            }
            #expect(rounds.value == 3, "no round after the shutdown")
        }
    }

    @Test("a cash-out ring from the load client: one terminal, six cards in turn, each a new card session; the worker alerts for the terminal")
    func cashOutRingFromTheLoad() async throws {
        var ring = try Self.rules()
        ring.rules = ring.rules.filter { $0.id == "cash-out-ring" }
        let rules = ring
        let loadBank = try JSONDecoder().decode(BankFixture.self, from: try LoadBank.fixtureJSON(terminals: 6))
        try await SwitchUnderTest.with(fixture: loadBank, before: { bank in
            try await bank.switchURL.withClient(logger: quietLogger) { client in
                _ = try await BankStore(client: client, logger: quietLogger).loadMonitoringRules(
                    rules, source: "aml-rules.yaml", maker: nil, reason: nil, actor: .system("test")
                )
            }
        }) { under in
            let terminals = try SwitchLoad.terminals(1, from: loadBank, cardsPerTerminal: 6)
            #expect(terminals.count == 1 && Set(terminals[0].cards.map(\.pan)).count == 6)
            let load = SwitchLoad(
                switches: [SwitchAddress(host: "127.0.0.1", port: under.port)],
                terminals: terminals,
                mix: try LoadMix(parsing: "withdrawal=1"),
                duration: .seconds(3),
                warmup: .zero
            )
            let report = try await load.run()
            #expect(report.requests >= 6 && report.codes["00"] == report.requests, "every card has withdrawn at least once: \(report.codes)")
            try await under.current.stop()
            try await under.bank.switchURL.withClient(logger: quietLogger) { client in
                let store = BankStore(client: client, logger: quietLogger)
                while try await store.monitor(limit: 100).remaining > 0 {}
            }
            #expect(
                try await under.bank.count(
                    """
                    SELECT count(*)::int FROM bank.alerts a JOIN bank.cases c ON c.id = a.case_id
                    WHERE a.rule_id = 'cash-out-ring' AND a.subject = 'terminal:\(terminals[0].id)'
                      AND c.subject = a.subject
                    """
                ) == 1
            )
            try await under.startAgain()
        }
    }

    @Test("aml-structuring.yaml over the wire, the rules in force: each deposit 00, then an alert and a case for Bob")
    func structuringScript() async throws {
        try await SwitchUnderTest.with(before: Self.loadRules) { under in
            #expect(try await under.play("aml-structuring.yaml") == [])
            try await Self.drain(under)
            #expect(
                try await under.bank.count(
                    """
                    SELECT count(*)::int FROM bank.alerts a JOIN bank.cases c ON c.id = a.case_id
                    JOIN bank.users u ON u.id = c.customer_id
                    WHERE a.rule_id = 'structuring-deposits' AND u.user_name = 'bob' AND a.amount = 1050000
                      AND cardinality(a.transaction_ids) = 3
                    """
                ) == 1
            )
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.alerts") == 1)
            try await under.startAgain()
        }
    }
}

/// How many rounds a worker ran.
final class RoundCounter: Sendable {
    let count = Mutex(0)
    func add() { self.count.withLock { $0 += 1 } }
    var value: Int { self.count.withLock { $0 } }
}
