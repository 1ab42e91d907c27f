import ArgumentParser
import CashpointDatabase
import CashpointHarness
import CashpointSecurity
import CashpointStore
import Foundation
import Logging
import NIOPosix
import PostgresNIO

struct BenchPosting: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-posting",
        abstract: "Measure the switch's posting throughput (scripts/bench-posting compares it with pgbench).",
        discussion: """
            Creates the database cashpoint_bench (dropping an old one), then runs --clients concurrent \
            transfer callers through the switch's posting path, alternately with the audit sealer running \
            (chain on) and not (chain off). Needs the cluster's superuser URL (scripts/pg url) and the \
            switch role's password ($CASHPOINT_SWITCH_PASSWORD). Build with -c release for real figures.
            """
    )

    @Option(help: "Superuser URL of the cluster (default: $CASHPOINT_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Concurrent callers.")
    var clients = 32

    @Option(help: "Seconds measured per round.")
    var seconds = 20

    @Option(help: "Seconds of warm-up per round, not counted.")
    var warmup = 3

    @Option(help: "Rounds with the chain on, and as many with it off, alternating.")
    var rounds = 2

    @Option(help: "Database connections in the switch's pool. On 2 cores, 12-24 do best.")
    var connections: Int = 16

    @Option(
        help: """
            NIO event loops for the pool's connections; each caller runs on one of them, as the switch \
            runs each terminal connection on its channel's loop. 0: callers on Swift's global executor \
            and the connections on NIO's shared group, with a thread hop per query.
            """
    )
    var eventLoops: Int = 1

    @Option(help: "Accounts the transfers pick from (pgbench's script uses 100).")
    var accounts = 100

    @Option(
        help: """
            Quiet accounts besides them, so the bank has a realistic size (pgbench -i -s 10 makes \
            1,000,000 accounts, of which its script uses 100).
            """
    )
    var quietAccounts = 1_000_000

    func run() async throws {
        guard let text = self.databaseURL ?? ProcessInfo.processInfo.environment["CASHPOINT_DATABASE_URL"] else {
            throw ValidationError("no database: pass --database-url or set CASHPOINT_DATABASE_URL (scripts/pg env)")
        }
        guard let switchPassword = ProcessInfo.processInfo.environment["CASHPOINT_SWITCH_PASSWORD"] else {
            throw ValidationError("set CASHPOINT_SWITCH_PASSWORD (eval \"$(scripts/pg env)\")")
        }
        guard self.clients >= 1, self.seconds >= 1, self.accounts >= 2, self.rounds >= 1, self.connections >= 1,
            (0...10_000_000).contains(self.quietAccounts),
            (0...64).contains(self.eventLoops)
        else {
            throw ValidationError(
                "clients, connections, seconds and rounds must be at least 1, accounts at least 2, quiet accounts 0 to 10,000,000, event loops 0 to 64"
            )
        }
        let root = try DatabaseURL(text)
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
            var on: [PostingLoad.Result] = []
            var off: [PostingLoad.Result] = []
            for round in 0..<(2 * rounds) {
                let chain = round % 2 == 1
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
                    round: round,
                    executors: executors
                )
                say(
                    String(
                        format:
                            "round %d, chain %@: %.0f postings/s (%d approved, %d refused, %d errors, %d rows sealed; %@)",
                        round + 1,
                        chain ? "on " : "off",
                        result.throughput,
                        result.approved,
                        result.refused,
                        result.errors,
                        result.sealed,
                        result.cpuPerPosting.map {
                            String(
                                format: "machine CPU %.0f µs a posting, of which this client %.0f µs",
                                $0,
                                result.clientCPUPerPosting ?? 0
                            )
                        } ?? "machine CPU not readable"
                    )
                )
                if chain { on.append(result) } else { off.append(result) }
            }
            try await sealer.sealAll()
            let ledger = try await LedgerVerifier.verify(client: client, logger: log)
            let audit = try await AuditVerifier.verify(client: client, key: auditKey.key, logger: log)
            say(
                "after the load: ledger verify \(ledger.isClean ? "OK" : "FAILED"), audit verify \(audit.isClean ? "OK" : "FAILED") (\(audit.sealed) rows chained)"
            )
            return (on, off)
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
        // The machine's CPU per posting over all measured windows of each kind (scripts/bench-posting
        // sets the chain-on figure against the yardstick's CPU per transaction).
        for (name, rounds) in [("on", results.0), ("off", results.1)] {
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

/// Prints a line at once, even when standard output is a pipe (progress of a long run).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
