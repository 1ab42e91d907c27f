public import ArgumentParser
import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `atm-harness simulate-switch`: its options.
public struct SimulateSwitchOptions: ParsableArguments, Sendable {
    @Option(help: "The address to listen on.")
    public var host: String = "127.0.0.1"

    @Option(help: "The port to listen on (0: a free one, printed and written to --port-file).")
    public var port: Int = 8583

    @Option(help: "The host script (YAML): rules and expectations; docs/harness.md.")
    public var script: String

    @Option(help: "The bank fixture: the terminals' test master keys, the cards and the opening balances.")
    public var fixture: String = "fixtures/bank.json"

    @Option(help: "End after this long (500ms, 2s, 1m); without it, at SIGTERM or SIGINT (or --until).")
    public var duration: String?

    @Option(help: "passed: end once every expectation holds and still holds --settle later.")
    public var until: String?

    @Option(help: "With --until passed: how long the expectations must keep holding.")
    public var settle: String = "2s"

    @Option(help: "A value for the script's ${NAME}, NAME=VALUE; repeat it.")
    public var `var`: [String] = []

    @Option(help: "Write a JUnit XML report here: a testcase per expectation.")
    public var junit: String?

    @Option(help: "Write the record (a line per message, no secret field) to this file at the end.")
    public var record: String?

    @Option(help: "Write the port listened on to this file once listening.")
    public var portFile: String?

    public init() {}
}

/// `atm-harness simulate-switch`, defined with the library so that the executable only names it.
public struct SimulateSwitch: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "simulate-switch",
        abstract: "Play the switch for a terminal under test: answer it from a host script, then check what it sent.",
        discussion: """
            Signs terminals on with the fixture's test master keys, checks every MAC, and answers as a bank \
            would (the fixture's cards and balances) unless a rule of the script says otherwise: another \
            code, a delay, a dropped connection, two answers, a wrong MAC or STAN, no answer. Prints a line \
            per message. At the end (SIGTERM, SIGINT, --duration, --until passed, or a rule's stop) checks \
            the script's expectations against what the terminals sent; exits 0 when all hold, 1 otherwise. \
            docs/harness.md, "Testing a terminal: simulate-switch".
            """
    )

    @OptionGroup public var options: SimulateSwitchOptions

    public init() {}

    public func run() async throws {
        let verdict = try await HarnessCommands.simulateSwitch(self.options)
        if verdict != .passed { throw ExitCode(verdict.rawValue) }
    }
}

extension HarnessCommands {
    /// Runs the switch simulator until its end, then checks the expectations and reports them.
    public static func simulateSwitch(
        _ options: SimulateSwitchOptions,
        printer: @escaping @Sendable (String) -> Void = say
    ) async throws(ValidationError) -> HarnessVerdict {
        let say = printer
        let script: HostScript
        let bank: SimulatedBank
        var variables: [String: String] = [:]
        let duration: Duration?
        let settle: Duration
        do {
            script = try HostScript.load(options.script)
            bank = try SimulatedBank.load(options.fixture, balances: script.balances)
        } catch {
            throw ValidationError(error.description)
        }
        do {
            duration = try options.duration.map { text throws(ScriptError) in try ScriptDuration.parse(text) }
            settle = try ScriptDuration.parse(options.settle)
        } catch {
            throw ValidationError("--duration or --settle: \(error.detail)")
        }
        for pair in options.var {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--var \(pair): write NAME=VALUE")
            }
            variables[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        guard options.until == nil || options.until == "passed" else {
            throw ValidationError("--until \(options.until ?? ""): the one condition is passed")
        }
        if options.until == "passed", script.expectations.isEmpty {
            throw ValidationError("--until passed: \(options.script) has no expectations (expect:)")
        }
        let server: SwitchSimulatorServer
        do {
            server = try await SwitchSimulatorServer.start(
                SwitchSimulator(script: script, bank: bank, variables: variables),
                host: options.host,
                port: options.port,
                duration: duration,
                untilPassed: options.until == "passed",
                settle: settle,
                say: say
            )
        } catch {
            throw ValidationError("cannot listen on \(options.host):\(options.port): \(error)")
        }
        say("simulate-switch \(script.name): listening on \(options.host):\(server.port), \(script.rules.count) rules")
        if let file = options.portFile {
            try? "\(server.port)\n".write(toFile: file, atomically: true, encoding: .utf8)
        }
        let signals = self.onSignals([SIGTERM, SIGINT]) { name in server.stop("\(name) received") }
        let (reason, simulator) = await server.finished()
        for source in signals { source.cancel() }
        say("simulate-switch \(script.name): ended: \(reason)")
        guard let simulator else { return .couldNotRun }
        let results = HostExpectationCheck.check(script.expectations, record: simulator.record, variables: simulator.variables)
        if let file = options.record {
            let lines = simulator.record.entries.map(\.line).joined(separator: "\n") + "\n"
            do {
                try lines.write(toFile: file, atomically: true, encoding: .utf8)
            } catch {
                say("the record could not be written to \(file): \(error.localizedDescription)")
            }
        }
        let report = self.simulatorReport(script, results)
        if let junit = options.junit {
            do {
                try report.junitXML().write(toFile: junit, atomically: true, encoding: .utf8)
            } catch {
                say("the JUnit report could not be written to \(junit): \(error.localizedDescription)")
            }
        }
        let requests = simulator.record.requests
        say("record: \(requests.count) messages from \(Set(requests.compactMap(\.terminal)).count) terminals")
        if results.isEmpty { say("no expectations in \(options.script): nothing was checked") }
        for result in results {
            say("  \(result.passed ? "ok  " : "FAIL") \(result.name)")
            if !result.passed {
                say("       \(result.location)")
                for problem in result.problems { say("       \(problem)") }
            }
        }
        say("\(results.count(where: \.passed)) passed, \(results.count(where: { !$0.passed })) failed")
        return results.allSatisfy(\.passed) ? .passed : .failed
    }

    /// The expectations as a JUnit report: a testsuite for the script, a testcase per expectation.
    static func simulatorReport(_ script: HostScript, _ results: [HostExpectationResult]) -> ScriptRunReport {
        let steps = results.enumerated().map { index, result in
            StepResult(
                index: index + 1,
                name: result.name,
                action: "expect",
                status: result.passed ? .passed : .failed,
                problems: result.passed ? [] : [result.location] + result.problems
            )
        }
        return ScriptRunReport(scripts: [ScriptResult(name: script.name, file: script.file, terminal: "simulate-switch", steps: steps)])
    }

    /// Calls `handler` with the signal's name on SIGTERM or SIGINT instead of ending the process.
    static func onSignals(_ numbers: [Int32], _ handler: @escaping @Sendable (String) -> Void) -> [any DispatchSourceSignal] {
        numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let name = number == SIGTERM ? "SIGTERM" : number == SIGINT ? "SIGINT" : "signal \(number)"
            source.setEventHandler { handler(name) }
            source.resume()
            return source
        }
    }
}
