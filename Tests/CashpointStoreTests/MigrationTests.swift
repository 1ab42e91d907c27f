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

    /// Migration 0009 moved the per-column CHECK constraints of accounts, transactions and history into
    /// domains (cheaper for every posting). The rules must hold exactly as before, for anyone who
    /// writes a row, the superuser included.
    @Test(
        "the rows a posting writes keep every rule after 0009: each bad value is refused (23514), good rows pass",
        arguments: [
            // transactions: STAN of 6, transmission time of 10, a known kind, no negative amount, a 2-character code.
            ("transactions", "'ATM00001', '12345', '1125093112', 'transfer', 1, '00'"),
            ("transactions", "'ATM00001', '123456', '112509311', 'transfer', 1, '00'"),
            ("transactions", "'ATM00001', '123456', '1125093112', 'gift', 1, '00'"),
            ("transactions", "'ATM00001', '123456', '1125093112', 'transfer', -1, '00'"),
            ("transactions", "'ATM00001', '123456', '1125093112', 'transfer', 1, '0'"),
            // history: lines are numbered from 1 and never zero.
            ("history", "0, 5"),
            ("history", "1, 0"),
            // accounts: a number of 4 to 28 characters, a known kind, no negative limits.
            ("accounts", "'ABC', 'bank_equity', 0, 0"),
            ("accounts", "'CPX0000001', 'vault', 0, 0"),
            ("accounts", "'CPX0000002', 'bank_equity', -1, 0"),
            ("accounts", "'CPX0000003', 'bank_equity', 0, -1"),
        ]
    )
    func domainRules(table: String, values: String) async throws {
        try await TestBank.with { (bank: TestBank, _: BankService) async throws in
            func insert(_ table: String, _ values: String) -> String {
                switch table {
                case "transactions":
                    "INSERT INTO bank.transactions (terminal_id, stan, transmitted, kind, amount, response_code, request_digest, actor) VALUES (\(values), '\\x00', 'test')"
                case "history":
                    "INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after) VALUES (1, 1, \(values), 0)"
                default:
                    "INSERT INTO bank.accounts (account_no, kind, daily_withdrawal_limit, daily_withdrawal_count, name, currency) VALUES (\(values), 'test', '978')"
                }
            }
            let good = [
                "transactions": "'ATM00001', '123456', '1125093112', 'transfer', 1, '00'",
                "history": "1, 5",
                "accounts": "'CPX0000009', 'bank_equity', 0, 0",
            ]
            let (bad, fine) = (insert(table, values), insert(table, good[table]!))
            try await bank.asSuperuser { connection in
                #expect(await connection.sqlState(of: bad) == "23514", "\(values)")
                #expect(await connection.sqlState(of: fine) == nil)
            }
        }
    }

    @Test("a customer account still never goes negative, and an account has a user exactly when it is a customer's")
    func accountTableRules() async throws {
        try await TestBank.with(fixture: try demoFixture()) { (bank: TestBank, _: BankService) async throws in
            try await bank.asSuperuser { connection in
                #expect(
                    await connection.sqlState(
                        of: """
                            UPDATE bank.accounts SET balance = -1
                            WHERE id = (SELECT min(id) FROM bank.accounts WHERE kind = 'customer')
                            """
                    ) == "23514"
                )
                #expect(
                    await connection.sqlState(
                        of: """
                            INSERT INTO bank.accounts (account_no, name, kind, currency)
                            VALUES ('CPX0000010', 'orphan', 'customer', '978')
                            """
                    ) == "23514"
                )
                // Since 0011 the owner rule is a trigger on INSERT and on UPDATE OF kind, user_id: it still
                // refuses an internal account with a user, and a change of owner or kind that breaks it.
                #expect(
                    await connection.sqlState(
                        of: """
                            INSERT INTO bank.accounts (account_no, name, kind, currency, user_id)
                            VALUES ('CPX0000011', 'owned vault', 'bank_equity', '978', (SELECT min(id) FROM bank.users))
                            """
                    ) == "23514"
                )
                #expect(
                    await connection.sqlState(
                        of: """
                            UPDATE bank.accounts SET user_id = NULL
                            WHERE id = (SELECT min(id) FROM bank.accounts WHERE kind = 'customer')
                            """
                    ) == "23514"
                )
                #expect(
                    await connection.sqlState(
                        of: """
                            UPDATE bank.accounts SET kind = 'bank_equity'
                            WHERE id = (SELECT min(id) FROM bank.accounts WHERE kind = 'customer')
                            """
                    ) == "23514"
                )
                // A change that keeps the rule passes: a customer account moved to another customer.
                #expect(
                    await connection.sqlState(
                        of: """
                            UPDATE bank.accounts SET user_id = (SELECT max(user_id) FROM bank.accounts WHERE kind = 'customer')
                            WHERE id = (SELECT min(id) FROM bank.accounts WHERE kind = 'customer')
                            """
                    ) == nil
                )
            }
        }
    }

    @Test("a ledger line is keyed by its account and line number: a second line with the same pair is refused")
    func ledgerLineKey() async throws {
        try await TestBank.with(fixture: try demoFixture()) { (bank: TestBank, _: BankService) async throws in
            try await bank.asSuperuser { connection in
                let rows = try await connection.query(
                    """
                    SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM pg_index i
                    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k (attnum, n)
                    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                    WHERE i.indrelid = 'bank.history'::regclass AND i.indisprimary
                    """,
                    logger: quietLogger
                )
                for try await columns in rows.decode(String.self) { #expect(columns == "account_id,line_no") }
                #expect(
                    await connection.sqlState(
                        of: """
                            INSERT INTO bank.history (transaction_id, account_id, line_no, amount, balance_after)
                            SELECT transaction_id, account_id, line_no, amount, balance_after FROM bank.history LIMIT 1
                            """
                    ) == "23505"
                )
            }
        }
    }

    @Test("row-level security shows no customer's account or card to an empty or unknown role")
    func policiesWithoutARole() async throws {
        try await TestBank.with(fixture: try demoFixture()) { (bank: TestBank, _: BankService) async throws in
            // As the tables' owner, whom the forced policies bind (the switch's role may not read cards).
            try await bank.asSuperuser { connection in
                try await connection.query("SET ROLE cashpoint_owner", logger: quietLogger)
                func visible(as role: String) async throws -> (accounts: Int, cards: Int) {
                    try await connection.query("SELECT set_config('cashpoint.role', \(role), false)", logger: quietLogger)
                    let rows = try await connection.query(
                        """
                        SELECT (SELECT count(*)::int FROM bank.accounts WHERE kind = 'customer'),
                            (SELECT count(*)::int FROM bank.cards)
                        """,
                        logger: quietLogger
                    )
                    for try await counts in rows.decode((Int, Int).self) { return counts }
                    throw TestFailure("no counts")
                }
                for role in ["", "none", "Teller", "customer "] {
                    let counts = try await visible(as: role)
                    #expect(counts.accounts == 0, "role '\(role)'")
                    #expect(counts.cards == 0, "role '\(role)'")
                }
                // The same connection as a teller sees them, so the counts above are not of empty tables.
                let teller = try await visible(as: "teller")
                #expect(teller.accounts > 0 && teller.cards > 0)
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

@Suite("the switch role's password")
struct SwitchPasswordTests {
    @Test("migrate sends a SCRAM-SHA-256 verifier, never the password")
    func verifierOnly() throws {
        let statement = try Migrator.setPassword("correct-horse-battery-staple-42")
        #expect(!statement.contains("correct-horse"))
        #expect(statement.hasPrefix("ALTER ROLE cashpoint_switch LOGIN PASSWORD 'SCRAM-SHA-256$4096:"))
    }
}
