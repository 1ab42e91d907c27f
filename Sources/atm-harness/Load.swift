import ArgumentParser
import CashpointDatabase
import CashpointHarness
import CashpointStore
import Foundation
import Logging

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive a running switch over TCP as many ATMs do, and report throughput and latency.",
        discussion: """
            Every terminal connects over its own connection and signs on, all at once; each opens a card \
            session with its card's PIN (bcrypt once), then sends token transactions drawn from --mix, \
            MACed both ways. Closed loop by default (each terminal sends when its answer is in); with \
            --rate, open loop at that many requests a second for all terminals together, latency counted \
            from each request's intended send time (corrected for coordinated omission). Latencies go into \
            an HDR histogram. Prints throughput, p50/p90/p99/p99.9/max and the answers by response code \
            (with --json, one JSON object), and a progress line each second on standard error. \
            The terminals and cards come from --fixture: the demo bank has two ATMs; for more, \
            `atm-harness load-bank --terminals N > FILE` and `atm-switch seed FILE`. Exits 1 if a request \
            got no usable answer, 2 if the load could not start.
            """
    )

    @OptionGroup var address: SwitchAddress

    @Option(
        name: [.customLong("terminals"), .customLong("connections")],
        help: "Terminals, each signed on over its own connection (--connections: the older name)."
    )
    var terminals: Int = 2

    @Option(
        name: [.customLong("duration"), .customLong("seconds")],
        help: "Seconds measured, after the warm-up (--seconds: the older name)."
    )
    var duration: Double = 10

    @Option(help: "Seconds of load before the measured window.")
    var warmup: Double = 1

    @Option(help: "The share of each kind of request: withdrawal, balance, transfer, deposit.")
    var mix: String = LoadMix.atm.description

    @Option(help: "Requests a second for all terminals together (open loop); without it, a closed loop.")
    var rate: Double?

    @Option(help: "The seed of the terminals' choices of requests.")
    var seed: UInt64 = 1

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    @Flag(help: "No progress line each second.")
    var quiet = false

    func validate() throws {
        guard self.terminals >= 1 else { throw ValidationError("--terminals must be 1 or more") }
        guard self.duration > 0 else { throw ValidationError("--duration must be above 0 seconds") }
        guard self.warmup >= 0 else { throw ValidationError("--warmup must be 0 or more seconds") }
        if let rate = self.rate, rate <= 0 { throw ValidationError("--rate must be above 0 requests a second") }
        do {
            _ = try LoadMix(parsing: self.mix)
        } catch {
            throw ValidationError("--mix: \(error)")
        }
    }

    func run() async throws {
        let fixture: BankFixture
        do {
            fixture = try BankFixture.load(self.address.fixture)
        } catch {
            throw ValidationError("cannot read \(self.address.fixture): \(error)")
        }
        let load: SwitchLoad
        do {
            load = SwitchLoad(
                host: self.address.host,
                port: self.address.port,
                terminals: try SwitchLoad.terminals(self.terminals, from: fixture),
                mix: try LoadMix(parsing: self.mix),
                rate: self.rate,
                duration: .seconds(self.duration),
                warmup: .seconds(self.warmup),
                seed: self.seed
            )
        } catch {
            FileHandle.standardError.write(Data("load: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let progress: (@Sendable (LoadProgress) -> Void)? = self.quiet ? nil : Self.printProgress
        let report: LoadReport
        do {
            report = try await load.run(progress: progress)
        } catch {
            FileHandle.standardError.write(Data("load: \(error)\n".utf8))
            throw ExitCode(2)
        }
        say(self.json ? report.json : report.text)
        if report.errors > 0 || report.terminalsLost > 0 { throw ExitCode(1) }
    }
}

extension Load {
    /// A progress line goes to standard error, so standard output holds the report alone.
    @Sendable static func printProgress(_ progress: LoadProgress) {
        FileHandle.standardError.write(Data((progress.line + "\n").utf8))
    }
}

struct LoadBankFixture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load-bank",
        abstract: "Write a bank fixture for `atm-harness load`: N ATMs with TEST master keys, a card each.",
        discussion: """
            Terminals LOAD0001... with master keys derived from their ids (test keys only), and as many \
            customers, each with two accounts of 100,000,000.00 and no daily limit a load reaches, and a \
            card for both. Seed it with `atm-switch seed FILE` (with the switch key, which seals the \
            master keys), then run `atm-harness load --fixture FILE --terminals N`.
            """
    )

    @Option(help: "Terminals (and customers with a card each).")
    var terminals: Int = 32

    @Option(help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        guard (1...9_999).contains(self.terminals) else { throw ValidationError("--terminals must be 1 to 9999") }
    }

    func run() async throws {
        let data = try LoadBank.fixtureJSON(terminals: self.terminals)
        if let output = self.output {
            try data.write(to: URL(fileURLWithPath: output))
        } else {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

struct QuietAccounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quiet-accounts",
        abstract: "Add customers with an account each and no money to a seeded bank, so it has a bank's size.",
        discussion: """
            As `pgbench -i -s 10` puts its script's 100 busy accounts among 1,000,000, so that the \
            planner reads indexes as a real bank's switch does. Needs the cluster's superuser URL.
            """
    )

    @Option(help: "Superuser URL of the bank's database (default: $CASHPOINT_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Accounts to add.")
    var count = 1_000_000

    func run() async throws {
        guard let text = self.databaseURL ?? ProcessInfo.processInfo.environment["CASHPOINT_DATABASE_URL"] else {
            throw ValidationError("no database: pass --database-url or set CASHPOINT_DATABASE_URL (scripts/pg env)")
        }
        guard (0...10_000_000).contains(self.count) else { throw ValidationError("--count must be 0 to 10,000,000") }
        var logger = Logger(label: "quiet-accounts")
        logger.logLevel = .error
        let log = logger
        let count = self.count
        try await DatabaseURL(text).withConnection(logger: log) { connection in
            try await PostingLoad.addQuietAccounts(count, connection: connection, logger: log)
        }
    }
}
