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

/// Applies the migrations in order, each in its own transaction, recording each in
/// `public.cashpoint_migrations`. Running it again applies nothing; a recorded migration whose SQL has
/// changed is an error. Concurrent runs wait on an advisory lock. Needs a role that may create roles
/// and schemas (the cluster's superuser in scripts/pg).
public enum Migrator {
    static let lockKey: Int64 = 0x4341_5348_504F_494E  // "CASHPOIN"

    public static func migrate(
        connection: PostgresConnection,
        migrations: [Migration],
        switchPassword: String?,
        logger: Logger
    ) async throws -> MigrationReport {
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
        try await connection.query("SELECT pg_advisory_lock(\(lockKey))", logger: logger)
        do {
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
                let statements = try SQLScript.statements(migration.sql)
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in statements {
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
                }
                logger.info(
                    "migration applied",
                    metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"]
                )
                applied.append(migration.version)
            }
            if let switchPassword {
                guard switchPassword.utf8.count >= 16,
                    switchPassword.utf8.allSatisfy({
                        ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A)
                    })
                else {
                    throw MigrationError(reason: "the switch password must be 16 or more letters and digits")
                }
                try await connection.query(
                    PostgresQuery(unsafeSQL: "ALTER ROLE cashpoint_switch LOGIN PASSWORD '\(switchPassword)'"),
                    logger: logger
                )
            }
            try await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            return MigrationReport(applied: applied, alreadyApplied: already)
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(lockKey))", logger: logger)
            throw error
        }
    }
}
