public import CashpointBank
public import CashpointDatabase
import CashpointSecurity
import CashpointStore
import Foundation
import Logging
import NIOPosix
import PostgresNIO

/// `atm-harness bench-posting`: the switch's posting path (`bank.post` through the store, as the switch
/// calls it) measured with the audit sealer running and not, and, given monitoring rules, a third kind
/// of round with the chain on and transaction monitoring on (the rules in force, each posting queued in
/// its statement, the worker examining the queue as the switch's does), rounds alternating, on a bank
/// of its own (the database cashpoint_bench, made anew). In the other rounds monitoring is off
/// (`bank.settings.monitoring_enabled`). scripts/bench-posting sets it beside pgbench.
public struct PostingBenchmark: Sendable {
    public var clients: Int
    public var seconds: Int
    public var warmup: Int
    public var rounds: Int
    public var connections: Int
    public var eventLoops: Int
    public var accounts: Int
    public var quietAccounts: Int
    /// Transaction monitoring's rules for the monitoring rounds; nil: no such rounds.
    public var rules: MonitoringRuleSet?
    /// Whether the monitoring rounds run the worker (false: the posting path's own share only).
    public var monitoringWorker: Bool

    public init(
        clients: Int,
        seconds: Int,
        warmup: Int,
        rounds: Int,
        connections: Int,
        eventLoops: Int,
        accounts: Int,
        quietAccounts: Int,
        rules: MonitoringRuleSet? = nil,
        monitoringWorker: Bool = true
    ) {
        self.rules = rules
        self.monitoringWorker = monitoringWorker
        self.clients = clients
        self.seconds = seconds
        self.warmup = warmup
        self.rounds = rounds
        self.connections = connections
        self.eventLoops = eventLoops
        self.accounts = accounts
        self.quietAccounts = quietAccounts
    }

    /// Why these settings cannot run; nil when they can.
    public var invalid: String? {
        guard self.clients >= 1, self.seconds >= 1, self.accounts >= 2, self.rounds >= 1, self.connections >= 1,
            (0...10_000_000).contains(self.quietAccounts),
            (0...64).contains(self.eventLoops)
        else {
            return "clients, connections, seconds and rounds must be at least 1, accounts at least 2, quiet accounts 0 to 10,000,000, event loops 0 to 64"
        }
        return nil
    }

    /// Runs the benchmark against the cluster at `root` (its superuser), printing as it goes.
    public func run(root: DatabaseURL, switchPassword: String) async throws {
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let log = logger

        say(
            "preparing cashpoint_bench: \(self.accounts) busy accounts among \(self.accounts + self.quietAccounts); \(self.clients) callers share a pool of \(self.connections) connections on \(self.eventLoops == 0 ? "NIO's shared group" : "\(self.eventLoops) event loop(s)")"
        )
        try await self.recreate(root, "cashpoint_bench", logger: log)
        var bench = root
        bench.database = "cashpoint_bench"
        try await bench.withConnection(logger: log) { connection in
            _ = try await Migrator.migrate(
                connection: connection,
                migrations: try Migration.bundled(),
                repeatables: try RepeatableMigration.bundled(),
                switchPassword: switchPassword,
                logger: log
            )
        }
        let switchURL = bench.withUser("cashpoint_switch", password: switchPassword)
        let auditKey = SecretKey.generate()
        let (clients, accounts, seconds, warmup, rounds) = (
            self.clients, self.accounts, self.seconds, self.warmup, self.rounds
        )
        let connections = self.connections
        let rules = self.rules
        let worker = self.monitoringWorker
        let quietAccounts = self.quietAccounts
        let benchAsSuperuser = bench
        let group: MultiThreadedEventLoopGroup? =
            self.eventLoops > 0 ? MultiThreadedEventLoopGroup(numberOfThreads: self.eventLoops) : nil
        let executors: [any TaskExecutor] =
            group.map { group in group.makeIterator().map(EventLoopExecutor.init) } ?? []
        let results = try await switchURL.withClient(
            logger: log,
            maximumConnections: connections + 1,
            eventLoopGroup: group
        ) { client in
            let store = BankStore(client: client, logger: log)
            try await PostingLoad.prepare(store: store, accounts: accounts)
            try await benchAsSuperuser.withConnection(logger: log) { connection in
                try await PostingLoad.addQuietAccounts(quietAccounts, connection: connection, logger: log)
            }
            let sealer = AuditSealer(client: client, key: auditKey.key, logger: log)
            try await sealer.sealAll()
            if let rules {
                _ = try await store.loadMonitoringRules(
                    rules,
                    source: "bench",
                    maker: nil,
                    reason: nil,
                    actor: .system("bench")
                )
            }
            var on: [PostingLoad.Result] = []
            var off: [PostingLoad.Result] = []
            var monitored: [PostingLoad.Result] = []
            let kinds = rules == nil ? 2 : 3
            for round in 0..<(kinds * rounds) {
                let chain = round % kinds >= 1
                let monitoring = round % kinds == 2
                try await benchAsSuperuser.withConnection(logger: log) { connection in
                    try await connection.query(
                        "UPDATE bank.settings SET monitoring_enabled = \(monitoring)",
                        logger: log
                    )
                }
                // Start each round with the chain caught up, so a chain-on round seals only its own rows,
                // and with the last round's dirty pages written (scripts/bench-posting does the same
                // before each pgbench round), so no round pays for another's checkpoint.
                let catchUp = ContinuousClock.now
                let caughtUp = try await sealer.sealAll()
                if caughtUp > 0 {
                    let elapsed = ContinuousClock.now - catchUp
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    say(
                        String(
                            format: "sealer catching up: %d rows in %.2f s (%.0f rows/s)",
                            caughtUp,
                            seconds,
                            Double(caughtUp) / seconds
                        )
                    )
                }
                try await root.withConnection(logger: log) { connection in
                    try await connection.query("CHECKPOINT", logger: log)
                }
                let result = try await PostingLoad.run(
                    store: store,
                    accounts: accounts,
                    clients: clients,
                    warmup: .seconds(warmup),
                    duration: .seconds(seconds),
                    sealer: chain ? sealer : nil,
                    monitoring: monitoring && worker,
                    round: round,
                    executors: executors
                )
                say(
                    String(
                        format:
                            "round %d, chain %@%@: %.0f postings/s (%d approved, %d refused, %d errors, %d rows sealed%@; %@)",
                        round + 1,
                        chain ? "on " : "off",
                        monitoring ? (worker ? ", monitoring on" : ", monitoring on, no worker") : "",
                        result.throughput,
                        result.approved,
                        result.refused,
                        result.errors,
                        result.sealed,
                        monitoring ? ", \(result.examined) examined by the monitoring worker" : "",
                        result.cpuPerPosting.map {
                            String(
                                format: "machine CPU %.0f µs a posting, of which this client %.0f µs",
                                $0,
                                result.clientCPUPerPosting ?? 0
                            )
                        } ?? "machine CPU not readable"
                    )
                )
                if monitoring {
                    // What the worker left is examined before the next round, outside the measure.
                    while try await store.monitor(limit: 5_000).remaining > 0 {}
                    monitored.append(result)
                } else if chain {
                    on.append(result)
                } else {
                    off.append(result)
                }
            }
            try await sealer.sealAll()
            let ledger = try await LedgerVerifier.verify(client: client, logger: log)
            let audit = try await AuditVerifier.verify(client: client, key: auditKey.key, logger: log)
            say(
                "after the load: ledger verify \(ledger.isClean ? "OK" : "FAILED"), audit verify \(audit.isClean ? "OK" : "FAILED") (\(audit.sealed) rows chained)"
            )
            return (on, off, monitored)
        }
        try await group?.shutdownGracefully()
        let onRate = results.0.map(\.throughput).reduce(0, +) / Double(results.0.count)
        let offRate = results.1.map(\.throughput).reduce(0, +) / Double(results.1.count)
        say(String(format: "posting, audit chain on:  %.0f/s", onRate))
        say(
            String(
                format: "posting, audit chain off: %.0f/s (the chain costs %.1f%%)",
                offRate,
                100 * (1 - onRate / offRate)
            )
        )
        if !results.2.isEmpty {
            let monitoredRate = results.2.map(\.throughput).reduce(0, +) / Double(results.2.count)
            say(
                String(
                    format: "posting, audit chain on, monitoring on: %.0f/s (monitoring costs %.1f%% against the chain on)",
                    monitoredRate,
                    100 * (1 - monitoredRate / onRate)
                )
            )
        }
        // The machine's CPU per posting over all measured windows of each kind (scripts/bench-posting
        // sets the chain-on figure against the yardstick's CPU per transaction).
        for (name, rounds) in [("on", results.0), ("off", results.1), ("on, monitoring on", results.2)] where !rounds.isEmpty {
            let cpu = rounds.compactMap(\.cpuMicroseconds)
            let postings = rounds.map { $0.approved + $0.refused }.reduce(0, +)
            if cpu.count == rounds.count, postings > 0 {
                let client = rounds.compactMap(\.clientMicroseconds).reduce(0, +)
                say(
                    String(
                        format: "cpu per posting, audit chain %@: %.0f us (this client: %.0f us)",
                        name,
                        Double(cpu.reduce(0, +)) / Double(postings),
                        Double(client) / Double(postings)
                    )
                )
            }
        }

    }

    func recreate(_ root: DatabaseURL, _ name: String, logger: Logger) async throws {
        try await root.withConnection(logger: logger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"),
                logger: logger
            )
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
    }
}

/// Prints a line at once, even when standard output is a pipe (progress of a long run); a closed
/// pipe stops the printing, not the run (HarnessOutput).
public func say(_ text: String) {
    HarnessOutput.standardOutput.line(text)
}
