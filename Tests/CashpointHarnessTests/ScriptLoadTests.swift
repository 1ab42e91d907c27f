import CashpointHarness
import CashpointStore
import CashpointTerminal
import Foundation
import Testing

@testable import CashpointHarness

/// `atm-harness load --script`: how runs are dealt out to script users, which terminals they play, what
/// the report says, and the users playing fixtures/sequences-load/load-rows.yaml against the switch
/// simulator (a bank of its own in memory: balances, card sessions, sign-on keys).
@Suite("Scripts replayed as load")
struct ScriptLoadTests {
    static func loadBank(terminals: Int) throws -> BankFixture {
        try JSONDecoder().decode(BankFixture.self, from: try LoadBank.fixtureJSON(terminals: terminals))
    }

    static let address = SwitchAddress(host: "127.0.0.1", port: 1)

    static func plan(rows: Int) -> ScriptPlan {
        ScriptPlan(
            script: Script(name: "rows", terminal: "LOAD0001", steps: []),
            file: "rows.yaml",
            rows: (1...rows).map { ScriptRow(number: $0, values: ["row": "\($0)"], source: ScriptSource(file: "rows.csv", line: $0 + 1, column: 1)) }
        )
    }

    @Test("each run goes to one user only: user u of U plays runs u, u+U, ...; together, every run once")
    func dealing() {
        #expect(ScriptLoad.share(0, of: 3, runs: 7) == [0, 3, 6])
        #expect(ScriptLoad.share(1, of: 3, runs: 7) == [1, 4])
        #expect(ScriptLoad.share(2, of: 3, runs: 7) == [2, 5])
        for users in 1...7 {
            let all = (0..<users).flatMap { ScriptLoad.share($0, of: users, runs: 7) }
            #expect(all.sorted() == Array(0..<7))
        }
    }

    @Test("a user's STANs go on from run to run, round 999999")
    func stans() {
        #expect(ScriptLoad.stan(after: 100, steps: 7) == 107)
        #expect(ScriptLoad.stan(after: 999_998, steps: 3) == 2)
    }

    @Test("users take the fixture's ATMs after the busy and idle terminals, round the switches")
    func users() throws {
        let fixture = try Self.loadBank(terminals: 11)
        let switches = [SwitchAddress(host: "a", port: 1), SwitchAddress(host: "b", port: 2)]
        let users = try ScriptLoad.users(3, from: fixture, after: 8, switches: switches)
        #expect(users.map(\.terminal) == ["LOAD0009", "LOAD0010", "LOAD0011"])
        #expect(users.map(\.address) == [switches[0], switches[1], switches[0]])
        #expect(throws: LoadFailure.self) { try ScriptLoad.users(4, from: fixture, after: 8, switches: switches) }
    }

    @Test("more users than runs is refused: a row is never played by two users at once")
    func moreUsersThanRuns() throws {
        let fixture = try Self.loadBank(terminals: 4)
        let users = try ScriptLoad.users(4, from: fixture, after: 0, switches: [Self.address])
        #expect(throws: LoadFailure.self) { try ScriptLoad(plans: [Self.plan(rows: 3)], users: users) }
        #expect(try ScriptLoad(plans: [Self.plan(rows: 3)], users: Array(users.prefix(3))).users.count == 3)
        #expect(throws: LoadFailure.self) { try ScriptLoad(plans: [Self.plan(rows: 3)], users: []) }
    }

    @Test("the report: steps by outcome from every run, latencies and codes from measured runs only, failures named")
    func report() throws {
        func step(_ index: Int, _ status: StepResult.Status, code: String? = nil, seconds: Double? = nil) -> StepResult {
            var step = StepResult(index: index, name: "step \(index)", action: "card", status: status, source: "rows.yaml:\(index)")
            if status == .failed { step.problems = ["field 39: expected \"00\", got \"51\""] }
            step.code = code
            step.answerSeconds = seconds
            return step
        }
        var tally = ScriptLoadTally()
        tally.record(
            ScriptResult(name: "rows [row 1]", file: "rows.yaml", terminal: "LOAD0009", steps: [step(1, .passed, code: "00", seconds: 0.5)]),
            terminal: "LOAD0009",
            measured: false
        )
        for milliseconds in 1...100 {
            tally.record(
                ScriptResult(
                    name: "rows [row 2]",
                    file: "rows.yaml",
                    terminal: "LOAD0010",
                    steps: [step(1, .passed, code: "00", seconds: Double(milliseconds) / 1000), step(2, .skipped)]
                ),
                terminal: "LOAD0010",
                measured: true
            )
        }
        var other = ScriptLoadTally()
        other.record(
            ScriptResult(name: "rows [row 3]", file: "rows.yaml", terminal: "LOAD0011", steps: [step(1, .failed, code: "51", seconds: 0.2)]),
            terminal: "LOAD0011",
            measured: true
        )
        tally.add(other)
        let fixture = try Self.loadBank(terminals: 3)
        let load = try ScriptLoad(
            plans: [Self.plan(rows: 3)],
            users: try ScriptLoad.users(3, from: fixture, after: 0, switches: [Self.address])
        )
        let report = ScriptLoadReport(tally, load: load, seconds: 10)
        #expect(report.runs == 102)
        #expect(report.measuredRuns == 101)
        #expect((report.passed, report.failed, report.errors, report.skipped) == (101, 1, 0, 100))
        #expect(report.answered == 101)
        #expect(report.codes == ["00": 100, "51": 1])
        #expect(abs(report.throughput - 10.1) < 1e-9)
        #expect(abs(report.latencyMilliseconds.p50 - 51) < 1e-9)
        #expect(abs(report.latencyMilliseconds.max - 200) < 1e-9)
        #expect(report.failedSteps == 1)
        #expect(report.failures == ["rows [row 3] as LOAD0011, step 1 step 1: rows.yaml:1: field 39: expected \"00\", got \"51\""])
        #expect(report.text.contains("script FAIL: rows [row 3] as LOAD0011"))
    }

    /// The three users of load-rows.yaml (cards 9-11 of a load bank of 11) against the simulator
    /// answering by `host`, for a window of no time: each user plays its one run, in the warm-up.
    static func play(host: String) async throws -> ScriptLoadTally {
        let fixture = try Self.loadBank(terminals: 11)
        let server = try await SwitchSimulatorServer.start(
            SwitchSimulator(script: try HostScript.parse(host, file: "host.yaml"), bank: try SimulatedBank(fixture: fixture)),
            host: "127.0.0.1",
            port: 0,
            settle: .milliseconds(50),
            say: { _ in }
        )
        let load = try ScriptLoad(
            plans: [try ScriptPlan.load(repositoryFile("fixtures/sequences-load/load-rows.yaml"))],
            users: try ScriptLoad.users(
                3,
                from: fixture,
                after: 8,
                switches: [SwitchAddress(host: "127.0.0.1", port: server.port)]
            )
        )
        let tally = await load.play(from: .now, warmup: .seconds(1), end: .zero)
        server.stop("the test is over")
        _ = await server.finished()
        return tally
    }

    @Test("three users play load-rows.yaml's three rows against the simulator: every step passes, STANs and keys their own")
    func playsAgainstTheSimulator() async throws {
        let tally = try await Self.play(host: "{}")
        #expect(tally.failures == [])
        #expect(tally.runs == 3)
        #expect(tally.failed == 0 && tally.errors == 0)
        #expect(tally.passed == tally.runs * 6)
        #expect(tally.latencies.isEmpty, "runs that start in the warm-up are not measured")
    }

    @Test("a host that refuses withdrawals (51): every run's withdrawal and deposit checks fail, named, and nothing passes for them")
    func failuresUnderLoadAreCounted() async throws {
        let tally = try await Self.play(host: "rules: [{name: refuse, when: {3: \"01*\"}, code: \"51\"}]")
        #expect(tally.runs == 3)
        #expect(tally.failed == 6, "each run: the withdrawal (51) and the deposit (a change of +2000, not 0)")
        #expect(tally.passed == 12)
        #expect(tally.failures.count == 6)
        #expect(tally.failures.filter { $0.contains("withdraw 20.00") && $0.contains("51") }.count == 3)
    }
}
