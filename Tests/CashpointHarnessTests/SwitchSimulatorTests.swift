import ATM87
import CashpointHarness
import CashpointSecurity
import CashpointTerminal
import Crypto
import Testing

/// The switch simulator's core, driven as Cashpoint's own terminal protocol drives a switch: every
/// request built, signed and every answer checked by `TerminalProtocol`, with no socket.
@Suite("The switch simulator's core: sign-on, rules, the bank's answers")
struct SwitchSimulatorTests {
    static let bob = "5555555555554444"

    static func bank() throws -> SimulatedBank {
        try SimulatedBank.load(repositoryFile("fixtures/bank.json"))
    }

    static func terminal(_ bank: SimulatedBank) throws -> TerminalProtocol {
        TerminalProtocol(terminal: "ATM00001", masterKey: try #require(bank.masterKeys["ATM00001"]), firstSTAN: 100)
    }

    static func script(_ text: String) throws -> HostScript {
        try HostScript.parse(text, file: "host.yaml")
    }

    /// The messages the actions write.
    static func sent(_ actions: [SwitchSimulator.Action]) -> [ATM87Message] {
        actions.compactMap { action in
            if case .send(let message, _) = action { return message }
            return nil
        }
    }

    /// A simulator and a terminal signed on to it.
    static func signedOn(_ text: String = "name: plain") throws -> (simulator: SwitchSimulator, terminal: TerminalProtocol) {
        let bank = try Self.bank()
        var simulator = SwitchSimulator(script: try Self.script(text), bank: bank)
        let terminal = try Self.terminal(bank)
        let answers = Self.sent(simulator.received(.message(try terminal.signOnRequest()), connection: 1, at: 0))
        try #require(answers.count == 1)
        let answer = try terminal.acceptSignOn(answers[0])
        #expect(answer[39] == "00" && terminal.keys != nil)
        return (simulator, terminal)
    }

    static func withdrawal(_ terminal: TerminalProtocol, _ amount: Int64, pin: String? = "4321") throws -> ATM87Message {
        try terminal.build(CardRequest(ProcessingCode(.withdrawal), pan: Self.bob, amount: amount, pin: pin))
    }

    @Test("sign-on with the fixture's master key: fresh keys the terminal accepts, MAC checked")
    func signOn() throws {
        _ = try Self.signedOn()
    }

    @Test("no rule: a withdrawal is approved as a bank would, and its reversal puts the money back, once")
    func bankAnswers() throws {
        let signed = try Self.signedOn()
        var simulator = signed.simulator
        let terminal = signed.terminal
        let request = try Self.withdrawal(terminal, 5_000)
        let answer = try terminal.checked(
            try #require(Self.sent(simulator.received(.message(try terminal.signed(request)), connection: 1, at: 1)).first),
            answering: request
        )
        #expect(answer[39] == "00" && answer[38] != nil && answer[62] != nil && answer[48] != nil)
        let account = "CP0000000003"
        #expect(simulator.bank.balances[account] == 75_000)
        let advice = try terminal.reversalAdvice(of: request, dispensed: 0)
        for _ in 1...2 {
            let reversal = Self.sent(simulator.received(.message(try terminal.signed(advice)), connection: 1, at: 2))
            #expect(reversal.first?[39] == "00")
        }
        #expect(simulator.bank.balances[account] == 80_000)
        // The record's lines show no card number, PIN block, token or MAC.
        let lines = simulator.record.entries.map(\.line)
        #expect(lines.count == 8)
        #expect(!lines.contains { $0.contains(Self.bob) || $0.contains("SIM-") || $0.contains("52=") || $0.contains("128=") })
    }

    @Test("a rule on field 3 and an amount above 200.00 answers 51; a smaller amount passes it by")
    func ruleAnswers51() throws {
        let signed = try Self.signedOn(
            """
            rules:
              - {name: big, when: {3: "01*", 4: {gt: 20000}}, code: "51"}
            """
        )
        var simulator = signed.simulator
        let terminal = signed.terminal
        let big = try Self.withdrawal(terminal, 30_000)
        let refused = Self.sent(simulator.received(.message(try terminal.signed(big)), connection: 1, at: 1))
        #expect(try terminal.checked(try #require(refused.first), answering: big)[39] == "51")
        #expect(refused.first?[38] == nil && refused.first?[62] == nil)
        let small = try Self.withdrawal(terminal, 2_000)
        let approved = Self.sent(simulator.received(.message(try terminal.signed(small)), connection: 1, at: 2))
        #expect(try terminal.checked(try #require(approved.first), answering: small)[39] == "00")
        #expect(simulator.uses == [1])
        #expect(simulator.record.requests.map(\.rule) == [nil, "big", nil])
    }

    @Test("delay: no answer now, a timer; when it fires the answer goes to the terminal's connection of then")
    func delay() throws {
        let signed = try Self.signedOn(
            "rules: [{when: {mti: \"0200\"}, delay: 35s, capture: {s: 11}}]"
        )
        var simulator = signed.simulator
        let terminal = signed.terminal
        let request = try Self.withdrawal(terminal, 5_000)
        let actions = simulator.received(.message(try terminal.signed(request)), connection: 1, at: 1)
        #expect(Self.sent(actions).isEmpty)
        let id = try #require(
            actions.compactMap { action -> Int? in
                if case .schedule(let id, .seconds(35)) = action { return id }
                return nil
            }.first
        )
        #expect(simulator.variables["s"] == request[11])
        // The terminal reconnects and signs on again on connection 2 before the answer is due.
        _ = simulator.received(.message(try terminal.signOnRequest()), connection: 2, at: 2)
        simulator.closed(connection: 1, at: 3)
        let late = simulator.delivery(id, at: 35_001)
        let sends = late.compactMap { action -> Int? in
            if case .send(_, let connection) = action { return connection }
            return nil
        }
        #expect(sends == [2])
    }

    @Test("drop closes the connection with no answer; twice answers twice; stop ends the run")
    func dropAndTwice() throws {
        let signed = try Self.signedOn(
            """
            rules:
              - {when: {4: "000000001000"}, drop: true, stop: true}
              - {when: {mti: "0200"}, twice: true}
            """
        )
        var simulator = signed.simulator
        let terminal = signed.terminal
        let dropped = simulator.received(.message(try terminal.signed(try Self.withdrawal(terminal, 1_000))), connection: 1, at: 1)
        #expect(Self.sent(dropped).isEmpty)
        #expect(dropped.contains { if case .close(1) = $0 { return true } else { return false } })
        #expect(dropped.contains { if case .stop = $0 { return true } else { return false } })
        let twice = simulator.received(.message(try terminal.signed(try Self.withdrawal(terminal, 2_000))), connection: 1, at: 2)
        #expect(Self.sent(twice).count == 2)
    }

    @Test("mac: wrong and stan: wrong give answers the terminal must refuse")
    func spoiled() throws {
        for spoil in ["mac: wrong", "stan: wrong"] {
            let signed = try Self.signedOn("rules: [{when: {mti: \"0200\"}, \(spoil)}]")
            var simulator = signed.simulator
            let terminal = signed.terminal
            let request = try Self.withdrawal(terminal, 2_000)
            let answer = try #require(Self.sent(simulator.received(.message(try terminal.signed(request)), connection: 1, at: 1)).first)
            #expect(throws: LinkError.self) { try terminal.checked(answer, answering: request) }
        }
    }

    @Test("a request with a wrong MAC is answered 63; a terminal that never signed on 58; a wrong PIN 55")
    func refusals() throws {
        let signed = try Self.signedOn()
        var simulator = signed.simulator
        let terminal = signed.terminal
        let request = try Self.withdrawal(terminal, 2_000)
        let forged = try MessageAuthentication.sign(request, key: SymmetricKey(size: .bits256))
        #expect(Self.sent(simulator.received(.message(forged), connection: 1, at: 1)).first?[39] == "63")
        let wrongPIN = try Self.withdrawal(terminal, 2_000, pin: "9999")
        #expect(Self.sent(simulator.received(.message(try terminal.signed(wrongPIN)), connection: 1, at: 2)).first?[39] == "55")
        let stranger = TerminalProtocol(terminal: "ATM00002", masterKey: SymmetricKey(size: .bits256))
        let echo = try stranger.networkRequest(.echo)
        #expect(Self.sent(simulator.received(.message(echo), connection: 2, at: 3)).first?[39] == "58")
        let garbage = simulator.garbage(connection: 2, "a frame over 8,192 bytes", at: 4)
        #expect(garbage.contains { if case .close(2) = $0 { return true } else { return false } })
    }
}

@Suite("Host scripts: read whole, every mistake named with its line and column")
struct HostScriptTests {
    @Test(
        "fixtures/simulator scripts read",
        arguments: ["timeout-reversal", "late-answer", "cash-not-taken", "host-down", "host-back"]
    )
    func fixtures(name: String) throws {
        let script = try HostScript.load(repositoryFile("fixtures/simulator/\(name).yaml"))
        #expect(!script.expectations.isEmpty)
    }

    @Test("a misspelt key, an unknown field, a bad duration, a bad code: each an error at its place")
    func mistakes() {
        let cases: [(String, HostScriptError.Code, String)] = [
            ("rules:\n  - name: r\n    whne: {3: \"01*\"}\n", .unknownKey, "host.yaml:3:5"),
            ("rules:\n  - when: {nosuchfield: \"1\"}\n", .unknownField, "host.yaml:2:12"),
            ("rules:\n  - delay: soon\n", .badValue, "host.yaml:2:12"),
            ("rules:\n  - code: \"5\"\n", .badValue, "host.yaml:2:11"),
            ("expcet: []\n", .unknownKey, "host.yaml:1:1"),
            ("expect:\n  - {count: many}\n", .badValue, "host.yaml:2:13"),
            ("rules: [{drop: true, delay: 1s}]\n", .badValue, "host.yaml:1:9"),
            ("rules: {not: a list}\n", .badValue, "host.yaml:1:8"),
            ("expect:\n  - {name: b, mti: \"0210\", after: a}\n", .badValue, "host.yaml:2:35"),
            ("expect:\n  - {name: b, after: b}\n", .badValue, "host.yaml:2:22"),
        ]
        for (text, code, location) in cases {
            let error = #expect(throws: HostScriptError.self) { try HostScript.parse(text, file: "host.yaml") }
            #expect(error?.code == code, "\(text)")
            #expect(error?.location == location, "\(text): \(error.map { "\($0)" } ?? "no error")")
        }
    }

    @Test("a value with * is a pattern: 01* takes 010000 and not 310000")
    func glob() throws {
        let script = try HostScript.parse("rules: [{when: {3: \"01*\", 90: \"0200${s}*\"}}]", file: "host.yaml")
        let when = try #require(script.rules.first?.when)
        #expect(when["3"]?.matches == "01.*")
        #expect(when["90"]?.matches == "0200${s}.*")
    }
}

@Suite("Host expectations in order: `after` an earlier expectation")
struct HostExpectationOrderTests {
    static let script = """
        expect:
          - {name: the advice, mti: "0420"}
          - {name: the late answer, sent: true, mti: "0210", after: the advice}
        """

    static func results(_ kinds: [(SimulatorRecord.Entry.Kind, MTI)]) throws -> [HostExpectationResult] {
        let record = SimulatorRecord(
            entries: kinds.enumerated().map { index, entry in
                SimulatorRecord.Entry(at: Int64(index), connection: 1, terminal: "ATM00001", kind: entry.0, message: ATM87Message(mti: entry.1))
            }
        )
        return HostExpectationCheck.check(try HostScript.parse(Self.script, file: "host.yaml").expectations, record: record, variables: [:])
    }

    @Test("the answer after the advice passes; before it, or with no advice at all, fails and says which")
    func order() throws {
        #expect(try Self.results([(.received, .reversalAdvice), (.sent, .financialResponse)]).allSatisfy(\.passed))
        let early = try Self.results([(.sent, .financialResponse), (.received, .reversalAdvice), (.sent, .financialResponse)])
        #expect(early.map(\.passed) == [true, false])
        #expect(early[1].problems.first?.hasPrefix("expected after ") == true)
        #expect(early[1].problems.first?.contains("(the advice), but came before it:") == true)
        #expect(early[1].problems.count == 2, "only the answer before the advice is listed")
        let none = try Self.results([(.sent, .financialResponse)])
        #expect(none.map(\.passed) == [false, false])
        #expect(none[1].problems == ["expected after the first of requests 0420 (the advice), but there is none"])
    }
}

/// The end-of-run expectations of the fixtures' host scripts against records made by driving the core:
/// each passes for a terminal that behaves, and fails for the defect it is there to catch.
@Suite("The expectations of fixtures/simulator fail on the defects they are for")
struct HostExpectationTests {
    /// The record of a withdrawal under `script`, then the given reversal advices of it.
    static func record(
        _ name: String,
        advices: (TerminalProtocol, ATM87Message) throws -> [ATM87Message]
    ) throws -> [HostExpectationResult] {
        let script = try HostScript.load(repositoryFile("fixtures/simulator/\(name).yaml"))
        let bank = try SwitchSimulatorTests.bank()
        var simulator = SwitchSimulator(script: script, bank: bank)
        let terminal = try SwitchSimulatorTests.terminal(bank)
        try terminal.acceptSignOn(
            try #require(SwitchSimulatorTests.sent(simulator.received(.message(try terminal.signOnRequest()), connection: 1, at: 0)).first)
        )
        let request = try SwitchSimulatorTests.withdrawal(terminal, 5_000)
        _ = simulator.received(.message(try terminal.signed(request)), connection: 1, at: 1)
        for advice in try advices(terminal, request) {
            _ = simulator.received(.message(try terminal.signed(advice)), connection: 1, at: 2)
        }
        return HostExpectationCheck.check(script.expectations, record: simulator.record, variables: simulator.variables)
    }

    static func failed(_ results: [HostExpectationResult]) -> [String] { results.filter { !$0.passed }.map(\.name) }

    @Test("timeout-reversal: one 0420 passes; a repeat (0421) of the advice the host answered fails")
    func oneReversal() throws {
        #expect(Self.failed(try Self.record("timeout-reversal") { t, r in [try t.reversalAdvice(of: r, dispensed: 0)] }) == [])
        let repeated = try Self.record("timeout-reversal") { t, r in
            let first = try t.reversalAdvice(of: r, dispensed: 0)
            return [first, try t.reversalAdvice(of: r, dispensed: 0, repeatOf: first)]
        }
        #expect(Self.failed(repeated) == ["no repeat (0421) of the answered advice"])
    }

    @Test("timeout-reversal: a reversal sent twice (two 0420s) fails, and so do two repeats")
    func reversalSentTwice() throws {
        let twice = try Self.record("timeout-reversal") { t, r in
            [try t.reversalAdvice(of: r, dispensed: 0), try t.reversalAdvice(of: r, dispensed: 0)]
        }
        #expect(Self.failed(twice) == ["one reversal advice (0420) for the withdrawal"])
        let failure = try #require(twice.first { !$0.passed })
        #expect(failure.problems.first?.hasPrefix("expected exactly 1 of reversal advices (0420/0421) of STAN") == true)
        let repeats = try Self.record("timeout-reversal") { t, r in
            let first = try t.reversalAdvice(of: r, dispensed: 0)
            let again = try t.reversalAdvice(of: r, dispensed: 0, repeatOf: first)
            return [first, again, again]
        }
        #expect(Self.failed(repeats) == ["no repeat (0421) of the answered advice"])
    }

    @Test("timeout-reversal: no reversal at all fails; one that says cash was dispensed fails")
    func noOrPartialReversal() throws {
        let none = try Self.record("timeout-reversal") { _, _ in [] }
        #expect(Self.failed(none).contains("one reversal advice (0420) for the withdrawal"))
        let partial = try Self.record("timeout-reversal") { t, r in [try t.reversalAdvice(of: r, dispensed: 2_000)] }
        #expect(Self.failed(partial) == ["every advice for it names the original, its amount, and no cash dispensed"])
    }

    @Test("cash-not-taken: a shell whose cash-take timer never fires sends no reversal, and fails")
    func cashNotTaken() throws {
        #expect(Self.failed(try Self.record("cash-not-taken") { t, r in [try t.reversalAdvice(of: r, dispensed: 0)] }) == [])
        #expect(Self.failed(try Self.record("cash-not-taken") { _, _ in [] }).contains("the withdrawal reversed, once"))
    }

    @Test("host-back: without --var s the run fails, naming the variable")
    func unsetVariable() throws {
        let script = try HostScript.load(repositoryFile("fixtures/simulator/host-back.yaml"))
        let results = HostExpectationCheck.check(script.expectations, record: SimulatorRecord(), variables: [:])
        #expect(results.first?.passed == false)
        #expect(results.first?.problems.first?.contains("${s} is not set") == true)
    }
}
