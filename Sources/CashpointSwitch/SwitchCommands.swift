public import ArgumentParser
public import CashpointBank
public import CashpointDatabase
import CashpointMetrics
public import CashpointSecurity
public import CashpointStore
public import Foundation
public import Logging

/// The `atm-switch` commands, one function each: the executable parses the options and calls one.
/// Each returns what the command prints; a verification also says whether it passed (exit 1 if not).
/// A command that cannot run as asked throws `ValidationError`: it exits 64 with the reason, as for a
/// bad option.
public enum SwitchCommands {
    // MARK: Shared settings

    public static func logger(_ database: DatabaseOptions, default level: Logger.Level = .warning) -> Logger {
        var logger = Logger(label: "atm-switch")
        logger.logLevel = database.logLevel.flatMap(Logger.Level.init(rawValue:)) ?? level
        return logger
    }

    /// The database URL, checked by connecting once.
    static func reachableURL(
        _ database: DatabaseOptions,
        role: DatabaseRole = .owner
    ) async throws(ValidationError) -> DatabaseURL {
        do {
            return try await DatabaseURL.reachable(
                option: database.databaseURL,
                role: role,
                logger: self.logger(database)
            )
        } catch {
            throw ValidationError(error.reason)
        }
    }

    static func key(_ source: KeySource, file: String?) throws(ValidationError) -> SecretKey {
        do {
            return try source.load(file: file)
        } catch {
            throw ValidationError(error.description)
        }
    }

    static func switchKey(_ options: SwitchKeyOptions) throws(ValidationError) -> SwitchKey {
        SwitchKey(try self.key(.switchKey, file: options.switchKeyFile))
    }

    static func hasher(_ pepper: PepperOptions) throws(ValidationError) -> CredentialHasher {
        guard (4...31).contains(pepper.bcryptCost) else { throw ValidationError("--bcrypt-cost must be 4 to 31") }
        return CredentialHasher(pepper: try self.key(.pepper, file: pepper.pepperFile), cost: pepper.bcryptCost)
    }

    static func fixture(_ path: String) throws(ValidationError) -> BankFixture {
        do {
            return try BankFixture.load(path)
        } catch {
            throw ValidationError("cannot read the fixture \(path): \(error)")
        }
    }

    /// How a command's failure is reported: a database error as PostgreSQL's message, its SQLSTATE and
    /// what to do (exit 1), never as PSQLError's generic text; nil for any other error.
    public static func databaseFailure(_ error: any Error) -> DatabaseFailure? {
        if let failure = DatabaseFailure(error) { return failure }
        guard let error = error as? StoreError, let state = error.sqlState else { return nil }
        return DatabaseFailure(message: error.detail, sqlState: state)
    }

    /// A verification's findings as printed, one a line; passed when there are none.
    public static func verdict(
        _ name: String,
        _ findings: [some CustomStringConvertible]
    ) -> (text: String, passed: Bool) {
        guard !findings.isEmpty else { return ("\(name): OK", true) }
        let lines = findings.map { "\(name): \($0)" } + ["\(name): FAILED (\(findings.count) findings)"]
        return (lines.joined(separator: "\n"), false)
    }

    // MARK: serve, stats

    /// The switch's configuration from `serve`'s options.
    public static func configuration(_ serve: ServeOptions) -> SwitchConfiguration {
        SwitchConfiguration(
            host: serve.host,
            port: serve.port,
            idleTimeout: .seconds(serve.idleTimeout),
            maxConnections: serve.maxConnections,
            frameDeadline: .seconds(serve.frameDeadline),
            cardTokenLifetime: .seconds(serve.cardTokenLifetime),
            staffTokenLifetime: .seconds(serve.staffTokenLifetime),
            requestDeadline: .seconds(serve.requestDeadline),
            cardBIN: serve.cardBIN
        )
    }

    /// The metrics port `serve` opens, or nil for none.
    public static func metricsPort(_ serve: ServeOptions) -> Int? {
        !serve.noMetrics && serve.metricsPort >= 0 ? serve.metricsPort : nil
    }

    /// Runs the switch until SIGTERM or SIGINT. Connects as cashpoint_switch; seals the audit log while
    /// it runs when an audit key is given (`KeySource.auditKey`).
    public static func serve(_ serve: ServeOptions) async throws {
        let database = serve.database
        let logger = self.logger(database, default: .info)
        let (url, endpoint): (DatabaseURL, DatabaseEndpoint)
        do {
            // Every server of the URL kept: the switch starts on the one picked and follows a failover.
            (url, endpoint) = try await DatabaseURL.reachableServer(
                option: database.databaseURL,
                role: .switchRole,
                logger: logger
            )
        } catch {
            throw ValidationError(error.reason)
        }
        let hasher = try self.hasher(serve.pepper)
        let switchKey = try self.switchKey(serve.switchKey)
        let auditKey: SecretKey?
        do {
            auditKey = try KeySource.auditKey.loadIfGiven(file: serve.auditKeyFile)
        } catch {
            throw ValidationError(error.description)
        }
        if auditKey == nil {
            logger.warning("no audit key: the audit log is not sealed while the switch runs (atm-switch audit seal)")
        }
        var application = SwitchApplication(
            url: url,
            endpoint: endpoint,
            hasher: hasher,
            switchKey: switchKey,
            configuration: self.configuration(serve),
            poolSize: serve.poolSize,
            batchPostings: serve.batchPostings,
            postingBatches: serve.postingBatches,
            eventLoops: serve.eventLoops,
            auditKey: auditKey,
            logger: logger
        )
        application.poolStaysOpen = true
        do {
            try await application.serve(metricsHost: serve.host, metricsPort: self.metricsPort(serve))
        } catch let error as SchemaNotReady {
            throw ValidationError(error.description)
        }
    }

    /// A running switch's metrics, as its endpoint gives them.
    public static func stats(host: String, metricsPort: Int) async throws(ValidationError) -> String {
        do {
            return try await MetricsEndpoint.fetch(host: host, port: metricsPort)
        } catch {
            throw ValidationError("no metrics from \(host):\(metricsPort): \(error)")
        }
    }

    // MARK: The bank's database

    /// The switch role's password for `migrate`: the file's first line, else the option's, else
    /// $CASHPOINT_SWITCH_PASSWORD; nil when none is given.
    public static func switchPassword(
        file: String?,
        option: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ValidationError) -> String? {
        guard let file else { return option ?? environment["CASHPOINT_SWITCH_PASSWORD"] }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8),
            let line = text.split(whereSeparator: \.isNewline).first, !line.isEmpty
        else {
            throw ValidationError("--switch-password-file \(file): cannot be read, or its first line is empty")
        }
        return String(line)
    }

    public static func migrate(database: DatabaseOptions, password: SwitchPasswordOptions) async throws -> String {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database)
        let migrations = try Migration.bundled()
        let repeatables = try RepeatableMigration.bundled()
        let password = try self.switchPassword(file: password.switchPasswordFile, option: password.switchPassword)
        let report = try await url.withConnection(logger: logger) { connection in
            try await Migrator.migrate(
                connection: connection,
                migrations: migrations,
                repeatables: repeatables,
                switchPassword: password,
                logger: logger
            )
        }
        let functions = report.appliedRepeatables.map(RepeatableMigration.file).joined(separator: ", ")
        return """
            migrations: \(report.applied.count) applied \(report.applied), \(report.alreadyApplied.count) already applied
            functions: \(report.appliedRepeatables.count) applied\(functions.isEmpty ? "" : " (\(functions))"), \
            \(report.currentRepeatables.count) already current
            """
    }

    public static func seed(
        fixture path: String,
        database: DatabaseOptions,
        pepper: PepperOptions,
        switchKey switchKeyOptions: SwitchKeyOptions
    ) async throws -> String {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database)
        let hasher = try self.hasher(pepper)
        let fixture = try self.fixture(path)
        let needsKey = fixture.terminals.contains { $0.masterKey != nil } || fixture.staff.contains { $0.totpSecret != nil }
        let switchKey = needsKey ? try self.switchKey(switchKeyOptions) : nil
        let report = try await url.withClient(logger: logger) { client in
            try await Seeder.seed(
                fixture,
                store: BankStore(client: client, logger: logger),
                hasher: hasher,
                switchKey: switchKey
            )
        }
        return "seeded: \(report.customers) customers, \(report.accounts) accounts, \(report.cards) cards, "
            + "\(report.staff) staff, \(report.terminals) terminals"
    }

    public static func verifyLedger(database: DatabaseOptions) async throws -> (text: String, passed: Bool) {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database)
        let report = try await url.withClient(logger: logger) { client in
            try await LedgerVerifier.verify(client: client, logger: logger)
        }
        let verdict = self.verdict("ledger verify", report.findings)
        let summary = "ledger: \(report.transactions) transactions, \(report.lines) lines, \(report.accounts) accounts"
        return (summary + "\n" + verdict.text, verdict.passed)
    }

    public static func sealAudit(database: DatabaseOptions, auditKey: AuditKeyOptions) async throws -> String {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database)
        let key = try self.key(.auditKey, file: auditKey.auditKeyFile)
        let sealed = try await url.withClient(logger: logger) { client in
            try await AuditSealer(client: client, key: key.key, logger: logger).sealAll()
        }
        return "audit seal: \(sealed) rows sealed"
    }

    /// `audit verify`: the chain walked; with `sealedWithin`, first a wait (at most that many seconds)
    /// for a running switch's sealer to seal every row written before the command, a row still unsealed
    /// then being a finding.
    public static func verifyAudit(
        database: DatabaseOptions,
        auditKey: AuditKeyOptions,
        sealedWithin: Int? = nil
    ) async throws -> (text: String, passed: Bool) {
        if let sealedWithin, sealedWithin < 0 { throw ValidationError("--sealed-within must be 0 or more seconds") }
        let logger = self.logger(database)
        let url = try await self.reachableURL(database)
        let key = try self.key(.auditKey, file: auditKey.auditKeyFile)
        let (report, unsealed) = try await url.withClient(logger: logger) { client in
            var unsealed: Int? = nil
            if let seconds = sealedWithin {
                unsealed = try await AuditVerifier.waitForSealer(client: client, within: .seconds(seconds), logger: logger)
            }
            return (try await AuditVerifier.verify(client: client, key: key.key, logger: logger), unsealed)
        }
        var findings = report.findings
        if let unsealed, unsealed > 0, let seconds = sealedWithin {
            findings.append(
                Finding(
                    subject: "the sealer",
                    problem: "\(unsealed) rows written before this check were still not sealed after \(seconds) s: "
                        + "is a switch with the audit key running? Its log says why its sealing rounds fail"
                )
            )
        }
        let oldest = report.oldestPending.map { ", the oldest written \($0.components.seconds) s ago" } ?? ""
        let verdict = self.verdict("audit verify", findings)
        return (
            "audit: \(report.sealed) rows in the chain, \(report.pending) awaiting the sealer\(oldest)\n" + verdict.text,
            verdict.passed
        )
    }

    public static func keygen(file: String) throws(ValidationError) -> String {
        do {
            try SecretKey.createKeyFile(atPath: file)
        } catch {
            throw ValidationError(error.description)
        }
        return "wrote a new key to \(file)"
    }

    /// The server's version and durability settings; not passed when it does not answer within 10 s.
    public static func checkDatabase(
        database: DatabaseOptions
    ) async throws(ValidationError) -> (text: String, passed: Bool) {
        var url: DatabaseURL
        do {
            url = try DatabaseURL(option: database.databaseURL)
        } catch {
            throw ValidationError(error.reason)
        }
        do {
            // With several servers, the one a command would use (the first that answers, or the primary).
            if url.endpoints.count > 1 { url = url.on(try await url.locate(logger: self.logger(database))) }
            let report = try await DatabaseCheck.run(url, logger: self.logger(database))
            return (
                "database \(url): \(report.version)\nfsync=\(report.fsync) synchronous_commit=\(report.synchronousCommit)",
                true
            )
        } catch {
            return ("database \(url) did not answer: \(String(reflecting: error))", false)
        }
    }

    // MARK: Terminals

    /// The terminal `terminal add` registers, checked before anything connects.
    public static func newTerminal(_ options: NewTerminalOptions) throws(ValidationError) -> NewTerminal {
        guard let kind = NewTerminal.Kind(rawValue: options.kind) else {
            throw ValidationError("--kind is atm or branch")
        }
        do {
            return try NewTerminal(id: options.id, kind: kind, location: options.location)
        } catch {
            throw ValidationError(error.description)
        }
    }

    public static func addTerminal(
        _ options: NewTerminalOptions,
        database: DatabaseOptions,
        switchKey switchKeyOptions: SwitchKeyOptions
    ) async throws -> String {
        let terminal = try self.newTerminal(options)
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let switchKey = try self.switchKey(switchKeyOptions)
        let master = try await url.withClient(logger: logger) { client in
            do {
                return try await BankStore(client: client, logger: logger).addTerminal(
                    terminal,
                    switchKey: switchKey,
                    actor: .system("atm-switch terminal add")
                )
            } catch let error as TerminalRegistrationError {
                throw ValidationError(error.description)
            }
        }
        return """
            terminal \(terminal.id) registered (\(terminal.kind.rawValue), cash account \(terminal.cashAccountNo))
            master key (shown once; check value \(KeyCheckValue.of(master.key))):
            \(master.hexForKeyFile.uppercased())
            """
    }

    public static func rekeyTerminal(
        _ id: String,
        database: DatabaseOptions,
        switchKey switchKeyOptions: SwitchKeyOptions
    ) async throws -> String {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let switchKey = try self.switchKey(switchKeyOptions)
        let master = SecretKey.generate()
        let done = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).setTerminalMasterKey(
                actor: .system("atm-switch terminal rekey"),
                terminal: id,
                sealed: try switchKey.sealMasterKey(master.key, terminal: id),
                checkValue: KeyCheckValue.of(master.key)
            )
        }
        guard done else { throw ValidationError("no terminal \(id)") }
        return """
            terminal \(id): new master key (shown once; check value \(KeyCheckValue.of(master.key))):
            \(master.hexForKeyFile.uppercased())
            """
    }

    public static func setTerminal(
        _ id: String,
        enabled: Bool,
        database: DatabaseOptions
    ) async throws -> String {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let done = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).setTerminalEnabled(
                actor: .system("atm-switch terminal \(enabled ? "enable" : "disable")"),
                terminal: id,
                enabled: enabled
            )
        }
        guard done else { throw ValidationError("no terminal \(id)") }
        return "terminal \(id) \(enabled ? "enabled" : "disabled")"
    }

    public static func installTestKeys(
        fixture path: String,
        database: DatabaseOptions,
        switchKey switchKeyOptions: SwitchKeyOptions
    ) async throws -> String {
        let logger = self.logger(database)
        let url = try await self.reachableURL(database, role: .switchRole)
        let switchKey = try self.switchKey(switchKeyOptions)
        let fixture = try self.fixture(path)
        let installed = try await url.withClient(logger: logger) { client in
            try await Seeder.installTerminalKeys(
                fixture,
                store: BankStore(client: client, logger: logger),
                switchKey: switchKey
            )
        }
        return installed.isEmpty
            ? "every terminal of the fixture has its key already"
            : "test master keys stored for \(installed.joined(separator: ", "))"
    }
}
