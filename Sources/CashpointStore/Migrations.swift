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
    public var checksum: String {
        Hex.lowercase(SHA256.hash(data: Array(self.sql.utf8)))
    }

    /// The migrations shipped with this build, ascending.
    public static func bundled() throws -> [Migration] {
        guard let folder = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw MigrationError(reason: "the migrations are missing from the build (Bundle.module/Migrations)")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for file in files.sorted() {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else {
                throw MigrationError(reason: "migration file \(file) is not named NNNN_name.sql")
            }
            let sql = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
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

public struct MigrationError: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public var description: String { self.reason }
}

/// What `migrate` did.
public struct MigrationReport: Sendable, Hashable {
    public var applied: [Int]
    public var alreadyApplied: [Int]
}

/// Applies the migrations in order, all of them in one transaction with their bookkeeping table
/// `public.cashpoint_migrations` and the switch role's password: a run that fails anywhere (a role that
/// may not create roles, a broken migration) leaves the database as it was, without even the table.
/// Running it again applies nothing; a recorded migration whose SQL has changed is an error. Concurrent
/// runs wait on a transaction-scoped advisory lock. Needs a role that may create roles and schemas (the
/// cluster's superuser in scripts/pg).
public enum Migrator {
    static let lockKey: Int64 = 0x4341_5348_504F_494E  // "CASHPOIN"

    public static func migrate(
        connection: PostgresConnection,
        migrations: [Migration],
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
        let report: MigrationReport
        do {
            report = try await connection.withTransaction(logger: logger) { connection in
                try await Self.run(connection, migrations: migrations, switchPassword: switchPassword, logger: logger)
            }
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
        for version in report.applied {
            logger.info("migration applied", metadata: ["migration.version": "\(version)"])
        }
        return report
    }

    static func run(
        _ connection: PostgresConnection,
        migrations: [Migration],
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
        var applied: [Int] = []
        var already: [Int] = []
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
                            + "add a new migration instead of editing an applied one"
                    )
                }
                already.append(migration.version)
                continue
            }
            for statement in try SQLScript.statements(migration.sql) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
            try await connection.query("RESET ROLE", logger: logger)
            try await connection.query(
                """
                INSERT INTO public.cashpoint_migrations (version, name, checksum)
                VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                """,
                logger: logger
            )
            applied.append(migration.version)
        }
        // The switch checks at start that the schema is current (`Migrator.check`): it may read this
        // table, and nothing else of public.
        try await connection.query("GRANT SELECT ON public.cashpoint_migrations TO cashpoint_switch", logger: logger)
        if let switchPassword {
            try await connection.query(PostgresQuery(unsafeSQL: try Self.setPassword(switchPassword)), logger: logger)
        }
        return MigrationReport(applied: applied, alreadyApplied: already)
    }

    /// The statement that sets the switch role's password: with its SCRAM-SHA-256 verifier, computed
    /// here, so the password itself never reaches the server or its statement log.
    public static func setPassword(_ password: String) throws -> String {
        "ALTER ROLE cashpoint_switch LOGIN PASSWORD '\(try ScramVerifier.make(password: password))'"
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
        /// The table exists but this role may not read it (migrated by a build that did not grant it).
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
        case .notReadable:
            "the switch's role may not read public.cashpoint_migrations in \(self.database): run "
                + "`atm-switch migrate` on it (it grants that), then start the switch again"
        }
    }
}

extension Migrator {
    /// Throws `SchemaNotReady` unless every one of `migrations` is recorded as applied in the database.
    /// Reads only the catalog and `public.cashpoint_migrations`, so the switch's role can run it.
    public static func check(
        connection: PostgresConnection,
        migrations: [Migration],
        database: String,
        logger: Logger
    ) async throws {
        let exists = try await connection.query(
            "SELECT to_regclass('public.cashpoint_migrations') IS NOT NULL",
            logger: logger
        )
        for try await present in exists.decode(Bool.self) where !present {
            throw SchemaNotReady(kind: .notMigrated, database: database)
        }
        var recorded: Set<Int> = []
        do {
            let rows = try await connection.query("SELECT version FROM public.cashpoint_migrations", logger: logger)
            for try await version in rows.decode(Int.self) { recorded.insert(version) }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42501" {
            throw SchemaNotReady(kind: .notReadable, database: database)
        }
        let missing = migrations.map(\.version).filter { !recorded.contains($0) }
        guard missing.isEmpty else {
            throw SchemaNotReady(kind: recorded.isEmpty ? .notMigrated : .behind(missing: missing), database: database)
        }
    }
}
