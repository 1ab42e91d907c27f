import ATM87
import CashpointHarness
import Crypto
import Foundation
import Synchronization
import Testing

/// Scripts are checked as a whole before a step is sent: every problem of every file, with its file,
/// line and column; and the data rows, `repeat` and `when` that scale them.
@Suite("Harness scripts: the check before the run, data rows, repeat, when")
struct ScriptValidationTests {
    /// A folder of script files, removed at the end.
    final class Folder {
        let url: URL

        init() throws {
            self.url = FileManager.default.temporaryDirectory.appendingPathComponent("scripts-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.url, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: self.url) }

        @discardableResult
        func write(_ name: String, _ text: String) throws -> String {
            let path = self.url.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
    }

    static func issues(_ path: String) -> [ScriptIssue] {
        ScriptPlan.check([path])
    }

    @Test("misspelt keys at the top, in a step and in an expectation: each an error at its line and column")
    func misspeltKeys() throws {
        let folder = try Folder()
        let path = try folder.write(
            "misspelt.yaml",
            """
            name: misspelt
            terminal: ATM00001
            variabels: {pan: "4761739001010119"}
            steps:
              - action: echo
                expcet: {39: "99"}
              - action: echo
                captur: {rrn: 37}
                expect: {39: {equls: "00"}}
            """
        )
        let issues = Self.issues(path)
        #expect(issues.map(\.code) == [.unknownKey, .unknownKey, .unknownKey, .unknownKey])
        #expect(issues.map(\.source.line) == [3, 6, 8, 9])
        #expect(issues.map(\.source.column) == [1, 5, 5, 19])
        #expect(issues[0].message.contains("did you mean `variables`?"))
        #expect(issues[1].message.contains("did you mean `expect`?"))
        #expect(issues[2].message.contains("did you mean `capture`?"))
        #expect(issues[3].message.contains("did you mean `equals`?"))
        #expect(issues[1].description.hasPrefix("\(path):6:5: error: unknown key `expcet`"))
        let thrown = #expect(throws: ScriptError.self) { try Script.load(path) }
        #expect(thrown?.code == .unknownKey)
        #expect(thrown?.detail.split(separator: "\n").count == 4)
    }

    @Test("unknown actions, fields and functions, keys of another action, missing arguments, bad regexes and values")
    func everyProblemOfAFile() throws {
        let folder = try Folder()
        let path = try folder.write(
            "problems.yaml",
            """
            terminal: ATM00001
            steps:
              - {action: ecoh}
              - {action: echo, pan: "4761739001010119"}
              - {action: card, kind: withdrawal}
              - {action: echo, expect: {colour: "red", 48.BL.0: "*", 44: {matches: "[0-9"}}}
              - {action: send, mti: "08", fields: {70: "${lunh(1)}"}}
              - {action: wait, duration: soon}
              - {action: card, kind: cash, pan: "1", pin: "${pinBlock(1234)}"}
              - {action: reversal, original: nowhere}
            """
        )
        let issues = Self.issues(path)
        let lines = issues.map { "\($0.source.line) \($0.code.rawValue)" }
        #expect(
            lines == [
                "3 unknownAction", "4 unknownKey", "5 badStep", "6 unknownField", "6 unknownField", "6 badExpectation",
                "7 badStep", "7 unknownVariable", "8 badDuration", "9 unknownVariable", "9 badStep", "10 badStep",
            ]
        )
        #expect(issues[0].message.contains("did you mean echo?"))
        #expect(issues[1].message.contains("only of card"))
        #expect(issues[2].message.contains("needs `pan`"))
        // A PIN is never repeated in an error about it.
        #expect(!issues.map(\.message).joined().contains("1234"))
    }

    @Test("a variable or capture used before it is set, in step order through includes, with data columns")
    func variablesInStepOrder() throws {
        let folder = try Folder()
        try folder.write(
            "_steps.yaml",
            """
            steps:
              - {action: echo, expect: {37: "${rrn}"}}
              - {action: echo, capture: {rrn: 37}}
            """
        )
        try folder.write("cards.csv", "pan,amount\n4761739001010119,2000\n")
        let path = try folder.write(
            "main.yaml",
            """
            terminal: ATM00001
            data: cards.csv
            variables: {bin: "476173"}
            steps:
              - {action: echo, expect: {2: "${pan}", 4: {eq: "${amount}"}, 37: "${luhn(${bin}123)}"}}
              - include: _steps.yaml
              - {action: echo, expect: {37: "${rrn}", 54: {change: {since: before, by: 0}}}}
              - {action: echo, set: {before: "${stan}"}, when: {later: "1"}}
              - {action: echo, capture: {later: 37}}
            """
        )
        let issues = Self.issues(path)
        #expect(issues.map(\.code) == [.unsetVariable, .unsetVariable, .unsetVariable])
        #expect(issues[0].source.file.hasSuffix("_steps.yaml") && issues[0].source.line == 2)
        #expect(issues[0].message.contains("${rrn} is not set before this step"))
        #expect(issues[1].source.file == path && issues[1].source.line == 7)
        #expect(issues[1].message.contains("change since before"))
        #expect(issues[2].source.line == 8 && issues[2].message.contains("when: ${later}"))
    }

    @Test("an include that cannot be read, or that includes itself, is an error at the include's line")
    func includes() throws {
        let folder = try Folder()
        try folder.write("a.yaml", "steps:\n  - include: b.yaml\n")
        try folder.write("b.yaml", "steps:\n  - include: a.yaml\n")
        let cycle = Self.issues(try folder.write("top.yaml", "terminal: T\nsteps:\n  - include: a.yaml\n"))
        #expect(cycle.map(\.code) == [.includeCycle])
        #expect(cycle.first?.source.file.hasSuffix("b.yaml") == true && cycle.first?.source.line == 2)
        let missing = Self.issues(try folder.write("gone.yaml", "terminal: T\nsteps:\n  - include: none.yaml\n"))
        #expect(missing.map(\.code) == [.unreadable] && missing.first?.source.line == 3)
        let extra = Self.issues(try folder.write("c.yaml", "terminal: T\nsteps:\n  - include: d.yaml\n"))
        #expect(extra.map(\.code) == [.unreadable])
        try folder.write("d.yaml", "variables: {x: 1}\nsteps: [{action: echo}]\n")
        #expect(Self.issues(folder.url.appendingPathComponent("c.yaml").path).map(\.code) == [.unknownKey])
    }

    @Test("JSON scripts have lines and columns too; YAML that does not parse is an error at its mark")
    func jsonAndSyntax() throws {
        let folder = try Folder()
        let json = try folder.write(
            "s.json",
            """
            {"name": "s", "terminal": "ATM00001",
             "steps": [
               {"action": "echo", "expcet": {"39": "00"}}]}
            """
        )
        let issues = Self.issues(json)
        #expect(issues.count == 1 && issues[0].source.line == 3 && issues[0].source.column == 23)
        let broken = Self.issues(try folder.write("broken.yaml", "terminal: T\nsteps:\n  - {action: echo\n"))
        #expect(broken.count == 1 && broken[0].code == .unreadable && broken[0].source.line > 0)
    }

    @Test("every script of fixtures/sequences, sequences-failing and sequences-load passes the check")
    func fixturesPass() throws {
        for folder in ["fixtures/sequences", "fixtures/sequences-failing", "fixtures/sequences-load"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: repositoryFile(folder))
                .filter { ($0.hasSuffix(".json") || $0.hasSuffix(".yaml")) && !$0.hasPrefix("_") }
            for name in names {
                #expect(ScriptPlan.check([repositoryFile("\(folder)/\(name)")]) == [], "\(name)")
            }
        }
    }

    @Test("docs/harness.md names every key, action and check the check accepts")
    func documented() throws {
        let page = try String(contentsOfFile: repositoryFile("docs/harness.md"), encoding: .utf8)
        let keys =
            ScriptSchema.topKeys + ScriptSchema.allStepKeys + ScriptSchema.expectationKeys + ScriptSchema.actionNames
        for key in keys {
            #expect(page.contains("`\(key)`") || page.contains("{\(key):") || page.contains(" \(key):"), "\(key)")
        }
    }

    @Test("atm-harness check: every problem as FILE:LINE:COLUMN: error:, a closing line, failed when any")
    func checkCommand() throws {
        let folder = try Folder()
        let good = try folder.write("good.yaml", "terminal: T\nsteps: [{action: echo, expect: {39: \"00\"}}]\n")
        let bad = try folder.write("bad.yaml", "terminal: T\nsteps: [{action: echo, expcet: {39: \"00\"}}]\n")
        var lines: [String] = []
        let passed = HarnessCommands.check(files: [good]) { lines.append($0) }
        #expect(passed == .passed)
        #expect(lines == ["checked 1 script: 1 ok, 0 with problems"])
        lines = []
        let failed = HarnessCommands.check(files: [good, bad]) { lines.append($0) }
        #expect(failed == .failed)
        #expect(lines.first?.hasPrefix("\(bad):2:24: error: unknown key `expcet`") == true)
        #expect(lines.last == "checked 2 scripts: 1 ok, 1 with problems")
    }

    // MARK: Data rows, repeat

    @Test(
        "CSV rows: the header names the variables; quotes, commas and blank lines; a short row is an error at its line"
    )
    func csvData() throws {
        let records = try ScriptCSV.parse(
            "pan,name\r\n\"4761739001010119\",\"Smith, \"\"Bob\"\"\"\n\n4000000000000002,Ann\n"
        )
        #expect(records.map(\.line) == [1, 2, 4])
        #expect(records[1].fields == ["4761739001010119", "Smith, \"Bob\""])
        #expect(throws: ScriptCSV.Failure.self) { try ScriptCSV.parse("a,\"b\n") }
        #expect(throws: ScriptCSV.Failure.self) { try ScriptCSV.parse("a,b\"c\n") }

        let folder = try Folder()
        try folder.write("cards.csv", "pan,amount\n4761739001010119,2000\n4000000000000002\n")
        let path = try folder.write(
            "rows.yaml",
            "terminal: T\ndata: cards.csv\nsteps: [{action: echo, expect: {2: \"${pan}\"}}]\n"
        )
        let issues = Self.issues(path)
        #expect(issues.map(\.code) == [.badData])
        #expect(issues.first?.source.file.hasSuffix("cards.csv") == true && issues.first?.source.line == 3)
    }

    @Test("a CSV of 3 rows runs the steps 3 times; repeat runs every row again; a YAML list of maps is rows too")
    func iterations() throws {
        let folder = try Folder()
        try folder.write("cards.csv", "pan,amount\n4761739001010119,2000\n4000000000000002,100\n5555555555554444,50\n")
        let plan = try ScriptPlan.load(
            try folder.write(
                "csv.yaml",
                "terminal: T\ndata: cards.csv\nsteps: [{action: echo, expect: {4: \"${amount}\"}}]\n"
            )
        )
        #expect(plan.iterations.map(\.label) == ["row 1", "row 2", "row 3"])
        #expect(plan.iterations[1].variables == ["pan": "4000000000000002", "amount": "100"])
        let repeated = try ScriptPlan.load(
            try folder.write(
                "list.yaml",
                """
                terminal: T
                repeat: 2
                data:
                  - {kind: withdrawal, amount: 2000}
                  - {kind: balance, amount: 0}
                steps: [{action: echo, expect: {4: "${amount}"}}]
                """
            )
        )
        #expect(repeated.iterations.map(\.label) == ["row 1, run 1", "row 2, run 1", "row 1, run 2", "row 2, run 2"])
        #expect(repeated.iterations[1].variables == ["kind": "balance", "amount": "0"])
        let once = try ScriptPlan.load(try folder.write("r.yaml", "terminal: T\nrepeat: 3\nsteps: [{action: echo}]\n"))
        #expect(once.iterations.map(\.label) == ["run 1", "run 2", "run 3"])
        let differing = Self.issues(
            try folder.write("d.yaml", "terminal: T\ndata: [{a: 1}, {b: 2}]\nrepeat: 0\nsteps: [{action: echo}]\n")
        )
        #expect(differing.map(\.code) == [.badData, .badData])
    }

    // MARK: Runs: skipped steps, rows in the reports

    static func runner(port: Int = 1, said: @escaping @Sendable (String) -> Void = { _ in }) -> ScriptRunner {
        ScriptRunner(host: "127.0.0.1", port: port, masterKey: { _ in SymmetricKey(size: .bits256) }, say: said)
    }

    @Test("a step that sends nothing is skipped with its reason, never passed: in the summary, JUnit and JSON")
    func skipped() async throws {
        let folder = try Folder()
        let path = try folder.write(
            "skip.yaml",
            """
            terminal: ATM00001
            steps:
              - {name: card returned, action: endCardSession}
            """
        )
        let lines = LineCollector()
        let report = await Self.runner(said: lines.add).run(files: [path])
        let step = try #require(report.scripts.first?.steps.first)
        #expect(step.status == .skipped && step.reason == "no card session is open: nothing sent")
        #expect(report.passed == 0 && report.failed == 0 && report.skipped == 1)
        #expect(report.summary == "0 passed, 0 failed, 1 skipped")
        #expect(lines.lines.contains("  1  skip card returned  (\(path):3)"))
        let xml = report.junitXML()
        #expect(xml.contains("<skipped message=\"\(path):3: no card session is open: nothing sent\"/>"))
        #expect(xml.contains("skipped=\"1\""))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(json["skipped"] as? Int == 1)
        let steps = (json["scripts"] as? [[String: Any]])?.first?["steps"] as? [[String: Any]]
        #expect(steps?.first?["status"] as? String == "skipped")
        #expect(steps?.first?["reason"] as? String == "no card session is open: nothing sent")
    }

    @Test(
        "a CSV-driven script of 3 rows gives 3 testcases, one testsuite a row; when skips the rows it does not hold for"
    )
    func rowsInJUnit() async throws {
        let folder = try Folder()
        try folder.write("rows.csv", "kind,amount\ncash,2000\nbalance,0\ncash,100\n")
        let path = try folder.write(
            "rows.yaml",
            """
            name: rows
            terminal: ATM00001
            data: rows.csv
            steps:
              - name: pause for cash
                action: wait
                duration: 0s
                when: {kind: cash, amount: {gt: 0}}
            """
        )
        let report = await Self.runner().run(files: [path])
        #expect(report.scripts.map(\.name) == ["rows [row 1]", "rows [row 2]", "rows [row 3]"])
        #expect(report.scripts.map { $0.steps.map(\.status) } == [[.passed], [.skipped], [.passed]])
        #expect(report.scripts[1].steps.first?.reason == #"when: ${amount} is not an amount > 0"#)
        let xml = report.junitXML()
        #expect(xml.components(separatedBy: "<testcase ").count - 1 == 3)
        #expect(xml.contains(#"classname="rows [row 2]""#))
        #expect(xml.contains(#"<testsuites name="atm-harness" tests="3" failures="0" errors="0" skipped="1""#))
    }

    @Test("when: string equal, prefix, regex and not, numbers; an unset variable does not hold")
    func conditions() throws {
        let variables = ["rc": "05", "balance": "0001978C000000240000", "pan": "4761739001010119"]
        #expect(try ScriptCheck.condition("rc", "05", variables: variables) == nil)
        #expect(try ScriptCheck.condition("rc", FieldExpectation(matches: "0[05]"), variables: variables) == nil)
        #expect(try ScriptCheck.condition("rc", FieldExpectation(notMatches: "0[05]"), variables: variables) != nil)
        #expect(try ScriptCheck.condition("balance", FieldExpectation(gt: "239999"), variables: variables) == nil)
        #expect(try ScriptCheck.condition("pan", FieldExpectation(prefix: "476173"), variables: variables) == nil)
        let masked = try ScriptCheck.condition("pan", "4000000000000002", variables: variables)
        #expect(masked == #"${pan} is not "400000******0002""#)
        #expect(try ScriptCheck.condition("nothing", "00", variables: variables) == "${nothing} is not set")
        #expect(try ScriptCheck.condition("nothing", "-", variables: variables) == nil)
    }
}

/// Lines a runner says, kept for a test to read.
final class LineCollector: Sendable {
    let said = Mutex<[String]>([])

    var lines: [String] { self.said.withLock { $0 } }

    var add: @Sendable (String) -> Void { { line in self.said.withLock { $0.append(line) } } }
}
