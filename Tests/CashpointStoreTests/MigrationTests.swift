import CashpointBank
import CashpointDatabase
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("migrations", .serialized, .enabled(if: databaseTestsEnabled))
struct MigrationTests {
    @Test("migrating again applies nothing; a changed applied migration is refused")
    func idempotentAndChecked() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let migrations = try Migration.bundled()
            let repeatables = try RepeatableMigration.bundled()
            let again = try await bank.asSuperuser { connection in
                try await Migrator.migrate(
                    connection: connection,
                    migrations: migrations,
                    repeatables: repeatables,
                    switchPassword: nil,
                    logger: quietLogger
                )
            }
            #expect(again.applied.isEmpty)
            #expect(again.alreadyApplied == migrations.map(\.version))
            #expect(again.appliedRepeatables.isEmpty)
            #expect(again.currentRepeatables == repeatables.map(\.name))
            var changed = migrations
            changed[0].sql += "\n-- edited"
            let edited = changed
            await #expect(throws: MigrationError.self) {
                try await bank.asSuperuser { connection in
                    try await Migrator.migrate(
                        connection: connection,
                        migrations: edited,
                        repeatables: repeatables,
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
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
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
        try await TestBank.with(fixture: try demoFixture()) { (bank: TestBank, _: Bank) async throws in
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
        try await TestBank.with(fixture: try demoFixture()) { (bank: TestBank, _: Bank) async throws in
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
        try await TestBank.with(fixture: try demoFixture()) { (bank: TestBank, _: Bank) async throws in
            // As the tables' owner, whom the forced policies bind (the switch's role may not read cards).
            try await bank.asSuperuser { connection in
                try await connection.query("SET ROLE cashpoint_owner", logger: quietLogger)
                func visible(as role: String) async throws -> (accounts: Int, cards: Int) {
                    try await connection.query(
                        "SELECT set_config('cashpoint.role', \(role), false)",
                        logger: quietLogger
                    )
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
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
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
                        repeatables: [],
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

    @Test("no function of bank is executable by PUBLIC: only the roles granted it may call one")
    func noFunctionForPublic() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let open = try await bank.count(
                """
                SELECT count(*)::int FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'bank' AND (p.proacl IS NULL OR EXISTS (
                    SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
                """
            )
            #expect(open == 0)
        }
    }

    @Test("a fresh database gets every function file in order, recorded with its checksum; migrating again, none")
    func repeatablesOnAFreshDatabase() async throws {
        let (migrations, repeatables) = (try Migration.bundled(), try RepeatableMigration.bundled())
        try await TestBank.withEmptyDatabase { admin in
            let (first, second, recorded) = try await admin.withConnection(logger: quietLogger) { connection in
                let first = try await Self.migrate(connection, repeatables)
                let second = try await Self.migrate(connection, repeatables)
                return (first, second, try await Self.recorded(connection))
            }
            #expect(first.applied == migrations.map(\.version))
            #expect(first.appliedRepeatables == repeatables.map(\.name))
            #expect(first.currentRepeatables.isEmpty)
            #expect(second.applied.isEmpty && second.appliedRepeatables.isEmpty)
            #expect(second.currentRepeatables == repeatables.map(\.name))
            #expect(recorded == Dictionary(uniqueKeysWithValues: repeatables.map { ($0.name, $0.checksum) }))
        }
    }

    @Test("a changed function file is applied again, alone, and check() refuses the database until it is")
    func changedRepeatable() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let bundled = try RepeatableMigration.bundled()
            let edited = try Self.commented(bundled, "bank_currency")
            // As the switch's role does at start: the database has the file as it was.
            let stale = try await #require(throws: SchemaNotReady.self) { try await Self.check(bank, edited) }
            #expect(stale.kind == .functionsNotCurrent(names: ["bank_currency"]))
            #expect(stale.description.contains("functions/bank_currency.sql"), "\(stale)")
            #expect(stale.description.contains("run `atm-switch migrate`"), "\(stale)")
            let report = try await bank.asSuperuser { connection in try await Self.migrate(connection, edited) }
            #expect(report.applied.isEmpty)
            #expect(report.appliedRepeatables == ["bank_currency"])
            #expect(report.currentRepeatables == bundled.map(\.name).filter { $0 != "bank_currency" })
            #expect(try await bank.count(Self.changedComments) == 1)
            try await Self.check(bank, edited)
            // The build's own files are now the ones the database lacks.
            let lacking = try await #require(throws: SchemaNotReady.self) { try await Self.check(bank, bundled) }
            #expect(lacking.kind == .functionsNotCurrent(names: ["bank_currency"]))
        }
    }

    /// A versioned migration that changes a function's arguments drops the old function; its file, the
    /// current definition, must then run even when it has not changed since it was last applied.
    @Test("a function a versioned migration dropped comes back from its unchanged file; check() refuses until then")
    func droppedFunctionComesBack() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let repeatables = try RepeatableMigration.bundled()
            try await bank.asSuperuser { connection in
                try await connection.query("DROP FUNCTION bank.bank_currency()", logger: quietLogger)
            }
            let missing = try await #require(throws: SchemaNotReady.self) { try await Self.check(bank, repeatables) }
            #expect(missing.kind == .functionsNotCurrent(names: ["bank_currency"]))
            let report = try await bank.asSuperuser { connection in try await Self.migrate(connection, repeatables) }
            #expect(report.applied.isEmpty)
            #expect(report.appliedRepeatables == ["bank_currency"])
            #expect(
                try await bank.count("SELECT count(*)::int FROM pg_proc WHERE proname = 'bank_currency'") == 1
            )
            try await Self.check(bank, repeatables)
        }
    }

    @Test("a database migrated before function files were recorded has all of them to apply, and says so")
    func repeatablesNeverRecorded() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let repeatables = try RepeatableMigration.bundled()
            try await bank.asSuperuser { connection in
                try await connection.query("DROP TABLE public.cashpoint_repeatable_migrations", logger: quietLogger)
            }
            let error = try await #require(throws: SchemaNotReady.self) { try await Self.check(bank, repeatables) }
            #expect(error.kind == .functionsNotCurrent(names: repeatables.map(\.name)))
            #expect(error.description.contains("and \(repeatables.count - 5) more"), "\(error)")
            let report = try await bank.asSuperuser { connection in try await Self.migrate(connection, repeatables) }
            #expect(report.appliedRepeatables == repeatables.map(\.name))
        }
    }

    @Test("a broken function file rolls back the whole run: a fresh database is left empty, a migrated one as it was")
    func brokenRepeatable() async throws {
        let bundled = try RepeatableMigration.bundled()
        // bank_currency's change comes first (by name) and is undone with the rest.
        var broken = try Self.commented(bundled, "bank_currency")
        let post = try #require(broken.firstIndex { $0.name == "post" })
        let body = try #require(broken[post].sql.range(of: "\nBEGIN\n"))
        broken[post].sql.replaceSubrange(body, with: "\nBEGIN\n    SELEC 1;\n")
        let files = broken
        try await TestBank.withEmptyDatabase { admin in
            try await admin.withConnection(logger: quietLogger) { connection in
                let error = try await #require(throws: PSQLError.self) { try await Self.migrate(connection, files) }
                #expect(error.serverInfo?[.sqlState] == "42601", "\(String(reflecting: error))")
                let rows = try await connection.query(
                    """
                    SELECT to_regclass('public.cashpoint_migrations') IS NULL
                        AND to_regclass('public.cashpoint_repeatable_migrations') IS NULL
                        AND to_regnamespace('bank') IS NULL
                    """,
                    logger: quietLogger
                )
                for try await nothing in rows.decode(Bool.self) {
                    #expect(nothing, "the failed migrate left something")
                }
            }
        }
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            try await bank.asSuperuser { connection in
                await #expect(throws: PSQLError.self) { try await Self.migrate(connection, files) }
                let recorded = try await Self.recorded(connection)
                #expect(recorded == Dictionary(uniqueKeysWithValues: bundled.map { ($0.name, $0.checksum) }))
            }
            #expect(try await bank.count(Self.changedComments) == 0)
        }
    }

    /// The convention: every function (or procedure) of the bank is defined by its own file under
    /// Migrations/functions/, so changing one is editing that file. No overloads: a function whose
    /// arguments change is dropped by a versioned migration, and its file creates the new one.
    @Test("every function of a freshly migrated bank has its file, which defines it, and none is overloaded")
    func everyFunctionHasItsFile() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let names = try await bank.asSuperuser { connection in
                let rows = try await connection.query(
                    "SELECT proname::text FROM pg_proc WHERE pronamespace = 'bank'::regnamespace ORDER BY 1",
                    logger: quietLogger
                )
                var names: [String] = []
                for try await name in rows.decode(String.self) { names.append(name) }
                return names
            }
            let repeatables = try RepeatableMigration.bundled()
            #expect(Set(names).count == names.count, "an overloaded function: \(names)")
            #expect(Set(names) == Set(repeatables.map(\.name)))
            for repeatable in repeatables {
                #expect(
                    repeatable.sql.contains("CREATE OR REPLACE FUNCTION bank.\(repeatable.name)(")
                        || repeatable.sql.contains("CREATE OR REPLACE PROCEDURE bank.\(repeatable.name)("),
                    "\(repeatable.file) does not define bank.\(repeatable.name)"
                )
            }
        }
    }

    /// The bundled versioned migrations and these function files, as the superuser.
    static func migrate(
        _ connection: PostgresConnection,
        _ repeatables: [RepeatableMigration]
    ) async throws -> MigrationReport {
        try await Migrator.migrate(
            connection: connection,
            migrations: try Migration.bundled(),
            repeatables: repeatables,
            switchPassword: nil,
            logger: quietLogger
        )
    }

    /// The start-up check against the bundled versioned migrations and these function files, as the
    /// switch's role.
    static func check(_ bank: TestBank, _ repeatables: [RepeatableMigration]) async throws {
        try await bank.asSwitchRole { connection in
            try await Migrator.check(
                connection: connection,
                migrations: try Migration.bundled(),
                repeatables: repeatables,
                database: bank.name,
                logger: quietLogger
            )
        }
    }

    /// The files with one of them changed: it also sets its function's comment to 'changed by a test'.
    static func commented(_ files: [RepeatableMigration], _ name: String) throws -> [RepeatableMigration] {
        var files = files
        let index = try #require(files.firstIndex { $0.name == name })
        files[index].sql += "\nCOMMENT ON FUNCTION bank.\(name)() IS 'changed by a test';\n"
        return files
    }

    static let changedComments = "SELECT count(*)::int FROM pg_description WHERE description = 'changed by a test'"

    static func recorded(_ connection: PostgresConnection) async throws -> [String: String] {
        let rows = try await connection.query(
            "SELECT name, checksum FROM public.cashpoint_repeatable_migrations",
            logger: quietLogger
        )
        var recorded: [String: String] = [:]
        for try await (name, checksum) in rows.decode((String, String).self) { recorded[name] = checksum }
        return recorded
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

@Suite("the order of function files")
struct RepeatableOrderTests {
    static func file(_ name: String, requires: String? = nil) -> RepeatableMigration {
        RepeatableMigration(name: name, sql: (requires.map { "-- requires: \($0)\n" } ?? "") + "SELECT 1;")
    }

    @Test("by name, except that a file follows those it requires")
    func ordered() throws {
        let files = [Self.file("c"), Self.file("a", requires: "d, c"), Self.file("b"), Self.file("d")]
        #expect(try RepeatableMigration.ordered(files).map(\.name) == ["b", "c", "d", "a"])
        let bundled = try RepeatableMigration.bundled().map(\.name)
        #expect(!bundled.isEmpty)
        #expect(bundled == bundled.sorted())
    }

    @Test("a function's file that drops a function is refused: the drop belongs in a versioned migration")
    func dropsRefused() throws {
        let dropping = RepeatableMigration(
            name: "post",
            sql: "SET LOCAL ROLE cashpoint_owner;\n-- the old signature\ndrop function if exists bank.post(text);\nSELECT 1;"
        )
        let error = try #require(throws: MigrationError.self) {
            try RepeatableMigration.ordered([Self.file("a"), dropping])
        }
        #expect(error.kind == .functionFileDrops(file: "functions/post.sql"))
        // A DROP in a function's body is the function's code, not a statement of the file.
        let body = RepeatableMigration(
            name: "x",
            sql: "CREATE OR REPLACE FUNCTION bank.x() RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\n"
                + "    DROP TABLE IF EXISTS scratch;\nEND\n$$;"
        )
        #expect(try RepeatableMigration.ordered([body]).map(\.name) == ["x"])
    }

    @Test("a requirement that is not a file, a circle and a name used twice are refused")
    func refused() {
        #expect(throws: MigrationError.self) { try RepeatableMigration.ordered([Self.file("a", requires: "nope")]) }
        #expect(throws: MigrationError.self) {
            try RepeatableMigration.ordered([
                Self.file("a", requires: "b"), Self.file("b", requires: "a"), Self.file("c"),
            ])
        }
        #expect(throws: MigrationError.self) { try RepeatableMigration.ordered([Self.file("a"), Self.file("a")]) }
    }
}
