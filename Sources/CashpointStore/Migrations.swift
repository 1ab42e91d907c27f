import CashpointSecurity
import Crypto
import Foundation
public import Logging
public import PostgresNIO

/// One versioned migration: `Migrations/NNNN_name.sql`.
public struct Migration: Sendable, Hashable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// SHA-256 of the SQL, recorded when applied: a migration changed after it ran is refused.
    public var checksum: String { Migrator.checksum(self.sql) }

    /// The migrations shipped with this build, ascending.
    public static func bundled() throws -> [Migration] {
        var migrations: [Migration] = []
        for (file, sql) in try Migrator.bundledFiles(in: nil) {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw MigrationError(reason: "migration file \(file) is not named NNNN_name.sql")
            }
            migrations.append(
                Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql)
            )
        }
        guard Set(migrations.map(\.version)).count == migrations.count else {
            throw MigrationError(reason: "two migration files share a version number")
        }
        return migrations.sorted { $0.version < $1.version }
    }
}

/// One repeatable migration: `Migrations/functions/NAME.sql`, the current definition of the SQL function
/// `bank.NAME` (`CREATE OR REPLACE`, with its owner and grants), so that changing a function is editing
/// one file. `migrate` applies it after the versioned migrations whenever its SQL differs from what it
/// recorded the last time, and `Migrator.check` refuses a database where it does.
public struct RepeatableMigration: Sendable, Hashable {
    /// The file's name without `.sql`: the function's name.
    public var name: String
    public var sql: String

    public init(name: String, sql: String) {
        self.name = name
        self.sql = sql
    }

    /// The file, as people and messages name it: `functions/NAME.sql`.
    public var file: String { Self.file(self.name) }

    public static func file(_ name: String) -> String { "\(Self.folder)/\(name).sql" }

    /// SHA-256 of the SQL, recorded when applied: a different one means the file changed since.
    public var checksum: String { Migrator.checksum(self.sql) }

    /// The repeatables this one must follow: its `-- requires: a, b` lines. Needed only where creating it
    /// needs another to exist first (a `LANGUAGE sql` body calling a function of another new file).
    public var requires: [String] {
        self.sql.split(whereSeparator: \.isNewline).flatMap { line -> [String] in
            guard line.hasPrefix(Self.requiresPrefix) else { return [] }
            return line.dropFirst(Self.requiresPrefix.count).split(separator: ",").map {
                String($0).trimmingWhitespace()
            }.filter { !$0.isEmpty }
        }
    }

    static let folder = "functions"
    static let requiresPrefix = "-- requires:"

    /// Whether one of its statements is a DROP (of its own function under an old signature, say).
    var drops: Bool {
        get throws {
            try SQLScript.statements(self.sql).contains { statement in
                // The statement's first word after its leading comment lines.
                let code = statement.split(whereSeparator: \.isNewline).map { String($0).trimmingWhitespace() }
                    .first { !$0.isEmpty && !$0.hasPrefix("--") }
                let word = code?.split(whereSeparator: \.isWhitespace).first
                return word?.uppercased() == "DROP"
            }
        }
    }

    /// The repeatables shipped with this build, in the order they are applied.
    public static func bundled() throws -> [RepeatableMigration] {
        let files = try Migrator.bundledFiles(in: Self.folder)
        return try Self.ordered(files.map { RepeatableMigration(name: String($0.file.dropLast(4)), sql: $0.sql) })
    }

    /// The order of application: by name, except that a file comes after those it requires. A file that
    /// drops a function is refused (`MigrationError.Kind.functionFileDrops`): it holds its function's
    /// current definition and nothing else, and a change of arguments or return type drops the old
    /// function in a versioned migration, which runs before every file.
    public static func ordered(_ repeatables: [RepeatableMigration]) throws -> [RepeatableMigration] {
        var waiting = Dictionary(grouping: repeatables, by: \.name)
        if let twice = waiting.first(where: { $0.value.count > 1 }) {
            throw MigrationError(reason: "two repeatable migrations are named \(twice.key)")
        }
        for repeatable in repeatables where try repeatable.drops {
            throw MigrationError(
                reason: "\(repeatable.file) drops a function: a function's file only defines it (CREATE OR "
                    + "REPLACE); drop an old signature in a new versioned migration instead",
                kind: .functionFileDrops(file: repeatable.file)
            )
        }
        for repeatable in repeatables {
            for name in repeatable.requires where waiting[name] == nil {
                throw MigrationError(reason: "\(repeatable.file) requires \(name), which is not a repeatable migration")
            }
        }
        var ordered: [RepeatableMigration] = []
        var done: Set<String> = []
        while !waiting.isEmpty {
            guard
                let next = waiting.keys.sorted().first(where: { name in
                    waiting[name]![0].requires.allSatisfy { done.contains($0) }
                })
            else {
                throw MigrationError(
                    reason: "the repeatable migrations \(waiting.keys.sorted().joined(separator: ", ")) wait for "
                        + "each other (a circle of `-- requires:` lines, or one that waits for a circle): break it"
                )
            }
            ordered.append(waiting.removeValue(forKey: next)![0])
            done.insert(next)
        }
        return ordered
    }
}

public struct MigrationError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Hashable {
        /// A function's file (`functions/NAME.sql`) drops a function.
        case functionFileDrops(file: String)
        /// Anything else: `reason` says what.
        case other
    }

    public var reason: String
    public var kind: Kind

    public init(reason: String, kind: Kind = .other) {
        self.reason = reason
        self.kind = kind
    }

    public var description: String { self.reason }
}

/// What `migrate` did.
public struct MigrationReport: Sendable, Hashable {
    /// Versioned migrations applied by this run, and those the database already had.
    public var applied: [Int]
    public var alreadyApplied: [Int]
    /// Repeatable migrations (function files) applied by this run because they were new or changed, and
    /// those already current, by name.
    public var appliedRepeatables: [String] = []
    public var currentRepeatables: [String] = []
}

/// Applies the versioned migrations in order, then every repeatable migration (a function's file) that
/// is new or changed since it was last applied, all of them in one transaction with their bookkeeping
/// tables `public.cashpoint_migrations` and `public.cashpoint_repeatable_migrations` and the switch role's
/// password: a run that fails anywhere (a role that may not create roles, a broken migration or function
/// file) leaves the database as it was, without even the tables. Running it again applies nothing; a
/// recorded versioned migration whose SQL has changed is an error, a changed repeatable one is applied
/// again. Concurrent runs wait on a transaction-scoped advisory lock. Needs a role that may create roles
/// and schemas (the cluster's superuser in scripts/pg).
public enum Migrator {
    static let lockKey: Int64 = 0x4341_5348_504F_494E  // "CASHPOIN"

    public static func migrate(
        connection: PostgresConnection,
        migrations: [Migration],
        repeatables: [RepeatableMigration],
        switchPassword: String?,
        logger: Logger
    ) async throws -> MigrationReport {
        if let switchPassword {
            guard switchPassword.utf8.count >= 16,
                switchPassword.utf8.allSatisfy({
                    ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A)
                })
            else {
                throw MigrationError(reason: "the switch password must be 16 or more letters and digits")
            }
        }
        let ordered = try RepeatableMigration.ordered(repeatables)
        let report: MigrationReport
        do {
            report = try await connection.withTransaction(logger: logger) { connection in
                try await Self.run(
                    connection,
                    migrations: migrations,
                    repeatables: ordered,
                    switchPassword: switchPassword,
                    logger: logger
                )
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
        for version in report.applied {
            logger.info("migration applied", metadata: ["migration.version": "\(version)"])
        }
        for name in report.appliedRepeatables {
            logger.info("repeatable migration applied", metadata: ["migration.repeatable": "\(name)"])
        }
        return report
    }

    static func run(
        _ connection: PostgresConnection,
        migrations: [Migration],
        repeatables: [RepeatableMigration],
        switchPassword: String?,
        logger: Logger
    ) async throws -> MigrationReport {
        try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS public.cashpoint_migrations (
                version int PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS public.cashpoint_repeatable_migrations (
                name text PRIMARY KEY,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            logger: logger
        )
        var report = MigrationReport(applied: [], alreadyApplied: [])
        var recorded: [Int: String] = [:]
        let rows = try await connection.query(
            "SELECT version, checksum FROM public.cashpoint_migrations",
            logger: logger
        )
        for try await (version, checksum) in rows.decode((Int, String).self) {
            recorded[version] = checksum
        }
        for migration in migrations {
            if let checksum = recorded[migration.version] {
                guard checksum == migration.checksum else {
                    throw MigrationError(
                        reason: "migration \(migration.version) (\(migration.name)) changed after it was applied; "
                            + "add a new migration instead of editing an applied one (a function's definition "
                            + "is changed in its file under Migrations/functions/)"
                    )
                }
                report.alreadyApplied.append(migration.version)
                continue
            }
            try await Self.apply(migration.sql, connection: connection, logger: logger)
            try await connection.query(
                """
                INSERT INTO public.cashpoint_migrations (version, name, checksum)
                VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                """,
                logger: logger
            )
            report.applied.append(migration.version)
        }
        // After every versioned migration, so a function's file sees the tables and types as they are now.
        // A file runs when it changed, and also when its function is missing: a versioned migration
        // dropped it (to change its arguments or return type) and the file is its current definition.
        let current = try await Self.recordedRepeatables(connection, logger: logger)
        let defined = try await Self.definedFunctions(connection, logger: logger)
        for repeatable in repeatables {
            guard current[repeatable.name] != repeatable.checksum || !defined.contains(repeatable.name) else {
                report.currentRepeatables.append(repeatable.name)
                continue
            }
            try await Self.apply(repeatable.sql, connection: connection, logger: logger)
            try await connection.query(
                """
                INSERT INTO public.cashpoint_repeatable_migrations (name, checksum)
                VALUES (\(repeatable.name), \(repeatable.checksum))
                ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = excluded.applied_at
                """,
                logger: logger
            )
            report.appliedRepeatables.append(repeatable.name)
        }
        // The switch checks at start that the schema is current (`Migrator.check`): it may read these
        // tables, and nothing else of public.
        try await connection.query(
            "GRANT SELECT ON public.cashpoint_migrations, public.cashpoint_repeatable_migrations TO cashpoint_switch",
            logger: logger
        )
        if let switchPassword {
            try await connection.query(PostgresQuery(unsafeSQL: try Self.setPassword(switchPassword)), logger: logger)
        }
        return report
    }

    /// Runs a migration's statements one by one. A migration may `SET LOCAL ROLE` (to create objects
    /// owned by cashpoint_owner); the next one starts as the migrating role again.
    static func apply(_ sql: String, connection: PostgresConnection, logger: Logger) async throws {
        for statement in try SQLScript.statements(sql) {
            try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
        }
        try await connection.query("RESET ROLE", logger: logger)
    }

    /// The checksum of each repeatable migration as last applied, by name.
    static func recordedRepeatables(_ connection: PostgresConnection, logger: Logger) async throws -> [String: String] {
        var recorded: [String: String] = [:]
        let rows = try await connection.query(
            "SELECT name, checksum FROM public.cashpoint_repeatable_migrations",
            logger: logger
        )
        for try await (name, checksum) in rows.decode((String, String).self) {
            recorded[name] = checksum
        }
        return recorded
    }

    /// The names of the functions schema `bank` has (none before the first migration made it).
    static func definedFunctions(_ connection: PostgresConnection, logger: Logger) async throws -> Set<String> {
        let rows = try await connection.query(
            "SELECT proname::text FROM pg_proc WHERE pronamespace = to_regnamespace('bank')",
            logger: logger
        )
        var names: Set<String> = []
        for try await name in rows.decode(String.self) { names.insert(name) }
        return names
    }

    /// The statement that sets the switch role's password: with its SCRAM-SHA-256 verifier, computed
    /// here, so the password itself never reaches the server or its statement log.
    public static func setPassword(_ password: String) throws -> String {
        "ALTER ROLE cashpoint_switch LOGIN PASSWORD '\(try ScramVerifier.make(password: password))'"
    }

    static func checksum(_ sql: String) -> String {
        Hex.lowercase(SHA256.hash(data: Array(sql.utf8)))
    }

    /// The `.sql` files of the bundled `Migrations` folder (or of its `subfolder`), by file name.
    static func bundledFiles(in subfolder: String?) throws -> [(file: String, sql: String)] {
        guard var folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError(reason: "the migrations are missing from the build (Bundle.module/Migrations)")
        }
        if let subfolder { folder.appendPathComponent(subfolder, isDirectory: true) }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        return try files.sorted().map { file in
            (file, try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8))
        }
    }
}

/// The database is not ready for this build of the switch: never migrated, or migrated by an older one.
/// The switch refuses to start with it.
public struct SchemaNotReady: Error, CustomStringConvertible, Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// No `public.cashpoint_migrations`: `atm-switch migrate` never ran on this database.
        case notMigrated
        /// Migrations of this build that the database has not had.
        case behind(missing: [Int])
        /// Function files of this build (repeatable migrations, by name) that the database has not had as
        /// they are in this build: new, different from the ones last applied, or their function missing.
        case functionsNotCurrent(names: [String])
        /// The bookkeeping tables exist but this role may not read them (migrated by a build that did not
        /// grant it).
        case notReadable
    }

    public var kind: Kind
    public var database: String

    public var description: String {
        switch self.kind {
        case .notMigrated:
            "the database \(self.database) has no Cashpoint schema: run `atm-switch migrate` on it (as a role "
                + "that may create roles, see docs/operations.md), then start the switch again"
        case .behind(let missing):
            "the database \(self.database) lacks migrations \(missing.map(String.init).joined(separator: ", ")) "
                + "of this build: run `atm-switch migrate` on it, then start the switch again"
        case .functionsNotCurrent(let names):
            "the database \(self.database) lacks this build's definitions of SQL functions "
                + "(\(Self.list(names.map(RepeatableMigration.file)))): "
                + "run `atm-switch migrate` on it, then start the switch again"
        case .notReadable:
            "the switch's role may not read public.cashpoint_migrations or public.cashpoint_repeatable_migrations "
                + "in \(self.database): run `atm-switch migrate` on it (it grants that), then start the switch again"
        }
    }

    /// At most five names, then how many more.
    static func list(_ names: [String]) -> String {
        names.count <= 5
            ? names.joined(separator: ", ")
            : names.prefix(5).joined(separator: ", ") + " and \(names.count - 5) more"
    }
}

extension Migrator {
    /// Throws `SchemaNotReady` unless every one of `migrations` is recorded as applied in the database and
    /// every one of `repeatables` as applied with its present checksum, its function there. Reads only the
    /// catalog and the bookkeeping tables, so the switch's role can run it.
    public static func check(
        connection: PostgresConnection,
        migrations: [Migration],
        repeatables: [RepeatableMigration],
        database: String,
        logger: Logger
    ) async throws {
        let exists = try await connection.query(
            """
            SELECT to_regclass('public.cashpoint_migrations') IS NOT NULL,
                to_regclass('public.cashpoint_repeatable_migrations') IS NOT NULL
            """,
            logger: logger
        )
        var repeatablesRecorded = false
        for try await (migrated, repeatablesTable) in exists.decode((Bool, Bool).self) {
            guard migrated else { throw SchemaNotReady(kind: .notMigrated, database: database) }
            repeatablesRecorded = repeatablesTable
        }
        var recorded: Set<Int> = []
        var current: [String: String] = [:]
        do {
            let rows = try await connection.query("SELECT version FROM public.cashpoint_migrations", logger: logger)
            for try await version in rows.decode(Int.self) { recorded.insert(version) }
            // A database migrated by a build without repeatable migrations has no such table: all are new.
            if repeatablesRecorded { current = try await Self.recordedRepeatables(connection, logger: logger) }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
            throw SchemaNotReady(kind: .notReadable, database: database)
        }
        let missing = migrations.map(\.version).filter { !recorded.contains($0) }
        guard missing.isEmpty else {
            throw SchemaNotReady(kind: recorded.isEmpty ? .notMigrated : .behind(missing: missing), database: database)
        }
        let defined = try await Self.definedFunctions(connection, logger: logger)
        let stale = try RepeatableMigration.ordered(repeatables).filter {
            current[$0.name] != $0.checksum || !defined.contains($0.name)
        }
        guard stale.isEmpty else {
            throw SchemaNotReady(kind: .functionsNotCurrent(names: stale.map(\.name)), database: database)
        }
    }
}
