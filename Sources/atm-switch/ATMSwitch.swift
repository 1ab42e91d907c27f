import CashpointBank
import ArgumentParser
import CashpointDatabase
import CashpointSecurity
import CashpointStore
import Foundation
import Logging
import PostgresNIO

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
            CheckDatabase.self,
        ]
    )

    /// Runs the command; a database error is printed as PostgreSQL's message, its SQLSTATE and what to
    /// do (`DatabaseFailure`), never as PSQLError's generic text.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if let failure = DatabaseFailure(error) ?? Self.failure(error) {
                FileHandle.standardError.write(Data("Error: \(failure)\n".utf8))
                Self.exit(withError: ExitCode(1))
            }
            Self.exit(withError: error)
        }
    }

    static func failure(_ error: any Error) -> DatabaseFailure? {
        guard let error = error as? StoreError, let state = error.sqlState else { return nil }
        return DatabaseFailure(message: error.detail, sqlState: state)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the schema migrations (in one transaction; running it again changes nothing).",
        discussion: """
            Creates the roles cashpoint_owner and cashpoint_switch, the bank schema, its functions and \
            grants; then applies each function's file (Migrations/functions/NAME.sql) that is new or changed. With --switch-password-file FILE, $CASHPOINT_SWITCH_PASSWORD or --switch-password it sets \
            the switch role's password, sent as a SCRAM-SHA-256 verifier computed here: the password never \
            reaches the server or its log. (--switch-password shows in ps; prefer the file or the variable.)
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "Password for the cashpoint_switch role (16+ letters and digits). Shows in ps: prefer --switch-password-file.")
    var switchPassword: String?

    @Option(help: "A file holding the cashpoint_switch role's password (its first line).")
    var switchPasswordFile: String?

    /// The password: the file's, else the flag's, else the variable's.
    func password() throws -> String? {
        if let file = self.switchPasswordFile {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8),
                let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty
            else {
                throw ValidationError("--switch-password-file \(file): cannot be read, or its first line is empty")
            }
            return String(line)
        }
        return self.switchPassword ?? ProcessInfo.processInfo.environment["CASHPOINT_SWITCH_PASSWORD"]
    }

    func run() async throws {
        let url = try await self.database.reachableURL()
        let logger = try self.database.logger()
        let migrations = try Migration.bundled()
        let repeatables = try RepeatableMigration.bundled()
        let password = try self.password()
        let report = try await url.withConnection(logger: logger) { connection in
            try await Migrator.migrate(
                connection: connection,
                migrations: migrations,
                repeatables: repeatables,
                switchPassword: password,
                logger: logger
            )
        }
        print(
            "migrations: \(report.applied.count) applied \(report.applied), \(report.alreadyApplied.count) already applied"
        )
        print(
            "functions: \(report.appliedRepeatables.count) applied"
                + (report.appliedRepeatables.isEmpty
                    ? "" : " (\(report.appliedRepeatables.map(RepeatableMigration.file).joined(separator: ", ")))")
                + ", \(report.currentRepeatables.count) already current"
        )
    }
}

struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a bank fixture (customers, accounts, cards, staff, terminals) into an empty bank.",
        discussion: "fixtures/bank.json is the demo bank; fixtures/README.md lists its test PINs and passwords."
    )

    @Argument(help: "The fixture file.")
    var file: String

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var pepper: PepperOptions
    @OptionGroup var switchKey: SwitchKeyOptions

    func run() async throws {
        let url = try await self.database.reachableURL()
        let logger = try self.database.logger()
        let hasher = try self.pepper.hasher()
        let fixture: BankFixture
        do {
            fixture = try BankFixture.load(self.file)
        } catch {
            throw ValidationError("cannot read the fixture \(self.file): \(error)")
        }
        let report = try await url.withClient(logger: logger) { client in
            try await Seeder.seed(
                fixture,
                store: BankStore(client: client, logger: logger),
                hasher: hasher,
                switchKey: fixture.terminals.contains { $0.masterKey != nil } ? try self.switchKey.key() : nil
            )
        }
        print(
            "seeded: \(report.customers) customers, \(report.accounts) accounts, \(report.cards) cards, "
                + "\(report.staff) staff, \(report.terminals) terminals"
        )
    }
}

struct Ledger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the double-entry ledger.",
        subcommands: [LedgerVerify.self]
    )
}

struct LedgerVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Every movement's lines sum to zero and every balance equals its lines; exits 1 naming what differs."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let url = try await self.database.reachableURL()
        let logger = try self.database.logger()
        let report = try await url.withClient(logger: logger) { client in
            try await LedgerVerifier.verify(client: client, logger: logger)
        }
        print("ledger: \(report.transactions) transactions, \(report.lines) lines, \(report.accounts) accounts")
        try printVerdict("ledger verify", report.findings)
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Seal and check the audit log's hash chain.",
        subcommands: [AuditVerify.self, AuditSeal.self]
    )
}

struct AuditSeal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seal",
        abstract: "Chain every audit row not yet sealed (the switch does this continuously while it runs)."
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var auditKey: AuditKeyOptions

    func run() async throws {
        let url = try await self.database.reachableURL()
        let logger = try self.database.logger()
        let key = try self.auditKey.key()
        let sealed = try await url.withClient(logger: logger) { client in
            try await AuditSealer(client: client, key: key.key, logger: logger).sealAll()
        }
        print("audit seal: \(sealed) rows sealed")
    }
}

struct AuditVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Walk the audit chain; exits 1 naming every altered, removed or inserted row.",
        discussion: """
            Rows the sealer has not reached yet are counted as awaiting it, not as findings, however old. \
            With --sealed-within, it first waits for a running switch's sealer to seal every row written \
            before the command started, and a row still waiting after that many seconds is a finding.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var auditKey: AuditKeyOptions

    @Option(
        name: .customLong("sealed-within"),
        help: """
            Seconds to wait for a running switch to seal every row written before this command; a row \
            still unsealed then is a finding.
            """
    )
    var sealedWithin: Int?

    func run() async throws {
        let url = try await self.database.reachableURL()
        let logger = try self.database.logger()
        let key = try self.auditKey.key()
        let (report, unsealed) = try await url.withClient(logger: logger) { client in
            var unsealed: Int? = nil
            if let seconds = self.sealedWithin {
                unsealed = try await AuditVerifier.waitForSealer(
                    client: client,
                    within: .seconds(seconds),
                    logger: logger
                )
            }
            return (try await AuditVerifier.verify(client: client, key: key.key, logger: logger), unsealed)
        }
        let oldest = report.oldestPending.map { ", the oldest written \($0.components.seconds) s ago" } ?? ""
        print("audit: \(report.sealed) rows in the chain, \(report.pending) awaiting the sealer\(oldest)")
        var findings = report.findings
        if let unsealed, unsealed > 0, let seconds = self.sealedWithin {
            findings.append(
                Finding(
                    subject: "the sealer",
                    problem: "\(unsealed) rows written before this check were still not sealed after \(seconds) s: "
                        + "is a switch with the audit key running? Its log says why its sealing rounds fail"
                )
            )
        }
        try printVerdict("audit verify", findings)
    }
}

/// Prints a verification's findings, one a line, and exits 1 if there are any.
func printVerdict(_ name: String, _ findings: [Finding]) throws {
    guard !findings.isEmpty else {
        print("\(name): OK")
        return
    }
    for finding in findings { print("\(name): \(finding)") }
    print("\(name): FAILED (\(findings.count) findings)")
    throw ExitCode(1)
}

struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a new random 32-byte key file (a pepper or an audit key), readable by its owner only."
    )

    @Argument(help: "The key file to create; an existing file is never overwritten.")
    var file: String

    func run() async throws {
        guard !FileManager.default.fileExists(atPath: self.file) else {
            throw ValidationError("\(self.file) exists: keys are never overwritten")
        }
        let key = SecretKey.generate()
        guard
            FileManager.default.createFile(
                atPath: self.file,
                contents: Data((key.hexForKeyFile + "\n").utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else {
            throw ValidationError("cannot write \(self.file)")
        }
        print("wrote a new key to \(self.file)")
    }
}

struct CheckDatabase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-database",
        abstract: "Connect to PostgreSQL and report its version and durability settings.",
        discussion: "Exits 1 if the URL is invalid or the database does not answer within 10 seconds."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let url = try self.database.url()
        let logger = try self.database.logger()
        do {
            let report = try await DatabaseCheck.run(url, logger: logger)
            print("database \(url): \(report.version)")
            print("fsync=\(report.fsync) synchronous_commit=\(report.synchronousCommit)")
        } catch {
            print("database \(url) did not answer: \(String(reflecting: error))")
            throw ExitCode(1)
        }
    }
}
