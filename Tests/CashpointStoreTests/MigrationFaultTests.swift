import CashpointDatabase
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("migrate refused", .serialized, .enabled(if: databaseTestsEnabled))
struct MigrationFaultTests {
    @Test("migrate as a role that may not create roles leaves nothing behind, and says why and what to do")
    func withoutCreateRole() async throws {
        try await TestBank.withEmptyDatabase { admin in
            let role = "cp_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
            let password = "Pw" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
            try await admin.withConnection(logger: quietLogger) { connection in
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN NOCREATEROLE PASSWORD '\(password)'"),
                    logger: quietLogger
                )
                try await connection.query(
                    PostgresQuery(unsafeSQL: "ALTER DATABASE \(admin.database) OWNER TO \(role)"),
                    logger: quietLogger
                )
            }
            do {
                let error = try await #require(throws: (any Error).self) {
                    try await admin.withUser(role, password: password).withConnection(logger: quietLogger) {
                        connection in
                        try await Migrator.migrate(
                            connection: connection,
                            migrations: try Migration.bundled(),
                            repeatables: try RepeatableMigration.bundled(),
                            switchPassword: nil,
                            logger: quietLogger
                        )
                    }
                }
                let failure = try #require(DatabaseFailure(error), "\(String(reflecting: error))")
                #expect(failure.sqlState == "42501")
                #expect(!failure.message.isEmpty)
                #expect(failure.description.contains("may create roles"), "\(failure)")
                #expect(!failure.description.contains("Generic description"))
                let left = try await admin.withConnection(logger: quietLogger) { connection in
                    let rows = try await connection.query(
                        "SELECT to_regclass('public.cashpoint_migrations') IS NULL AND to_regnamespace('bank') IS NULL",
                        logger: quietLogger
                    )
                    for try await nothing in rows.decode(Bool.self) { return nothing }
                    return false
                }
                #expect(left, "the failed migrate left its table or schema behind")
            } catch {
                try? await Self.drop(role, admin)
                throw error
            }
            try await Self.drop(role, admin)
        }
    }

    static func drop(_ role: String, _ admin: DatabaseURL) async throws {
        try await admin.withConnection(logger: quietLogger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER DATABASE \(admin.database) OWNER TO CURRENT_USER"),
                logger: quietLogger
            )
            try await connection.query(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"), logger: quietLogger)
        }
    }
}
