import ArgumentParser
import CashpointDatabase
import CashpointHarness
import Foundation

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
        let benchmark = PostingBenchmark(
            clients: self.clients,
            seconds: self.seconds,
            warmup: self.warmup,
            rounds: self.rounds,
            connections: self.connections,
            eventLoops: self.eventLoops,
            accounts: self.accounts,
            quietAccounts: self.quietAccounts
        )
        if let invalid = benchmark.invalid { throw ValidationError(invalid) }
        try await benchmark.run(root: try DatabaseURL(text), switchPassword: switchPassword)
    }
}
