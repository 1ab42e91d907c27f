public import ArgumentParser
public import CashpointTerminal

// The option groups of `atm-harness`: what `HarnessCommands` takes, parsed by the executable's commands.

/// Where a switch listens, and the terminal master keys (the demo fixture's test keys by default).
public struct SwitchAddressOptions: ParsableArguments, Sendable {
    @Option(help: "The switch's host.")
    public var host: String = "127.0.0.1"

    @Option(help: "The switch's ATM-87 port.")
    public var port: Int = 8583

    @Option(help: "The bank fixture whose terminals' master keys (test keys) the sequences use.")
    public var fixture: String = "fixtures/bank.json"

    public init() {}

    /// The switches of `--switch HOST:PORT` (repeated), or the one of `--host` and `--port` when none is
    /// given.
    public func addresses(_ switches: [String]) throws(ValidationError) -> [SwitchAddress] {
        guard !switches.isEmpty else { return [SwitchAddress(host: self.host, port: self.port)] }
        return try switches.map { text throws(ValidationError) in
            do {
                return try SwitchAddress(parsing: text)
            } catch {
                throw ValidationError("--switch \(error)")
            }
        }
    }
}

/// `--switch HOST:PORT`, repeated: the switches of one bank a load or a check spreads its terminals across.
public struct SwitchListOptions: ParsableArguments, Sendable {
    @Option(
        name: .customLong("switch"),
        help: """
            A switch of the bank, HOST:PORT; repeat it for several switches on one bank: terminal i starts \
            on the i-th (round the list). Without it, --host and --port.
            """
    )
    public var switches: [String] = []

    public init() {}
}

/// `atm-harness flood`.
public struct FloodOptions: ParsableArguments, Sendable {
    @OptionGroup public var address: SwitchAddressOptions

    @Option(help: "Frames to send.")
    public var frames: Int = 10_000

    @Option(help: "Concurrent connections.")
    public var connections: Int = 40

    @Option(help: "The switch's process id, to measure its memory.")
    public var pid: Int32?

    @Option(help: "The most the switch's resident memory may grow over the measured flood, in MiB.")
    public var maxGrowthMib: Int = 64

    @Option(help: "Idle connections to hold open at once after the flood (their memory is measured with --pid).")
    public var idle: Int = 0

    @Option(help: "A sequence to play afterwards (it must pass).")
    public var then: String = "fixtures/sequences/after-flood.json"

    public init() {}
}

/// `atm-harness load`.
public struct LoadOptions: ParsableArguments, Sendable {
    @OptionGroup public var address: SwitchAddressOptions
    @OptionGroup public var list: SwitchListOptions

    @Option(
        name: [.customLong("terminals"), .customLong("connections")],
        help: "Terminals, each signed on over its own connection (--connections: the older name)."
    )
    public var terminals: Int = 2

    @Option(
        name: [.customLong("duration"), .customLong("seconds")],
        help: "Seconds measured, after the warm-up (--seconds: the older name)."
    )
    public var duration: Double = 10

    @Option(help: "Seconds of load before the measured window.")
    public var warmup: Double = 1

    @Option(help: "The share of each kind of request: withdrawal, balance, transfer, deposit.")
    public var mix: String = LoadMix.atm.description

    @Option(help: "Requests a second for all terminals together (open loop); without it, a closed loop.")
    public var rate: Double?

    @Option(help: "The seed of the terminals' choices of requests.")
    public var seed: UInt64 = 1

    @Option(
        help: """
            Cards each terminal takes in turn, each request a new card session with its PIN (above 1: a \
            cash-out ring, many cards at one ATM, which transaction monitoring's cash_out_ring rule watches).
            """
    )
    public var cardsPerTerminal: Int = 1

    @Flag(help: "Print the report as one JSON object.")
    public var json = false

    @Flag(help: "No progress line each second.")
    public var quiet = false

    @Option(
        help: """
            Write the measured window's latency distribution to this file in HdrHistogram's \
            percentile-distribution format (milliseconds; what wrk2 prints and HdrHistogram's plotter reads).
            """
    )
    public var hgrm: String?

    @Option(help: "Draw the latency distribution (latency against percentile, log scale) to this SVG file.")
    public var plot: String?

    @Option(
        help: """
            Idle terminals beside the busy ones: the fixture's ATMs after the first --terminals sign on \
            first, each over its own connection, then only echo every --echo-every seconds until the end \
            (atm-harness load-bank --idle-terminals N writes them).
            """
    )
    public var idle: Int = 0

    @Option(help: "Seconds between an idle terminal's echoes.")
    public var echoEvery: Int = 60

    @Option(
        help: """
            Spread the terminals' first requests over this time (500ms, 10s, 1m), so the load grows \
            instead of arriving at once. 0: all at once.
            """
    )
    public var ramp: String = "0"

    @Option(help: "A closed loop's pause after each answer before the terminal's next request (200ms, 2s). 0: none.")
    public var think: String = "0"

    @Flag(
        help: """
            Run against a bank that is not a load bank (the demo's fixtures/bank.json): its customers' money \
            moves and their daily limits are reached.
            """
    )
    public var allowDemoBank = false

    @Option(
        name: .customLong("script"),
        help: """
            A script (as `atm-harness run` plays it) to replay as load beside the mix, by --script-users \
            users, each a terminal of its own (the fixture's ATMs after the busy and idle ones), its runs (data \
            rows, repeat) dealt out among them, over and over until the end. Repeat for several scripts.
            """
    )
    public var scripts: [String] = []

    @Option(help: "Users playing the --script runs at once, each as its own terminal and with runs of its own.")
    public var scriptUsers: Int = 1

    public init() {}

    /// `--ramp` and `--think` as durations.
    public func pacing() throws(ValidationError) -> (ramp: Duration, think: Duration) {
        func parse(_ text: String, _ option: String) throws(ValidationError) -> Duration {
            do {
                return try ScriptDuration.parse(text)
            } catch {
                throw ValidationError("\(option): \(error.detail)")
            }
        }
        return (try parse(self.ramp, "--ramp"), try parse(self.think, "--think"))
    }

    public func validate() throws {
        guard self.terminals >= 1 || (self.terminals == 0 && !self.scripts.isEmpty) else {
            throw ValidationError("--terminals must be 1 or more (0 only with --script: the scripts alone)")
        }
        guard (1...10_000).contains(self.scriptUsers) else { throw ValidationError("--script-users must be 1 to 10000") }
        guard (0...99_999).contains(self.idle) else { throw ValidationError("--idle must be 0 to 99999") }
        guard (1...3_600).contains(self.echoEvery) else { throw ValidationError("--echo-every must be 1 to 3600 seconds") }
        guard self.cardsPerTerminal >= 1 else { throw ValidationError("--cards-per-terminal must be 1 or more") }
        guard self.duration > 0 else { throw ValidationError("--duration must be above 0 seconds") }
        guard self.warmup >= 0 else { throw ValidationError("--warmup must be 0 or more seconds") }
        if let rate = self.rate, rate <= 0 { throw ValidationError("--rate must be above 0 requests a second") }
        let (ramp, think) = try self.pacing()
        if think > .zero, self.rate != nil {
            throw ValidationError("--think is a closed loop's pause; with --rate each terminal keeps its own schedule")
        }
        guard ramp < .seconds(self.warmup + self.duration) else {
            throw ValidationError("--ramp must be shorter than the run (--warmup plus --duration)")
        }
        _ = try self.address.addresses(self.list.switches)
        do {
            _ = try LoadMix(parsing: self.mix)
        } catch {
            throw ValidationError("--mix: \(error)")
        }
    }
}

/// `atm-harness bench-posting`.
public struct BenchPostingOptions: ParsableArguments, Sendable {
    @Option(help: "Superuser URL of the cluster (default: $CASHPOINT_DATABASE_URL).")
    public var databaseURL: String?

    @Option(help: "Concurrent callers.")
    public var clients = 32

    @Option(help: "Seconds measured per round.")
    public var seconds = 20

    @Option(help: "Seconds of warm-up per round, not counted.")
    public var warmup = 3

    @Option(help: "Rounds with the chain on, and as many with it off, alternating.")
    public var rounds = 2

    @Option(help: "Database connections in the switch's pool. On 2 cores, 12-24 do best.")
    public var connections: Int = 16

    @Option(
        help: """
            NIO event loops for the pool's connections; each caller runs on one of them, as the switch \
            runs each terminal connection on its channel's loop. 0: callers on Swift's global executor \
            and the connections on NIO's shared group, with a thread hop per query.
            """
    )
    public var eventLoops: Int = 1

    @Option(help: "Accounts the transfers pick from (pgbench's script uses 100).")
    public var accounts = 100

    @Option(
        help: """
            Quiet accounts besides them, so the bank has a realistic size (pgbench -i -s 10 makes \
            1,000,000 accounts, of which its script uses 100).
            """
    )
    public var quietAccounts = 1_000_000

    @Option(
        help: """
            Transaction monitoring's rule file: a third kind of round runs with the chain on and monitoring \
            on (these rules in force, the worker running). "none": no such rounds.
            """
    )
    public var rules = "fixtures/aml-rules.yaml"

    @Flag(
        inversion: .prefixedNo,
        help: """
            Run transaction monitoring's worker in the monitoring rounds (without it, a round measures the \
            posting path's own share: the velocity check and the queue row).
            """
    )
    public var monitoringWorker = true

    public init() {}
}

/// `atm-harness bank`.
public struct BankCheckOptions: ParsableArguments, Sendable {
    @OptionGroup public var address: SwitchAddressOptions
    @OptionGroup public var list: SwitchListOptions

    @Option(help: "Superuser URL of the bank's database, read directly (default: $CASHPOINT_DATABASE_URL).")
    public var databaseURL: String?

    @Option(help: "Terminals, each over its own connection; two share each card.")
    public var terminals: Int = 8

    @Option(help: "Seconds of requests (a chaos run goes on until every fault has fired).")
    public var duration: Double = 30

    @Option(help: "The seed of the requests and of the fault schedule (default: a random one, printed).")
    public var seed: UInt64?

    @Flag(
        help: """
            Inject faults: kill -9 of the switch, PostgreSQL restarted, connections cut, delay, partition; \
            with --kill-primary (a pg_auto_failover cluster): kill -9 of a switch while the others serve, \
            the primary killed and the old one back as secondary, connections cut.
            """
    )
    public var chaos = false

    @Option(help: "Where the database proxy listens (127.0.0.1); the switch's database URL names this port.")
    public var proxyPort: Int?

    @Option(help: "The PostgreSQL the proxy forwards to, HOST:PORT.")
    public var proxyUpstream: String?

    @Option(help: "Shell command run once the proxy listens, returning once the switch listens.")
    public var startSwitch: String?

    @Option(
        help: """
            Shell command: kill -9 a switch and start it again, returning once it listens; the switch's \
            index (0 for the first --switch) is appended as an argument.
            """
    )
    public var restartSwitch: String?

    @Option(help: "Shell command: kill -9 the cluster's primary node, returning once the secondary is promoted.")
    public var killPrimary: String?

    @Option(help: "Shell command: start the killed node again, returning once it is the new primary's secondary.")
    public var rejoinPrimary: String?

    @Option(help: "With --kill-primary: the least number of times the primary is killed.")
    public var failovers: Int = 1

    @Option(help: "Shell command: restart PostgreSQL (pg_ctl restart -m immediate), returning once it is up.")
    public var restartDatabase: String?

    @Option(
        help: """
            After the run, with the switch still running: seconds its audit sealer may take to seal every \
            audit row written until then (default: not checked; the switch needs an audit key).
            """
    )
    public var auditSealedWithin: Int?

    @Option(help: "Write the check's bank fixture (for --terminals) to this file and exit.")
    public var writeFixture: String?

    public init() {}

    /// The ranges, and the options that go together.
    public func validate() throws {
        guard (1...500).contains(self.terminals) else { throw ValidationError("--terminals must be 1 to 500") }
        guard self.duration > 0 else { throw ValidationError("--duration must be above 0 seconds") }
        guard (self.auditSealedWithin ?? 0) >= 0 else { throw ValidationError("--audit-sealed-within must be 0 or more") }
        if self.proxyPort != nil || self.proxyUpstream != nil {
            guard let port = self.proxyPort, (1...65_535).contains(port),
                HarnessCommands.upstream(self.proxyUpstream) != nil
            else {
                throw ValidationError("--proxy-port (1-65535) and --proxy-upstream HOST:PORT go together")
            }
        }
        _ = try self.address.addresses(self.list.switches)
        guard self.failovers >= 1 else { throw ValidationError("--failovers must be 1 or more") }
        if self.killPrimary != nil || self.rejoinPrimary != nil {
            guard self.chaos, self.killPrimary != nil, self.rejoinPrimary != nil, self.restartSwitch != nil else {
                throw ValidationError("--kill-primary and --rejoin-primary go together, with --chaos and --restart-switch")
            }
            guard self.restartDatabase == nil, self.proxyPort == nil else {
                throw ValidationError(
                    "--kill-primary is a cluster's run: the switches use the cluster's URL, without the database "
                        + "proxy or --restart-database"
                )
            }
        } else if self.chaos {
            guard self.proxyPort != nil, self.restartSwitch != nil, self.restartDatabase != nil else {
                throw ValidationError(
                    "--chaos needs --proxy-port, --proxy-upstream, --restart-switch and --restart-database "
                        + "(or, on a cluster, --kill-primary, --rejoin-primary and --restart-switch)"
                )
            }
        }
    }
}
