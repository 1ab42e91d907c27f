import ArgumentParser
import CashpointHarness
import Foundation

@main
struct ATMHarness: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm-harness",
        abstract: """
            Tools for the ATM-87 protocol and the switch: decode messages, render the documented examples, play \
            scripted sequences, flood a switch with garbage, load it as many ATMs do, measure posting.
            """,
        subcommands: [
            Decode.self, Examples.self, Run.self, Flood.self, Load.self, LoadBankFixture.self, QuietAccounts.self,
            BenchPosting.self, Bank.self, SimulateSwitch.self, CheckScripts.self,
        ]
    )
}

/// Exits with the verdict's status (0 passed, 1 failed, 2 could not run).
func finish(_ verdict: HarnessVerdict) throws {
    if verdict != .passed { throw ExitCode(verdict.rawValue) }
}

struct Examples: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render the protocol examples (hex dump and field table) for docs/protocol.md.",
        discussion: "With --write PAGE, replaces the page's generated section; otherwise prints it."
    )
    @Option(help: "The examples file.") var fixtures = "fixtures/protocol-examples.json"
    @Option(help: "A Markdown page whose generated examples section is replaced.") var write: String?

    func run() async throws { print(try HarnessCommands.examples(fixtures: fixtures, write: write)) }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play scripts (fixtures/sequences/*.yaml, *.json) at a switch and check every answer.",
        discussion: """
            Checks every script first (as `check` does): if one fails, none runs and nothing is sent. \
            Prints each step, and for a step that failed what differed and both messages through the \
            masking printer; the closing line is `N passed, N failed, N skipped` (steps). docs/harness.md \
            describes scripts. Exits 1 if any step failed or a script failed the check.
            """
    )
    @Argument(help: "Script files (YAML or JSON).") var files: [String]
    @OptionGroup var address: SwitchAddressOptions
    @Option(help: "Write a JUnit XML report here (a testsuite per script, a testcase per step).") var junit: String?
    @Flag(help: "Print the report as JSON on standard output (the progress goes to standard error).") var json = false

    func run() async throws {
        try finish(try await HarnessCommands.run(files: files, address: address, junit: junit, json: json))
    }
}

struct Flood: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: """
            Send random and garbled frames over many connections, then check that a valid transaction still \
            succeeds.
            """,
        discussion: """
            With --pid, reads the switch's resident memory (/proc) after a warm-up flood and after the \
            measured one, and fails if it grew by more than --max-growth-mib. Exits 1 on any failure.
            """
    )
    @OptionGroup var options: FloodOptions

    func run() async throws { try finish(try await HarnessCommands.flood(options)) }
}

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
            Terminals and cards come from --fixture (`atm-harness load-bank --terminals N > FILE`, then \
            `atm-switch seed FILE`); --script FILE replays a script's runs beside the mix. Exits 1 if a \
            request got no usable answer or a script step failed, 2 if the load could not start.
            """
    )
    @OptionGroup var options: LoadOptions

    func run() async throws { try finish(try await HarnessCommands.load(options)) }
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
    @Option(help: "Terminals (and customers with a card each).") var terminals = 32
    @Option(help: "More ATMs after them with no card (IDL00001, ...): atm-harness load --idle N.") var idleTerminals = 0
    @Option(help: "Write to this file instead of standard output.") var output: String?

    func validate() throws {
        guard (1...9_999).contains(terminals) else { throw ValidationError("--terminals must be 1 to 9999") }
        guard (0...99_999).contains(idleTerminals) else { throw ValidationError("--idle-terminals must be 0 to 99999") }
    }

    func run() async throws { try HarnessCommands.loadBank(terminals: terminals, idleTerminals: idleTerminals, output: output) }
}

struct QuietAccounts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add customers with an account each and no money to a seeded bank, so it has a bank's size.",
        discussion: """
            As `pgbench -i -s 10` puts its script's 100 busy accounts among 1,000,000, so that the \
            planner reads indexes as a real bank's switch does. Needs the cluster's superuser URL.
            """
    )
    @Option(help: "Superuser URL of the bank's database (default: $CASHPOINT_DATABASE_URL).") var databaseURL: String?
    @Option(help: "Accounts to add.") var count = 1_000_000

    func run() async throws { try await HarnessCommands.quietAccounts(databaseURL: databaseURL, count: count) }
}

struct BenchPosting: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the switch's posting throughput (scripts/bench-posting compares it with pgbench).",
        discussion: """
            Creates the database cashpoint_bench (dropping an old one), then runs --clients concurrent \
            transfer callers through the switch's posting path, alternately with the audit sealer running \
            (chain on) and not (chain off). Needs the cluster's superuser URL (scripts/pg url) and the \
            switch role's password ($CASHPOINT_SWITCH_PASSWORD). Build with -c release for real figures.
            """
    )
    @OptionGroup var options: BenchPostingOptions

    func run() async throws { try await HarnessCommands.benchPosting(options) }
}

struct Bank: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: """
            The bank check: concurrent transfers, withdrawals and deposits, every one looked up in the ledger, \
            under faults.
            """,
        discussion: """
            After Jepsen's bank test, stricter: every read and the end state keep the total of all \
            accounts, no customer account goes below zero, every request answered 00 is in the ledger \
            exactly once, every refused one is not, and every one in doubt (no answer, 91, 96, connection \
            lost) is, once its reversal advice is acknowledged, either absent or posted once and reversed. \
            With --chaos, faults fire at moments drawn from --seed: kill -9 of the switch (--restart-switch), \
            PostgreSQL restarted (--restart-database), the terminals' connections cut, a delay and a \
            partition between the switch and PostgreSQL (a proxy on --proxy-port in front of \
            --proxy-upstream, which the switch must use as its database). Write the bank with \
            --write-fixture FILE and seed it with `atm-switch seed FILE`; scripts/bank-check does it all. \
            Exits 1 on a finding or a fault that did not fire, 2 if the check could not run.
            """
    )
    @OptionGroup var options: BankCheckOptions

    func run() async throws { try finish(try await HarnessCommands.bank(options)) }
}
