import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("migrations", .serialized, .enabled(if: databaseTestsEnabled))
struct MigrationTests {
    @Test("migrating again applies nothing; a changed applied migration is refused")
    func idempotentAndChecked() async throws {
        try await TestBank.with { (bank: TestBank, _: BankService) async throws in
            let migrations = try Migration.bundled()
            let again = try await bank.asSuperuser { connection in
                try await Migrator.migrate(
                    connection: connection,
                    migrations: migrations,
                    switchPassword: nil,
                    logger: quietLogger
                )
            }
            #expect(again.applied.isEmpty)
            #expect(again.alreadyApplied == migrations.map(\.version))
            var changed = migrations
            changed[0].sql += "\n-- edited"
            let edited = changed
            await #expect(throws: MigrationError.self) {
                try await bank.asSuperuser { connection in
                    try await Migrator.migrate(
                        connection: connection,
                        migrations: edited,
                        switchPassword: nil,
                        logger: quietLogger
                    )
                }
            }
        }
    }

    @Test("a failing migration leaves nothing behind: each runs in its own transaction")
    func transactional() async throws {
        try await TestBank.with { (bank: TestBank, _: BankService) async throws in
            let broken = Migration(
                version: 9_999,
                name: "broken",
                sql: "CREATE TABLE public.half_done (x int); SELECT 1/0;"
            )
            await #expect(throws: (any Error).self) {
                try await bank.asSuperuser { connection in
                    try await Migrator.migrate(
                        connection: connection,
                        migrations: [broken],
                        switchPassword: nil,
                        logger: quietLogger
                    )
                }
            }
            #expect(try await bank.count("SELECT count(*)::int FROM pg_tables WHERE tablename = 'half_done'") == 0)
            #expect(
                try await bank.count("SELECT count(*)::int FROM public.cashpoint_migrations WHERE version = 9999") == 0
            )
        }
    }

    @Test("seeding a bank that has users is refused")
    func seedTwice() async throws {
        try await TestBank.with(fixture: try demoFixture()) { _, service in
            await #expect(throws: Seeder.SeedError.self) {
                try await Seeder.seed(try demoFixture(), store: service.store, hasher: testHasher)
            }
        }
    }
}
