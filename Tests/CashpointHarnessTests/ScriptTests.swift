import ATM87
import CashpointHarness
import CashpointSecurity
import Crypto
import Foundation
import Testing

#if canImport(FoundationXML)
import FoundationXML
#endif

/// The script engine's pure parts: the schema in YAML and JSON, `${...}`, expectations, pairing
/// answers with requests, the terminal's state, and the reports.
@Suite("Harness scripts")
struct ScriptTests {
    static let yaml = """
        name: demo
        terminal: ATM00001
        variables: {pan: "4761739001010119", amount: 2000}
        steps:
          - action: signOn
            expect: {39: "00", 120: "*"}
          - name: cash
            action: card
            kind: withdrawal
            pan: ${pan}
            pin: 1234
            amount: ${amount}
            capture: {rrn: 37, balance: 54}
            within: 2s
            expect:
              39: "00"
              Retrieval reference number: {matches: "[0-9]{12}"}
              4: "*E"
              54: {lt: 1000000, change: {since: before, by: -2000}}
          - action: send
            mti: "0800"
            fields: {70: "301"}
            mac: false
          - {action: wait, duration: 500ms}
          - {action: expectNoAnswer, within: 1s}
        """

    static let json = """
        {"name": "demo", "terminal": "ATM00001", "variables": {"pan": "4761739001010119", "amount": 2000},
         "steps": [
          {"action": "signOn", "expect": {"39": "00", "120": "*"}},
          {"name": "cash", "action": "card", "kind": "withdrawal", "pan": "${pan}", "pin": "1234", "amount": "${amount}",
           "capture": {"rrn": "37", "balance": "54"}, "within": "2s",
           "expect": {"39": "00", "Retrieval reference number": {"matches": "[0-9]{12}"}, "4": "*E",
                      "54": {"lt": 1000000, "change": {"since": "before", "by": -2000}}}},
          {"action": "send", "mti": "0800", "fields": {"70": "301"}, "mac": false},
          {"action": "wait", "duration": "500ms"},
          {"action": "expectNoAnswer", "within": "1s"}
         ]}
        """

    @Test("48.TAG.N is the N-th |-separated part of an element: a case's number in CASES; past the end absent; N from 1")
    func elementParts() throws {
        var answer = ATM87Message(mti: .administrativeResponse)
        try answer.set(48, ATM87TLV([.init("KE", "7|high|open|customer:2|bob||20270115070000|1||structuring-deposits")]).encoded)
        #expect(try ScriptCheck.value(of: "48.KE.1", in: answer) == "7")
        #expect(try ScriptCheck.value(of: "48.KE.6", in: answer) == "")
        #expect(try ScriptCheck.value(of: "48.KE.10", in: answer) == "structuring-deposits")
        #expect(try ScriptCheck.value(of: "48.KE.11", in: answer) == nil)
        #expect(try ScriptCheck.value(of: "48.KF.1", in: answer) == nil)
        #expect(try ScriptCheck.value(of: "48.KE", in: answer)?.hasPrefix("7|high|") == true)
        #expect(throws: ScriptError.self) { try ScriptCheck.value(of: "48.KE.0", in: answer) }
        #expect(throws: ScriptError.self) { try ScriptCheck.value(of: "48.KE.x", in: answer) }
        #expect(try ScriptCheck.value(of: "48.KE.1.2", in: answer) == nil)
    }

    @Test("a script reads the same from YAML and from JSON")
    func yamlAndJSONAgree() throws {
        let fromYAML = try Script.parse(Self.yaml, yaml: true)
        let fromJSON = try Script.parse(Self.json, yaml: false)
        #expect(fromYAML.name == "demo")
        #expect(fromYAML.steps.count == 5)
        #expect(fromYAML.variables == fromJSON.variables)
        for (a, b) in zip(fromYAML.steps, fromJSON.steps) {
            #expect(a.action == b.action)
            #expect(a.expect == b.expect)
            #expect(a.capture == b.capture)
            #expect(a.pin == b.pin)
            #expect(a.amount == b.amount)
            #expect(a.mac == b.mac)
            #expect(a.within == b.within)
        }
        let cash = fromYAML.steps[1]
        #expect(cash.expect?["4"] == FieldExpectation(echo: true))
        #expect(cash.expect?["39"] == FieldExpectation(equals: "00"))
        #expect(cash.expect?["54"] == FieldExpectation(lt: "1000000", change: .init(since: "before", by: "-2000")))
        #expect(fromYAML.steps[2].mac == Script.MACMode.none)
    }

    @Test("YAML scalars stay the text written: 00, 0123 and 0200 are not numbers")
    func yamlScalars() throws {
        let script = try Script.parse(
            "steps: [{action: card, pin: 0123, mti: 0200, amount: 100, expect: {39: 00, 4: 000000000100}}]",
            yaml: true
        )
        let step = try #require(script.steps.first)
        #expect(step.pin == "0123")
        #expect(step.mti == "0200")
        #expect(step.amount == "100")
        #expect(step.expect?["39"] == "00")
        #expect(step.expect?["4"] == "000000000100")
    }

    @Test("a PIN never appears in an error about it")
    func pinNotRepeated() {
        let error = #expect(throws: ScriptError.self) {
            try ScriptValues.substitute("${pinBlock(9876)}", variables: [:])
        }
        #expect(error?.detail.contains("9876") == false)
    }

    @Test("a script that breaks the schema is refused with where and what")
    func badScripts() throws {
        let noAction = #expect(throws: ScriptError.self) { try Script.parse("steps: [{name: x}]", yaml: true) }
        #expect(noAction?.code == .unreadable)
        #expect(noAction?.detail.contains("action") == true)
        let emptyCheck = #expect(throws: ScriptError.self) {
            try Script.parse(#"{"steps": [{"action": "echo", "expect": {"39": {}}}]}"#, yaml: false)
        }
        #expect(emptyCheck?.detail.contains("at least one check") == true)
        let badMAC = #expect(throws: ScriptError.self) {
            try Script.parse("steps: [{action: echo, mac: sometimes}]", yaml: true)
        }
        #expect(badMAC?.detail.contains("mac is") == true)
    }

    @Test("includes put the included steps in place; a cycle is refused")
    func includes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("scripts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "steps: [{action: signOn}, {action: echo}]".write(
            to: directory.appendingPathComponent("sign-on.yaml"),
            atomically: true,
            encoding: .utf8
        )
        try #"{"name": "main", "terminal": "ATM00001", "steps": [{"include": "sign-on.yaml"}, {"action": "signOff"}]}"#
            .write(to: directory.appendingPathComponent("main.json"), atomically: true, encoding: .utf8)
        let script = try Script.load(directory.appendingPathComponent("main.json").path)
        #expect(script.steps.map(\.action) == ["signOn", "echo", "signOff"])

        try "terminal: ATM00001\nsteps: [{include: b.yaml}]".write(
            to: directory.appendingPathComponent("a.yaml"),
            atomically: true,
            encoding: .utf8
        )
        try "steps: [{include: a.yaml}]".write(
            to: directory.appendingPathComponent("b.yaml"),
            atomically: true,
            encoding: .utf8
        )
        let cycle = #expect(throws: ScriptError.self) {
            try Script.load(directory.appendingPathComponent("a.yaml").path)
        }
        #expect(cycle?.code == .includeCycle)
    }

    @Test("every script of fixtures/sequences, sequences-failing and sequences-load reads")
    func fixturesRead() throws {
        for folder in ["fixtures/sequences", "fixtures/sequences-failing", "fixtures/sequences-load"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: repositoryFile(folder))
                .filter { $0.hasSuffix(".json") || $0.hasSuffix(".yaml") }
            #expect(!names.isEmpty)
            for name in names {
                let script = try Script.load(repositoryFile("\(folder)/\(name)"))
                #expect(!script.steps.isEmpty, "\(name)")
                if !name.hasPrefix("_") { #expect(!script.terminal.isEmpty, "\(name)") }
            }
        }
    }

    @Test("${...}: variables, the $${ escape, an unknown name, an unclosed brace, a function call")
    func substitution() throws {
        let variables = ["rrn": "000000000042", "pan": "4761739001010119"]
        #expect(
            try ScriptValues.substitute("R=${rrn}; ${ pan }", variables: variables)
                == "R=000000000042; 4761739001010119"
        )
        #expect(try ScriptValues.substitute("cost $5, $${rrn}", variables: variables) == "cost $5, ${rrn}")
        let unknown = #expect(throws: ScriptError.self) { try ScriptValues.substitute("${auth}", variables: variables) }
        #expect(unknown?.code == .unknownVariable)
        #expect(unknown?.detail.contains("pan, rrn") == true)
        #expect(throws: ScriptError.self) { try ScriptValues.substitute("${rrn", variables: variables) }
        #expect(ScriptValues.call("pinBlock(1234, 4761739001010119)")?.name == "pinBlock")
        #expect(ScriptValues.call("pinBlock(1234, 4761739001010119)")?.arguments == ["1234", "4761739001010119"])
        #expect(ScriptValues.call("pan") == nil)
        #expect(
            try ScriptValues.substitute("${luhn(${bin}123456789)}", variables: ["bin": "476173"]) == "4761731234567890"
        )
        #expect(throws: ScriptError.self) { try ScriptValues.substitute("${luhn(12a)}", variables: [:]) }
    }

    @Test("durations and field names")
    func durationsAndNames() throws {
        #expect(try ScriptDuration.parse("500ms") == .milliseconds(500))
        #expect(try ScriptDuration.parse("1.5s") == .milliseconds(1500))
        #expect(try ScriptDuration.parse("2") == .seconds(2))
        #expect(try ScriptDuration.parse("1m") == .seconds(60))
        #expect(throws: ScriptError.self) { try ScriptDuration.parse("soon") }
        #expect(throws: ScriptError.self) { try ScriptDuration.parse("1e30s") }
        #expect(throws: ScriptError.self) { try ScriptDuration.parse("-1s") }
        #expect(ScriptDuration.text(.milliseconds(12)) == "12 ms")
        #expect(ScriptDuration.text(.milliseconds(2_314)) == "2.31 s")
        #expect(try ScriptFieldName.number("39") == 39)
        #expect(try ScriptFieldName.number("Response code") == 39)
        #expect(try ScriptFieldName.number("retrieval_reference_number") == 37)
        #expect(try ScriptFieldName.number("primaryAccountNumber") == 2)
        let unknown = #expect(throws: ScriptError.self) { try ScriptFieldName.number("colour") }
        #expect(unknown?.code == .unknownField)
        #expect(throws: ScriptError.self) { try ScriptFieldName.number("5") }
    }

    // MARK: Expectations

    static func request() throws -> ATM87Message {
        try ATM87Message(
            mti: .financialRequest,
            fields: [2: "4761739001010119", 3: "010000", 4: "000000010000", 11: "000123", 41: "ATM00001"]
        )
    }

    static func answer(_ extra: [Int: String] = [:]) throws -> ATM87Message {
        var fields: [Int: String] = [
            2: "4761739001010119", 3: "010000", 4: "000000010000", 11: "000123", 37: "000000000042", 38: "A1B2C3",
            39: "00", 41: "ATM00001", 48: "AN012CP0000000001BL013C000000050000", 54: "0001978C000000240000",
        ]
        fields.merge(extra) { _, new in new }
        return try ATM87Message(mti: .financialResponse, fields: fields)
    }

    static func check(
        _ expect: [String: FieldExpectation],
        variables: [String: String] = [:]
    ) throws -> [ScriptDifference] {
        ScriptCheck.check(try answer(), request: try request(), expect: expect, variables: variables)
    }

    @Test("equals, present, absent, regex: what passes passes, what differs says what and how")
    func basicChecks() throws {
        #expect(try Self.check(["39": "00", "37": "*", "44": "-", "mti": "0210", "48.AN": "CP0000000001"]).isEmpty)
        #expect(try Self.check(["38": FieldExpectation(matches: "[0-9A-F]{6}")]).isEmpty)
        let differences = try Self.check([
            "39": "51", "44": "*", "37": "-", "38": FieldExpectation(matches: "[0-9]{6}"),
        ])
        #expect(
            differences.map(\.description) == [
                #"field 39: expected "51", got "00" (approved)"#,
                #"field 37: expected absent, got "000000000042""#,
                #"field 38: expected a match for /[0-9]{6}/, got "A1B2C3""#,
                "field 44: expected present, got absent",
            ]
        )
    }

    @Test("a difference in the PAN or a secret field never prints it")
    func maskedDifferences() throws {
        let pan = try Self.check(["2": "4000000000000002"])
        #expect(pan.map(\.description) == [#"field 2: expected "400000******0002", got "476173******0119""#])
        let token = ScriptCheck.check(
            try Self.answer([62: "secret.token.value"]),
            request: nil,
            expect: ["62": "other"],
            variables: [:]
        )
        #expect(token.map(\.description) == ["field 62: expected <redacted 5 chars>, got <redacted 18 chars>"])
        #expect(!token.description.contains("secret"))
    }

    @Test("*E: the answer carries the request's value, or lacks the field as the request did")
    func echo() throws {
        #expect(try Self.check(["2": "*E", "4": "*E", "11": "*E", "102": "*E"]).isEmpty)
        let changed = ScriptCheck.check(
            try Self.answer([4: "000000020000"]),
            request: try Self.request(),
            expect: ["4": "*E"],
            variables: [:]
        )
        #expect(
            changed.map(\.description) == [
                #"field 4: expected the request's "000000010000" echoed, got "000000020000""#
            ]
        )
        let noRequest = ScriptCheck.check(try Self.answer(), request: nil, expect: ["4": "*E"], variables: [:])
        #expect(noRequest.count == 1)
    }

    @Test("numeric comparisons read field 54, C/D amounts and digits")
    func numeric() throws {
        #expect(ScriptCheck.amount("0001978C000000240000") == 240_000)
        #expect(ScriptCheck.amount("0001978D000000000500") == -500)
        #expect(ScriptCheck.amount("C000000050000") == 50_000)
        #expect(ScriptCheck.amount("D000000050000") == -50_000)
        #expect(ScriptCheck.amount("000000010000") == 10_000)
        #expect(ScriptCheck.amount("-2000") == -2_000)
        #expect(ScriptCheck.amount("CP0000000001") == nil)
        #expect(
            try Self.check(["54": FieldExpectation(le: "240000", gt: "0"), "4": FieldExpectation(eq: "10000")]).isEmpty
        )
        #expect(
            try Self.check(
                ["48.BL": FieldExpectation(lt: "${limit}", ge: "C000000050000")],
                variables: ["limit": "60000"]
            ).isEmpty
        )
        let differences = try Self.check(["54": FieldExpectation(lt: "240000"), "4": FieldExpectation(ne: "10000")])
        #expect(differences.map(\.key) == ["4", "54"])
        #expect(differences.last?.expected == "an amount < 240000")
        let notAmount = try Self.check(["54": FieldExpectation(gt: "lots")])
        #expect(notAmount.first?.actual.contains("not an amount") == true)
    }

    @Test("a balance change since a captured value")
    func balanceChange() throws {
        let since = ["before": "0001978C000000250000"]
        #expect(
            try Self.check(["54": FieldExpectation(change: .init(since: "before", by: "-10000"))], variables: since)
                .isEmpty
        )
        let wrong = try Self.check(
            ["54": FieldExpectation(change: .init(since: "before", by: "-5000"))],
            variables: since
        )
        #expect(
            wrong.map(\.description) == [
                "field 54: expected 245000 (a change of -5000 since before), got 240000 (a change of -10000)"
            ]
        )
        let huge = try Self.check(
            ["54": FieldExpectation(change: .init(since: "before", by: "9223372036854775807"))],
            variables: since
        )
        #expect(huge.first?.actual.contains("not amounts") == true)
        let uncaptured = try Self.check(["54": FieldExpectation(change: .init(since: "never", by: "0"))])
        #expect(uncaptured.first?.actual.contains("never captured") == true)
    }

    @Test("the answer within a time")
    func within() throws {
        let late = ScriptCheck.check(
            try Self.answer(),
            request: nil,
            expect: [:],
            variables: [:],
            elapsed: .milliseconds(1500),
            within: .seconds(1)
        )
        #expect(late.map(\.description) == ["time: expected an answer within 1.00 s, got the answer after 1.50 s"])
        let onTime = ScriptCheck.check(
            try Self.answer(),
            request: nil,
            expect: [:],
            variables: [:],
            elapsed: .milliseconds(200),
            within: .seconds(1)
        )
        #expect(onTime.isEmpty)
    }

    // MARK: Pairing answers with requests

    @Test("an answer with another STAN is unmatched, not the answer; one to a timed-out request is late")
    func matcher() throws {
        var matcher = AnswerMatcher()
        let first = try Self.request()
        var second = try Self.request()
        try second.set(11, "000124")
        matcher.sent(step: 3, request: first)
        #expect(matcher.waiting?.responseMTI == .financialResponse)
        let stray = try ATM87Message(mti: .financialResponse, fields: [11: "999999", 39: "00"])
        #expect(matcher.received(stray) == .unmatched)
        #expect(matcher.waiting != nil)
        matcher.timeout()
        #expect(matcher.waiting == nil)
        matcher.sent(step: 4, request: second)
        let late = try ATM87Message(mti: .financialResponse, fields: [11: "000123", 39: "00"])
        #expect(matcher.received(late) == .late(step: 3))
        let own = try ATM87Message(mti: .financialResponse, fields: [11: "000124", 39: "00"])
        #expect(matcher.received(own) == .answer)
        // Nothing is awaited: a second copy is unmatched, and a late answer is late only once.
        #expect(matcher.received(own) == .unmatched)
        #expect(matcher.received(late) == .unmatched)
        // Raw bytes that do not decode have no STAN: any answer is theirs.
        matcher.sent(step: 5, request: nil)
        #expect(matcher.received(stray) == .answer)
        #expect(AnswerMatcher.responseMTI(of: .reversalAdviceRepeat) == .reversalResponse)
    }

    // MARK: The terminal's state

    @Test("sign-on: keys taken from an answer whose MAC verifies under them, refused otherwise; sign-off forgets them")
    func terminalKeys() throws {
        let master = SymmetricKey(size: .bits256)
        var terminal = ScriptTerminal(terminal: "ATM00001", masterKey: master, firstSTAN: 41)
        let stamp = terminal.stamp(now: Date(timeIntervalSince1970: 1_764_000_000))
        #expect(stamp.stan == "000041")
        let signOn = try terminal.sign(try terminal.network("001", stamp))
        #expect(MessageAuthentication.verify(signOn, key: SignOnKey.derive(from: master)) == nil)

        let keys = SessionKeys.generate()
        var answer = try ATM87Message(
            mti: .networkManagementResponse,
            fields: [7: signOn[7]!, 11: "000041", 39: "00", 41: "ATM00001", 70: "001"]
        )
        try answer.set(120, KeyMaterial.encode(keys, under: master))
        let forged = try MessageAuthentication.sign(answer, key: SymmetricKey(size: .bits256))
        #expect(terminal.absorb(forged, to: signOn)?.contains("MAC") == true)
        #expect(terminal.keys == nil)
        #expect(terminal.absorb(try MessageAuthentication.sign(answer, key: keys.mac), to: signOn) == nil)
        #expect(terminal.keys != nil)

        // Signed on: requests are MACed under the session key; `bad` makes one that cannot verify.
        let echo = try terminal.network("301", terminal.stamp(now: Date()))
        #expect(MessageAuthentication.verify(try terminal.sign(echo), key: keys.mac) == nil)
        #expect(MessageAuthentication.verify(try terminal.sign(echo, .bad), key: keys.mac) != nil)
        #expect(try terminal.sign(echo, .none)[128] == nil)

        let signOff = try terminal.network("002", terminal.stamp(now: Date()))
        let offAnswer = try MessageAuthentication.sign(
            try ATM87Message(mti: .networkManagementResponse, fields: [11: signOff[11]!, 39: "00", 70: "002"]),
            key: keys.mac
        )
        #expect(terminal.absorb(offAnswer, to: signOff) == nil)
        #expect(terminal.keys == nil)
    }

    @Test("a card answer's token opens the card session, even on a refusal; a login's is the staff token")
    func terminalTokens() throws {
        var terminal = ScriptTerminal(terminal: "BRANCH01", masterKey: SymmetricKey(size: .bits256), firstSTAN: 1)
        let stamp = terminal.stamp(now: Date())
        let card = try ATM87Message(mti: .financialRequest, fields: [11: stamp.stan, 41: "BRANCH01"])
        #expect(
            terminal.absorb(
                try ATM87Message(mti: .financialResponse, fields: [11: stamp.stan, 39: "51", 62: "card"]),
                to: card
            ) == nil
        )
        #expect(terminal.cardToken == "card")
        let login = try terminal.administrative("LOGIN", [("UN", "tina")], fields: [:], token: nil, stamp)
        _ = terminal.absorb(
            try ATM87Message(mti: .administrativeResponse, fields: [11: stamp.stan, 39: "55", 62: "no"]),
            to: login
        )
        #expect(terminal.staffToken == nil)
        _ = terminal.absorb(
            try ATM87Message(mti: .administrativeResponse, fields: [11: stamp.stan, 39: "00", 62: "staff"]),
            to: login
        )
        #expect(terminal.staffToken == "staff")
        // Not signed on: no PIN block can be made.
        #expect(throws: ScriptError.self) { try terminal.pinBlock(pin: "1234", pan: "4761739001010119") }
    }

    // MARK: Reports

    static func report() -> ScriptRunReport {
        ScriptRunReport(scripts: [
            ScriptResult(
                name: "cash & <more>",
                file: "fixtures/sequences/a.yaml",
                terminal: "ATM00001",
                steps: [
                    StepResult(index: 1, name: "sign-on", action: "signOn", status: .passed, seconds: 0.01),
                    StepResult(
                        index: 2,
                        name: "withdraw \"20.00\" 'now'",
                        action: "card",
                        status: .failed,
                        seconds: 0.2,
                        problems: [#"field 39: expected "00", got "51""#, "odd \u{01} byte"],
                        notes: ["a late answer to step 1 arrived: 0810 11=000001"],
                        request: "MTI 0200\n  [2] PAN: 476173******0119",
                        answer: "MTI 0210\n  [39] Response code: 51"
                    ),
                    StepResult(index: 3, name: "echo", action: "echo", status: .error, problems: ["${x} is not set"]),
                ]
            ),
            ScriptResult(
                name: "second",
                file: "b.json",
                terminal: "BRANCH01",
                steps: [
                    StepResult(index: 1, name: "echo", action: "echo", status: .passed, notes: ["]]> in a note"])
                ]
            ),
        ])
    }

    @Test("the closing line counts steps")
    func summary() {
        #expect(Self.report().summary == "2 passed, 2 failed, 0 skipped")
        #expect(ScriptRunReport(scripts: []).summary == "0 passed, 0 failed, 0 skipped")
    }

    @Test("JUnit XML: escaped, and well-formed (a testsuite per script, a testcase per step)")
    func junit() throws {
        let xml = Self.report().junitXML()
        #expect(xml.contains(#"<testsuite name="cash &amp; &lt;more&gt;" tests="3" failures="1" errors="1""#))
        #expect(xml.contains(#"name="002 withdraw &quot;20.00&quot; &apos;now&apos;""#))
        #expect(xml.contains("<failure message=\"field 39: expected &quot;00&quot;, got &quot;51&quot;\""))
        #expect(xml.contains("<error message=\"${x} is not set\""))
        #expect(xml.contains("odd \u{FFFD} byte"))
        #expect(!xml.contains("\u{01}"))
        #expect(xml.contains("]]&gt; in a note"))
        #expect(xml.contains("476173******0119"))
        #if canImport(FoundationXML) || canImport(Darwin)
        let counter = ElementCounter()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = counter
        // swift-corelibs-foundation's parse() may return true on an error it has recorded: check both.
        let parsed = parser.parse()
        #expect(parsed && parser.parserError == nil, "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.counts["testsuites"] == 1)
        #expect(counter.counts["testsuite"] == 2)
        #expect(counter.counts["testcase"] == 4)
        #expect(counter.counts["failure"] == 1)
        #expect(counter.counts["error"] == 1)
        #expect(counter.names.contains("002 withdraw \"20.00\" 'now'"))
        #endif
    }

    @Test("field 39 first, with the response code's meaning; the step's file and line head the failure")
    func mostTellingFirst() throws {
        let differences = ScriptCheck.check(
            try Self.answer([39: "65"]),
            request: try Self.request(),
            expect: ["mti": "0210", "38": "-", "39": "00", "4": "000000000001"],
            variables: [:]
        )
        #expect(
            differences.map(\.description) == [
                #"field 39: expected "00", got "65" (exceeds withdrawal frequency limit)"#,
                #"field 4: expected "000000000001", got "000000010000""#,
                #"field 38: expected absent, got "A1B2C3""#,
            ]
        )
        let step = StepResult(
            index: 2,
            name: "cash",
            action: "card",
            status: .failed,
            problems: differences.map(\.description),
            source: "fixtures/sequences/limits.yaml:14"
        )
        #expect(step.headline == #"fixtures/sequences/limits.yaml:14: field 39: expected "00", got "65" (exceeds withdrawal frequency limit)"#)
        let xml = ScriptRunReport(scripts: [ScriptResult(name: "s", file: "f", terminal: "T", steps: [step])]).junitXML()
        #expect(xml.contains(#"<failure message="fixtures/sequences/limits.yaml:14: field 39: expected &quot;00&quot;"#))
        #expect(xml.contains(">at fixtures/sequences/limits.yaml:14\nfield 39"))
    }

    @Test("a PAN that masking prints alike: which digit positions differ, never the digits")
    func maskedAlike() throws {
        let differences = try Self.check(["2": "4761731111110119"])
        #expect(
            differences.map(\.description) == [
                #"field 2: expected "476173******0119", got "476173******0119" (the masked values differ at positions 7, 8, 9, 11 of 16)"#
            ]
        )
        let echo = ScriptCheck.check(
            try Self.answer([2: "4761739001110119"]),
            request: try Self.request(),
            expect: ["2": "*E"],
            variables: [:]
        )
        #expect(echo.first?.actual.hasSuffix("(the masked values differ at position 11 of 16)") == true)
        #expect(!echo.description.contains("4761739001110119"))
    }

    @Test("not-equals, prefix, not-matches beside the numeric checks")
    func stringChecks() throws {
        #expect(
            try Self.check([
                "39": FieldExpectation(notEquals: "05", prefix: "0", notMatches: "[1-9].*"),
                "2": FieldExpectation(prefix: "476173"),
            ]).isEmpty
        )
        let differences = try Self.check([
            "39": FieldExpectation(notEquals: "00", prefix: "9", notMatches: "0[0-9]")
        ])
        #expect(
            differences.map(\.expected) == [
                #"anything but "00""#, #"a value starting with "9""#, "no match for /0[0-9]/",
            ]
        )
        let parsed = try Script.parse(
            #"steps: [{action: echo, expect: {39: {not-matches: "9.", prefix: "0", not-equals: "05"}}}]"#,
            yaml: true
        )
        #expect(parsed.steps.first?.expect?["39"] == FieldExpectation(notEquals: "05", prefix: "0", notMatches: "9."))
    }

    @Test("the JSON report reads back with its totals")
    func jsonReport() throws {
        let text = Self.report().json()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["passed"] as? Int == 2)
        #expect(object["failed"] as? Int == 2)
        let scripts = try #require(object["scripts"] as? [[String: Any]])
        #expect(scripts.count == 2)
        let steps = try #require(scripts.first?["steps"] as? [[String: Any]])
        #expect(steps.map { $0["status"] as? String } == ["passed", "failed", "error"])
    }
}

#if canImport(FoundationXML) || canImport(Darwin)
/// Counts elements and collects testcase names while XMLParser reads a document.
final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var names: [String] = []

    func parser(
        _ parser: XMLParser,
        didStartElement elementName: String,
        namespaceURI: String?,
        qualifiedName qName: String?,
        attributes attributeDict: [String: String] = [:]
    ) {
        self.counts[elementName, default: 0] += 1
        if elementName == "testcase", let name = attributeDict["name"] { self.names.append(name) }
    }
}
#endif
