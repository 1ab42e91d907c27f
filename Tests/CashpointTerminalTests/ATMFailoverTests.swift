import ATM87
import ATMTestSupport
import CashpointTerminal
import Crypto
import Foundation
import Synchronization
import Testing

/// Several fake switches of one bank, each on its own port: a terminal's list of switches, in memory.
/// A port may be the same fake switch as another (one bank's state: its staff tokens), and a port
/// marked down refuses connections.
final class FakeSwitches: ATMConnector {
    let banks: [Int: FakeSwitch]
    let down = Mutex<Set<Int>>([])

    init(_ banks: [Int: FakeSwitch]) { self.banks = banks }

    /// These ports refuse connections from now on (an open connection is the fake switch's to drop).
    func stop(_ ports: Set<Int>) { self.down.withLock { $0.formUnion(ports) } }

    func connect(host: String, port: Int, deliver: @escaping @Sendable (LinkEvent) -> Void) async throws -> any ATMConnection {
        guard let bank = self.banks[port], !self.down.withLock({ $0.contains(port) }) else {
            throw LinkError("connection refused", kind: .closed)
        }
        return try await bank.connect(host: host, port: port, deliver: deliver)
    }
}

/// The ATM's shell with two switches on a manual clock: a lost link goes to the next switch at once
/// (a customer sees "one moment", never "out of service" while another answers), the queue drains
/// there, and with no switch answering it is out of service and keeps trying in the background.
@Suite("The ATM controller fails over between switches (manual clock)", .timeLimit(.minutes(1)))
struct ATMFailoverTests {
    static let pan = ATMControllerTests.pan
    static let masterKey = ATMControllerTests.masterKey
    static let first = SwitchAddress(host: "127.0.0.1", port: 1)
    static let second = SwitchAddress(host: "127.0.0.1", port: 2)

    /// The ATM with switches a (port 1, first) and b (port 2), once a has signed it on.
    static func with(_ body: (ControllerUnderTest, FakeSwitch, FakeSwitch) async throws -> Void) async throws {
        let a = FakeSwitch(masterKey: Self.masterKey)
        let b = FakeSwitch(masterKey: Self.masterKey)
        var configuration = ATMControllerTests.configuration()
        configuration.switches = [Self.first, Self.second]
        try await ControllerUnderTest.with(
            configuration: configuration,
            masterKey: Self.masterKey,
            connector: FakeSwitches([1: a, 2: b]),
            seed: 11
        ) { (atm) async throws in
            await atm.waitFor("signed on to the switch at 127.0.0.1:1")
            await atm.waitFor("[WELCOME]")
            try await body(atm, a, b)
        }
    }

    /// What was shown after the first welcome screen.
    static func afterFirstWelcome(_ atm: ControllerUnderTest) -> Substring {
        let shown = atm.shown
        guard let welcome = shown.range(of: "[WELCOME]") else { return "" }
        return shown[welcome.upperBound...]
    }

    @Test("the first switch stops: the idle ATM shows one moment, signs on to the second at once (fresh keys), and serves there; never out of service")
    func idleFailover() async throws {
        try await Self.with { (atm, a, b) async throws in
            a.set { $0.reachable = false }
            a.dropConnections()
            await atm.waitFor("signed on to the switch at 127.0.0.1:2")
            await atm.waitFor("[WELCOME]", times: 2)
            // No wait on the clock: the move is at once, not after the retry delay.
            #expect(atm.clock.now.offset == .zero)
            atm.type([.typed(Self.pan), .typed("1234"), .key(.function(.c))])
            await atm.waitFor("[BALANCE INQUIRY]")
            let after = Self.afterFirstWelcome(atm)
            #expect(after.contains("[ONE MOMENT, PLEASE]"))
            #expect(after.contains("* moving from the switch at 127.0.0.1:1 to the one at 127.0.0.1:2"))
            #expect(!after.contains("[SORRY]"))
            #expect(!after.contains("out of service"))
            // The second switch gave fresh keys at a sign-on of its own, and answered the customer.
            #expect(b.received.contains { $0[70] == NetworkManagementCode.signOn.field })
            #expect(b.received.contains { $0.mti == .financialRequest })
            #expect(!a.received.contains { $0.mti == .financialRequest })
            let moved = try #require(try atm.journal.records(kinds: ["link.moving"]).first)
            #expect(moved.detail["from"] == "127.0.0.1:1")
            #expect(moved.detail["to"] == "127.0.0.1:2")
            #expect(try atm.journal.records(kinds: ["link.up"]).map { $0.detail["switch"] } == ["127.0.0.1:1", "127.0.0.1:2"])
            #expect(try atm.journal.records(kinds: ["link.down"]).first?.detail["switch"] == "127.0.0.1:1")
            atm.type([.key(.function(.h)), .take, .quit])
        }
    }

    @Test("a withdrawal in flight when the first switch dies: in doubt, the card back, and the reversal drains on the second before anyone is served")
    func inFlightReversedOnTheSecond() async throws {
        try await Self.with { (atm, a, b) async throws in
            atm.type([.typed(Self.pan), .typed("1234")])
            await atm.waitFor("[MAIN MENU]")
            a.set { $0.cards = .silence }
            atm.type([.key(.function(.a)), .key(.function(.b))])
            await atm.waitFor("[PLEASE WAIT]", times: 2)
            a.set { $0.reachable = false }
            a.dropConnections()
            await atm.waitFor("Your account will not be charged.")
            await atm.waitFor("reversal sent (linkLost): answered 00; done")
            await atm.waitFor("signed on to the switch at 127.0.0.1:2")
            #expect(b.received.contains { $0.mti == .reversalAdvice })
            #expect(!a.received.contains { $0.mti == .reversalAdvice })
            #expect(try atm.journal.safEntries(states: [.queued, .armed]).isEmpty)
            atm.type([.take])
            await atm.waitFor("[WELCOME]", times: 2)
            #expect(!Self.afterFirstWelcome(atm).contains("[SORRY]"))
            #expect(try atm.journal.verify().isIntact)
            atm.type([.quit])
        }
    }

    @Test("no switch answers: out of service after one round, retried in the background every retry delay; the first to come back serves")
    func noneAnswers() async throws {
        try await Self.with { (atm, a, b) async throws in
            b.set { $0.reachable = false }
            a.set { $0.reachable = false }
            a.dropConnections()
            await atm.waitFor("[SORRY]", times: 2)
            await atm.waitFor("no switch answers; the next try, at 127.0.0.1:1")
            // A round in the background: the first refuses, the second at once, then the delay again.
            await atm.advance(.seconds(5))
            await atm.waitFor("no switch answers; the next try, at 127.0.0.1:1", times: 2)
            b.set { $0.reachable = true }
            await atm.advance(.seconds(5))
            await atm.waitFor("signed on to the switch at 127.0.0.1:2")
            await atm.waitFor("[WELCOME]", times: 2)
            // Out of service while none answered; never "one moment" once it was out of service.
            let after = Self.afterFirstWelcome(atm)
            let sorry = try #require(after.range(of: "[SORRY]"))
            #expect(!after[sorry.upperBound...].contains("[ONE MOMENT, PLEASE]"))
            atm.type([.quit])
        }
    }
}
