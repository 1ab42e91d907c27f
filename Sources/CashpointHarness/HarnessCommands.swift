public import ATM87
public import ArgumentParser
import CashpointBank
import CashpointDatabase
import CashpointSecurity
import CashpointStore
import CashpointTerminal
public import Foundation
import Logging

/// How a harness run ended, as its exit status says it.
public enum HarnessVerdict: Int32, Sendable, Hashable {
    /// Exit 0.
    case passed = 0
    /// Exit 1: a finding, a failed step, a request without a usable answer.
    case failed = 1
    /// Exit 2: the run could not start or go on.
    case couldNotRun = 2
}

/// The `atm-harness` commands, one function each: the executable parses the options and calls one.
/// A command that cannot run as asked throws `ValidationError`: it exits 64 with the reason, as for a
/// bad option.
public enum HarnessCommands {
    // MARK: decode, examples

    /// A message or frame in hex (or a hex dump, pasted with its Markdown fence lines or not), printed
    /// through the masking printer with every broken rule, after a line that says which prefix was
    /// assumed; not ok when it does not decode or breaks a rule.
    public static func decode(_ text: String, framed: Bool) throws(ValidationError) -> (text: String, ok: Bool) {
        let unfenced = text.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return !trimmed.hasPrefix("```") && !trimmed.hasPrefix("~~~")
        }
        guard var bytes = HexDump.parse(unfenced.joined(separator: "\n")), !bytes.isEmpty else {
            throw ValidationError("the input is not hex (pairs of 0-9, A-F), nor a hex dump")
        }
        var lines: [String] = []
        let declared = bytes.count >= 2 ? Int(bytes[0]) << 8 | Int(bytes[1]) : -1
        if framed || (bytes.count >= 2 && declared == bytes.count - 2) {
            guard declared == bytes.count - 2 else {
                return ("frame error: the length prefix says \(declared) bytes, but \(bytes.count - 2) follow", false)
            }
            let header = HexDump.hex(bytes.prefix(2))
            bytes.removeFirst(2)
            lines.append(
                "prefix: a 2-byte length header, \(header) = \(bytes.count), the bytes that follow"
                    + (framed ? " (--framed)" : " (assumed: it equals the length of the rest)")
            )
            lines.append("frame: 2 length bytes + \(bytes.count)")
        } else {
            let first = HexDump.hex(bytes.prefix(2))
            let why = bytes.count >= 2 ? " (the first two bytes, \(first), are not the length of the rest)" : ""
            lines.append("prefix: none, read as a message without a length header\(why); --framed if it has one")
        }
        let message: ATM87Message
        do {
            message = try ATM87Message(decoding: bytes)
        } catch {
            return ((lines + ["decode error: \(error)"]).joined(separator: "\n"), false)
        }
        lines.append(ATM87PrettyPrinter.format(message))
        let violations = ATM87Rules.check(message)
        lines += violations.isEmpty ? ["rules: ok"] : violations.map { "rule broken: \($0)" }
        return (lines.joined(separator: "\n"), violations.isEmpty)
    }

    /// The protocol examples' section for docs/protocol.md; with `page`, written into it instead.
    public static func examples(fixtures: String, write page: String?) throws -> String {
        let examples = try ProtocolExamples.load(fixtures)
        let section = try ProtocolExamples.markdown(for: examples)
        guard let page else { return section }
        let current = try String(contentsOfFile: page, encoding: .utf8)
        try ProtocolExamples.replaceSection(in: current, with: section).write(
            toFile: page,
            atomically: true,
            encoding: .utf8
        )
        return "wrote \(examples.count) examples into \(page)"
    }

    // MARK: Scripts and the flood

    /// The master key of `terminal` in the bank fixture at `fixture` (a TEST key).
    static func masterKey(of terminal: String, fixture: String) throws(ValidationError) -> SecretKey {
        let bank: BankFixture
        do {
            bank = try BankFixture.load(fixture)
        } catch {
            throw ValidationError("cannot read \(fixture): \(error)")
        }
        guard let hex = bank.terminals.first(where: { $0.id == terminal })?.masterKey else {
            throw ValidationError("\(fixture) has no master key for terminal \(terminal)")
        }
        do {
            return try SecretKey(hex: hex, name: "master key of \(terminal)")
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The runner for scripts at `address`, with its fixture's master keys.
    public static func runner(
        _ address: SwitchAddressOptions,
        say: @escaping @Sendable (String) -> Void
    ) -> ScriptRunner {
        let fixture = address.fixture
        return ScriptRunner(
            host: address.host,
            port: address.port,
            masterKey: { terminal in try Self.masterKey(of: terminal, fixture: fixture).key },
            say: say
        )
    }

    /// `FloodCheck` at the options' address, ending with their script.
    public static func flood(_ options: FloodOptions) async throws -> HarnessVerdict {
        let check = FloodCheck(
            host: options.address.host,
            port: options.address.port,
            frames: options.frames,
            connections: options.connections,
            pid: options.pid,
            maxGrowthMiB: options.maxGrowthMib,
            idle: options.idle,
            then: options.then
        )
        let runner = self.runner(options.address, say: say)
        let passed = try await check.run(say: say) { script in
            let result = await runner.run(script)
            return result.failed + result.errors
        }
        if passed { say("flood: OK") }
        return passed ? .passed : .failed
    }

    // MARK: Load

    /// The load on the switch at `address`: the report on standard output (text or JSON), progress on
    /// standard error; failed when a request got no usable answer, could not run when it could not start.
    public static func load(_ load: LoadOptions) async throws(ValidationError) -> HarnessVerdict {
        let address = load.address
        let fixture: BankFixture
        do {
            fixture = try BankFixture.load(address.fixture)
        } catch {
            throw ValidationError("cannot read \(address.fixture): \(error)")
        }
        guard fixture.purpose == BankFixture.loadPurpose || load.allowDemoBank else {
            throw ValidationError(
                """
                \(address.fixture) is not a load bank: a load moves its customers' money and reaches their daily \
                withdrawal limits (then 65s, and scripts that expect 00 fail until the next day). Write and seed a \
                load bank of its own (atm-harness load-bank --terminals \(load.terminals) > load-bank.json; \
                atm-switch seed load-bank.json into a database of its own; docs/harness.md "Load"), and pass \
                --fixture load-bank.json; or pass --allow-demo-bank to load this bank all the same.
                """
            )
        }
        let (ramp, think) = try load.pacing()
        // Every script is checked whole before anything is sent, as `atm-harness run` does.
        var plans: [ScriptPlan] = []
        for file in load.scripts {
            do {
                plans.append(try ScriptPlan.load(file))
            } catch {
                for issue in error.issues { sayToStandardError("\(issue)") }
                throw ValidationError("--script \(file) fails the check (above): nothing was sent")
            }
        }
        let report: LoadReport
        let statistics: LoadStatistics
        var idleReport: IdleTerminals.Report?
        do {
            var switchLoad = SwitchLoad(
                switches: try address.addresses(load.list.switches),
                terminals: try SwitchLoad.terminals(load.terminals, from: fixture, cardsPerTerminal: load.cardsPerTerminal),
                mix: try LoadMix(parsing: load.mix),
                rate: load.rate,
                duration: .seconds(load.duration),
                warmup: .seconds(load.warmup),
                seed: load.seed
            )
            switchLoad.ramp = ramp
            switchLoad.think = think
            if !plans.isEmpty {
                switchLoad.scripts = try ScriptLoad(
                    plans: plans,
                    users: try ScriptLoad.users(
                        load.scriptUsers,
                        from: fixture,
                        after: load.terminals + load.idle,
                        switches: switchLoad.switches
                    )
                )
            }
            let progress: @Sendable (LoadProgress) -> Void = { progress in sayToStandardError(progress.line) }
            if load.idle > 0 {
                let idle = IdleTerminals(
                    switches: switchLoad.switches,
                    terminals: try IdleTerminals.terminals(load.idle, from: fixture, after: load.terminals),
                    echoEvery: .seconds(load.echoEvery)
                )
                if !load.quiet { sayToStandardError("load: signing \(load.idle) idle terminals on") }
                let measured: (LoadReport, LoadStatistics)
                (measured, idleReport) = try await idle.holding {
                    if !load.quiet { sayToStandardError("load: the idle terminals have signed on") }
                    return try await switchLoad.measure(progress: load.quiet ? nil : progress)
                }
                (report, statistics) = measured
            } else {
                (report, statistics) = try await switchLoad.measure(progress: load.quiet ? nil : progress)
            }
        } catch {
            sayToStandardError("load: \(error)")
            return .couldNotRun
        }
        if let idleReport {
            say(load.json ? Self.json(report.json, adding: "idle", idleReport.json) : report.text + "\n" + idleReport.line)
        } else {
            say(load.json ? report.json : report.text)
        }
        let files = [
            load.hgrm.map { ($0, statistics.percentileDistribution) },
            load.plot.map { path in
                let title =
                    "atm-harness load: \(report.terminals) terminals, \(report.mode), "
                    + "\(LoadReport.number(report.throughput, digits: 0))/s, p99 "
                    + "\(LoadReport.number(report.latencyMilliseconds.p99, digits: 2)) ms"
                return (path, LatencyPlot.svg(statistics.percentilePoints, title: title))
            },
        ]
        for case let (path, text)? in files {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            } catch {
                sayToStandardError("load: cannot write \(path): \(error.localizedDescription)")
                return .couldNotRun
            }
        }
        let idleFailed = idleReport.map { $0.signOnFailures > 0 || $0.echoFailures > 0 } ?? false
        let scriptFailed = (report.script?.failedSteps ?? 0) > 0
        return report.errors > 0 || report.terminalsLost > 0 || idleFailed || scriptFailed ? .failed : .passed
    }

    /// A JSON object's text with one more key.
    static func json(_ object: String, adding key: String, _ value: [String: Int]) -> String {
        guard let parsed = (try? JSONSerialization.jsonObject(with: Data(object.utf8))) as? [String: Any],
            let data = try? JSONSerialization.data(withJSONObject: parsed.merging([key: value]) { $1 }, options: [.sortedKeys])
        else { return object }
        return String(decoding: data, as: UTF8.self)
    }

    /// A bank fixture of `terminals` load terminals, to `output` or standard output.
    public static func loadBank(terminals: Int, idleTerminals: Int = 0, output: String?) throws {
        let data = try LoadBank.fixtureJSON(terminals: terminals, idleTerminals: idleTerminals)
        if let output {
            try data.write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }

    // MARK: The database directly

    /// The superuser's URL: the option's, else $CASHPOINT_DATABASE_URL. None is a usage error; one
    /// that does not parse is one too with `invalidIsUsage`, else an error of its own (exit 1).
    static func databaseURL(_ option: String?, invalidIsUsage: Bool) throws -> DatabaseURL {
        let url: DatabaseURL
        do {
            url = try DatabaseURL(option: option)
        } catch {
            guard error.code == .notGiven || invalidIsUsage else { throw error }
            throw ValidationError(error.reason)
        }
        return url
    }

    public static func quietAccounts(databaseURL option: String?, count: Int) async throws {
        let url = try self.databaseURL(option, invalidIsUsage: false)
        guard (0...10_000_000).contains(count) else { throw ValidationError("--count must be 0 to 10,000,000") }
        var logger = Logger(label: "quiet-accounts")
        logger.logLevel = .error
        try await url.withConnection(logger: logger) { [logger] connection in
            try await PostingLoad.addQuietAccounts(count, connection: connection, logger: logger)
        }
    }

    public static func benchPosting(
        _ bench: BenchPostingOptions,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws {
        let url = try self.databaseURL(bench.databaseURL, invalidIsUsage: false)
        guard let switchPassword = environment["CASHPOINT_SWITCH_PASSWORD"] else {
            throw ValidationError("set CASHPOINT_SWITCH_PASSWORD (eval \"$(scripts/pg env)\")")
        }
        let benchmark = PostingBenchmark(
            clients: bench.clients,
            seconds: bench.seconds,
            warmup: bench.warmup,
            rounds: bench.rounds,
            connections: bench.connections,
            eventLoops: bench.eventLoops,
            accounts: bench.accounts,
            quietAccounts: bench.quietAccounts,
            rules: try self.monitoringRules(bench.rules),
            monitoringWorker: bench.monitoringWorker
        )
        if let invalid = benchmark.invalid { throw ValidationError(invalid) }
        try await benchmark.run(root: url, switchPassword: switchPassword)
    }

    /// The bench's monitoring rules from `--rules` (nil for "none").
    static func monitoringRules(_ path: String) throws(ValidationError) -> MonitoringRuleSet? {
        guard path != "none" else { return nil }
        do {
            return try MonitoringRules.parse(yaml: try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw ValidationError("--rules \(path): \(error)")
        }
    }

    // MARK: The bank check

    /// `--proxy-upstream HOST:PORT`, or nil when it is not one.
    public static func upstream(_ text: String?) -> (host: String, port: Int)? {
        text.flatMap { try? SwitchAddress(parsing: $0) }.map { ($0.host, $0.port) }
    }

    /// The bank check at `address` (or, with `writeFixture`, only its bank fixture written): the report
    /// on standard output, progress on standard error.
    public static func bank(_ check: BankCheckOptions) async throws -> HarnessVerdict {
        let address = check.address
        if let path = check.writeFixture {
            try BankCheckBank.fixtureJSON(terminals: check.terminals).write(to: URL(fileURLWithPath: path))
            return .passed
        }
        let url = try self.databaseURL(check.databaseURL, invalidIsUsage: true)
        let fixture: BankFixture
        do {
            fixture = try BankFixture.load(address.fixture)
        } catch {
            throw ValidationError("\(error)")
        }
        var logger = Logger(label: "atm-harness.bank")
        logger.logLevel = .error
        let seed = check.seed ?? UInt64.random(in: 1...999_999_999)
        let report: BankCheckReport
        do {
            let proxy = self.upstream(check.proxyUpstream).flatMap { upstream in
                check.proxyPort.map { (port: $0, upstreamHost: upstream.host, upstreamPort: upstream.port) }
            }
            var run = BankCheck(
                switches: try address.addresses(check.list.switches),
                terminals: try SwitchLoad.terminals(check.terminals, from: fixture),
                databaseURL: url,
                duration: .seconds(check.duration),
                seed: seed,
                chaos: check.chaos,
                databaseProxy: proxy,
                commands: .init(
                    startSwitch: check.startSwitch,
                    restartSwitch: check.restartSwitch,
                    restartDatabase: check.restartDatabase,
                    killPrimary: check.killPrimary,
                    rejoinPrimary: check.rejoinPrimary
                )
            )
            run.auditSealedWithin = check.auditSealedWithin.map { .seconds($0) }
            run.failovers = check.failovers
            report = try await run.run(logger: logger) { sayToStandardError("bank: \($0)") }
        } catch {
            sayToStandardError("bank: \(error) (seed \(seed))")
            return .couldNotRun
        }
        say(report.text)
        return report.passed ? .passed : .failed
    }
}

/// A line on standard error (progress while standard output carries a machine report).
public func sayToStandardError(_ text: String) {
    HarnessOutput.standardError.line(text)
}
