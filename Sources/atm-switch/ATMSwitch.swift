import ArgumentParser
import CashpointSwitch
import Foundation

@main
struct ATMSwitch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm-switch",
        abstract: "The Cashpoint switch: its bank in PostgreSQL, and the tools to run and check it.",
        discussion: """
            Database commands read the URL from --database-url or $CASHPOINT_DATABASE_URL; migrate needs a \
            role that may create roles, the others run as cashpoint_switch.
            """,
        subcommands: [
            Serve.self, Stats.self, Terminal.self, Migrate.self, Seed.self, Ledger.self, Audit.self, Keygen.self,
            CheckDatabase.self, AmlCommand.self, ReportCommand.self, SanctionsCommand.self,
        ]
    )

    /// A database error is printed as PostgreSQL's message, its SQLSTATE and what to do (exit 1).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            guard let failure = SwitchCommands.databaseFailure(error) else { Self.exit(withError: error) }
            FileHandle.standardError.write(Data("Error: \(failure)\n".utf8))
            Self.exit(withError: ExitCode(1))
        }
    }
}

/// Prints a verification's text; exits 1 if it did not pass.
func report(_ verdict: (text: String, passed: Bool)) throws {
    print(verdict.text)
    if !verdict.passed { throw ExitCode(1) }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the switch: ATM-87 over TCP, the bank in PostgreSQL, metrics over HTTP.",
        discussion: """
            Connects as cashpoint_switch ($CASHPOINT_SWITCH_DATABASE_URL, else $CASHPOINT_DATABASE_URL). \
            SIGTERM or SIGINT: stop accepting, answer the requests in flight, exit 0. \
            docs/operations.md lists every setting.
            """
    )
    @OptionGroup var options: ServeOptions

    func run() async throws { try await SwitchCommands.serve(options) }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: """
            Print a running switch's metrics (its Prometheus endpoint): counts by message type and response \
            code, latency histogram, connections.
            """
    )
    @Option(help: "The switch's metrics host.") var host = "127.0.0.1"
    @Option(help: "The switch's metrics port.") var metricsPort = 9583

    func run() async throws {
        print(try await SwitchCommands.stats(host: host, metricsPort: metricsPort), terminator: "")
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the schema migrations (in one transaction; running it again changes nothing).",
        discussion: """
            Creates the roles cashpoint_owner and cashpoint_switch, the bank schema, its functions and \
            grants; then applies each function's file (Migrations/functions/NAME.sql) that is new or changed. \
            With --switch-password-file FILE, $CASHPOINT_SWITCH_PASSWORD or --switch-password it sets \
            the switch role's password, sent as a SCRAM-SHA-256 verifier computed here: the password never \
            reaches the server or its log. (--switch-password shows in ps; prefer the file or the variable.)
            """
    )
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var password: SwitchPasswordOptions

    func run() async throws { print(try await SwitchCommands.migrate(database: database, password: password)) }
}

struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a bank fixture (customers, accounts, cards, staff, terminals) into an empty bank.",
        discussion: "fixtures/bank.json is the demo bank; fixtures/README.md lists its test PINs and passwords."
    )
    @Argument(help: "The fixture file.") var file: String
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var pepper: PepperOptions
    @OptionGroup var switchKey: SwitchKeyOptions

    func run() async throws {
        print(try await SwitchCommands.seed(fixture: file, database: database, pepper: pepper, switchKey: switchKey))
    }
}

struct Ledger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the double-entry ledger.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Every movement's lines sum to zero and every balance equals its lines; exits 1 naming what \
                differs.
                """
        )
        @OptionGroup var database: DatabaseOptions

        func run() async throws { try report(try await SwitchCommands.verifyLedger(database: database)) }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal and check the audit log's hash chain.",
        subcommands: [Verify.self, Seal.self]
    )

    struct Seal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Chain every audit row not yet sealed (the switch does this continuously while it runs)."
        )
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var key: AuditKeyOptions

        func run() async throws { print(try await SwitchCommands.sealAudit(database: database, auditKey: key)) }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the audit chain; exits 1 naming every altered, removed or inserted row.",
            discussion: """
                Rows the sealer has not reached yet are counted as awaiting it, not as findings, however old. \
                With --sealed-within, it first waits for a running switch's sealer to seal every row written \
                before the command started, and a row still waiting after that many seconds is a finding.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var key: AuditKeyOptions
        @Option(help: "Seconds to wait for a running switch to seal every row written before this command.")
        var sealedWithin: Int?

        func run() async throws {
            try report(try await SwitchCommands.verifyAudit(database: database, auditKey: key, sealedWithin: sealedWithin))
        }
    }
}

struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a new random 32-byte key file (a pepper or an audit key), readable by its owner only."
    )
    @Argument(help: "The key file to create; an existing file is never overwritten.") var file: String

    func run() async throws { print(try SwitchCommands.keygen(file: file)) }
}

struct CheckDatabase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Connect to PostgreSQL and report its version and durability settings.",
        discussion: "Exits 1 if the URL is invalid or the database does not answer within 10 seconds."
    )
    @OptionGroup var database: DatabaseOptions

    func run() async throws { try report(try await SwitchCommands.checkDatabase(database: database)) }
}

struct Terminal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register terminals and manage their master keys.",
        subcommands: [Add.self, Rekey.self, Enable.self, Disable.self, TestKeys.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a terminal with its cash account and a new master key, printed once.",
            discussion: """
                The master key is stored sealed under the switch key; this is the only time it is shown. \
                Put it in the terminal's configuration.
                """
        )
        @OptionGroup var terminal: NewTerminalOptions
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var key: SwitchKeyOptions

        func run() async throws {
            print(try await SwitchCommands.addTerminal(terminal, database: database, switchKey: key))
        }
    }

    struct Rekey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a terminal a new master key, printed once; its session ends and it must sign on again."
        )
        @Argument(help: "The terminal id.") var id: String
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var key: SwitchKeyOptions

        func run() async throws {
            print(try await SwitchCommands.rekeyTerminal(id, database: database, switchKey: key))
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a terminal sign on again.")
        @Argument(help: "The terminal id.") var id: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws { print(try await SwitchCommands.setTerminal(id, enabled: true, database: database)) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse a terminal's sign-on and end its session.")
        @Argument(help: "The terminal id.") var id: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws { print(try await SwitchCommands.setTerminal(id, enabled: false, database: database)) }
    }

    struct TestKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Store a fixture's TEST master keys for its terminals that have no key yet (a demo bank seeded \
                before terminal keys).
                """
        )
        @Argument(help: "The fixture, e.g. fixtures/bank.json.") var fixture: String
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var key: SwitchKeyOptions

        func run() async throws {
            print(try await SwitchCommands.installTestKeys(fixture: fixture, database: database, switchKey: key))
        }
    }
}
