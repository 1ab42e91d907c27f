import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("bank: audit chain and ledger verification", .serialized, .enabled(if: databaseTestsEnabled))
struct AuditAndLedgerTests {
    /// Names a database error's message instead of postgres-nio's generic text.
    func explained<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError {
            throw TestFailure(
                "\(error.serverInfo?[.sqlState] ?? "-"): \(error.serverInfo?[.message] ?? String(reflecting: error))"
            )
        }
    }

    /// The audit id of the n-th row in the chain, and the number of the seal that holds it.
    func sealedRow(_ bank: TestBank, _ position: Int) async throws -> (Int64, Int64) {
        try await bank.asSuperuser { connection in
            let rows = try await connection.query(
                """
                SELECT u.audit_id, s.seq FROM bank.audit_seals s
                CROSS JOIN LATERAL unnest(s.audit_ids) WITH ORDINALITY AS u (audit_id, ord)
                ORDER BY s.seq, u.ord OFFSET \(Int64(position - 1)) LIMIT 1
                """,
                logger: quietLogger
            )
            for try await row in rows.decode((Int64, Int64).self) { return row }
            throw TestFailure("no chain position \(position)")
        }
    }

    func sealer(_ service: Bank) -> AuditSealer {
        AuditSealer(client: service.store.client, key: testAuditKey.key, logger: quietLogger)
    }

    func verify(_ service: Bank) async throws -> AuditVerifier.Report {
        try await AuditVerifier.verify(client: service.store.client, key: testAuditKey.key, logger: quietLogger)
    }

    /// Alters as the superuser, with triggers (and foreign keys) switched off for the session.
    func tamper(_ bank: TestBank, _ sql: String) async throws {
        try await bank.asSuperuser { connection in
            try await connection.query("SET session_replication_role = replica", logger: quietLogger)
            for statement in try SQLScript.statements(sql) {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: quietLogger)
            }
        }
    }

    @Test("a sealed log verifies; an altered row is named")
    func alteredRow() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let sealed = try await self.explained { try await self.sealer(service).sealAll() }
            #expect(sealed > 20)
            let clean = try await self.explained { try await self.verify(service) }
            #expect(clean.isClean)
            #expect(clean.sealed == sealed)
            let (id, seq) = try await self.sealedRow(bank, 7)
            try await self.explained {
                try await self.tamper(bank, "UPDATE bank.audit_logs SET outcome = '99' WHERE id = \(id)")
            }
            let report = try await self.explained { try await self.verify(service) }
            #expect(report.findings.map(\.subject) == ["audit row \(id) (seal \(seq))"])
            #expect(report.findings.first?.problem.contains("altered") == true)
        }
    }

    @Test("a removed row, and a removed row with its seal, are named")
    func removedRows() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            // Seal in batches of 4, so a batch can be removed whole.
            let small = AuditSealer(
                client: service.store.client,
                key: testAuditKey.key,
                logger: quietLogger,
                batchSize: 4
            )
            try await small.sealAll()
            let (first, firstSeq) = try await self.sealedRow(bank, 2)
            let (second, secondSeq) = try await self.sealedRow(bank, 9)
            try await self.tamper(bank, "DELETE FROM bank.audit_logs WHERE id = \(first)")
            try await self.tamper(
                bank,
                "DELETE FROM bank.audit_logs WHERE id IN (SELECT unnest(audit_ids) FROM bank.audit_seals WHERE seq = \(secondSeq)); DELETE FROM bank.audit_seals WHERE seq = \(secondSeq)"
            )
            let report = try await self.verify(service)
            let text = report.findings.map(\.description)
            #expect(text.contains { $0.hasPrefix("audit row \(first) (seal \(firstSeq))") && $0.contains("removed") })
            #expect(text.contains { $0.hasPrefix("seals \(secondSeq)-\(secondSeq)") && $0.contains("removed") })
            #expect(report.findings.count == 2, "\(text)")
            _ = second
        }
    }

    @Test("an inserted row is named, and a forged seal does not verify without the key")
    func insertedRow() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            try await self.sealer(service).sealAll()
            try await self.tamper(
                bank,
                """
                INSERT INTO bank.audit_logs (id, at, actor, action, outcome) OVERRIDING SYSTEM VALUE
                VALUES (0, now() - interval '1 hour', 'mallory', 'withdrawal', '00')
                """
            )
            var report = try await self.verify(service)
            #expect(report.findings.map(\.subject) == ["audit row 0"])
            #expect(report.findings.first?.problem.contains("inserted") == true)
            // Appending a row with a made-up seal: the chain does not verify without the key.
            try await self.tamper(
                bank,
                """
                INSERT INTO bank.audit_logs (actor, action, outcome) VALUES ('mallory', 'deposit', '00');
                INSERT INTO bank.audit_seals (seq, first_id, last_id, audit_ids, links, scanned_to)
                SELECT max(s.seq) + 1, (SELECT max(id) FROM bank.audit_logs), (SELECT max(id) FROM bank.audit_logs),
                       ARRAY[(SELECT max(id) FROM bank.audit_logs)], sha256('forged'), (SELECT max(id) FROM bank.audit_logs)
                FROM bank.audit_seals s
                """
            )
            report = try await self.verify(service)
            #expect(report.findings.contains { $0.problem.contains("altered") })
        }
    }

    @Test("a row that commits after later rows were sealed is sealed by the next batch")
    func lateCommit() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            try await self.sealer(service).sealAll()
            try await bank.asSwitchRole { late in
                // A transaction takes an audit id and stays open while others write and are sealed.
                try await late.query("BEGIN", logger: quietLogger)
                try await late.query(
                    "SELECT bank.audit('late', 'test.late', '00', '{}'::jsonb, NULL, NULL)",
                    logger: quietLogger
                )
                for index in 0..<5 {
                    try await service.store.audit(
                        actor: .system("early"),
                        action: "test.early",
                        outcome: "00",
                        details: ["n": "\(index)"]
                    )
                }
                #expect(try await self.sealer(service).sealAll() == 5)
                try await late.query("COMMIT", logger: quietLogger)
            }
            #expect(try await self.sealer(service).sealAll() == 1)
            let report = try await self.verify(service)
            #expect(report.isClean, "\(report.findings)")
            #expect(report.pending == 0)
            #expect(
                try await bank.count("SELECT (pending_ids = '{}')::int FROM bank.audit_seals ORDER BY seq DESC LIMIT 1")
                    == 1
            )
        }
    }

    @Test("a late row awaits the sealer however old it is; a row below the scan that no seal awaits is inserted")
    func awaitedOrInserted() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            try await self.sealer(service).sealAll()
            try await bank.asSwitchRole { late in
                try await late.query("BEGIN", logger: quietLogger)
                try await late.query(
                    "SELECT bank.audit('late', 'test.late', '00', '{}'::jsonb, NULL, NULL)",
                    logger: quietLogger
                )
                try await service.store.audit(
                    actor: .system("early"),
                    action: "test.early",
                    outcome: "00",
                    details: [:]
                )
                #expect(try await self.sealer(service).sealAll() == 1)
                try await late.query("COMMIT", logger: quietLogger)
            }
            // The late row is in the last seal's pending ids. Written an hour ago, as if the sealer had
            // stopped since (the bank check saw this after a PostgreSQL restart): still awaited.
            try await self.tamper(
                bank,
                "UPDATE bank.audit_logs SET at = at - interval '1 hour' WHERE action = 'test.late'"
            )
            var report = try await self.verify(service)
            #expect(report.isClean, "\(report.findings)")
            #expect(report.pending == 1)
            #expect((report.oldestPending ?? .zero) >= .seconds(3_600))
            let client = service.store.client
            #expect(try await AuditVerifier.waitForSealer(client: client, within: .zero, logger: quietLogger) == 1)
            #expect(try await self.sealer(service).sealAll() == 1)
            #expect(try await AuditVerifier.waitForSealer(client: client, within: .zero, logger: quietLogger) == 0)
            report = try await self.verify(service)
            #expect(report.isClean, "\(report.findings)")
            #expect(report.pending == 0)
            #expect(report.oldestPending == nil)
            // A row below the scan that no seal waits for is named at once, however new.
            try await self.tamper(
                bank,
                """
                INSERT INTO bank.audit_logs (id, at, actor, action, outcome) OVERRIDING SYSTEM VALUE
                VALUES (0, now(), 'mallory', 'withdrawal', '00')
                """
            )
            report = try await self.verify(service)
            #expect(report.findings.map(\.subject) == ["audit row 0"])
            #expect(report.pending == 0)
        }
    }

    @Test("the chain stays one line with 32 concurrent writers and two sealers racing")
    func concurrentWriters() async throws {
        try await TestBank.with(fixture: try demoFixture(), maximumConnections: 40) { bank, service in
            let sealerA = self.sealer(service)
            let sealerB = AuditSealer(
                client: service.store.client,
                key: testAuditKey.key,
                logger: quietLogger,
                batchSize: 17
            )
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await sealerA.run(every: .milliseconds(5)) }
                group.addTask { await sealerB.run(every: .milliseconds(7)) }
                try await withThrowingTaskGroup(of: Void.self) { writers in
                    for writer in 0..<32 {
                        writers.addTask {
                            let actor = ActorContext.system("writer-\(writer)")
                            for index in 0..<40 {
                                try await service.store.audit(
                                    actor: actor,
                                    action: "test.write",
                                    outcome: "00",
                                    details: ["n": "\(index)"]
                                )
                            }
                        }
                    }
                    try await writers.waitForAll()
                }
                group.cancelAll()
            }
            try await self.sealer(service).sealAll()
            let report = try await self.verify(service)
            #expect(report.isClean, "\(report.findings)")
            #expect(report.pending == 0)
            let rows = try await bank.count("SELECT count(*)::int FROM bank.audit_logs")
            #expect(report.sealed == rows)
            // One line: seals are numbered 1...n without a gap, and every row is in exactly one of them.
            let seals = try await bank.count("SELECT count(*)::int FROM bank.audit_seals")
            #expect(try await bank.count("SELECT max(seq)::int FROM bank.audit_seals") == seals)
            #expect(seals > 1)
            #expect(
                try await bank.count("SELECT count(*)::int FROM (SELECT unnest(audit_ids) FROM bank.audit_seals) x")
                    == rows
            )
            #expect(
                try await bank.count(
                    "SELECT count(DISTINCT id)::int FROM (SELECT unnest(audit_ids) AS id FROM bank.audit_seals) x"
                ) == rows
            )
        }
    }

    @Test("ledger verify passes on a fresh bank and names an altered line and a changed balance")
    func ledgerTamper() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            #expect(try await LedgerVerifier.verify(client: service.store.client, logger: quietLogger).isClean)
            let line = try await bank.count("SELECT id::int FROM bank.history ORDER BY id LIMIT 1 OFFSET 1")
            let txn = try await bank.count("SELECT transaction_id::int FROM bank.history WHERE id = \(line)")
            let lineNo = try await bank.count("SELECT line_no::int FROM bank.history WHERE id = \(line)")
            try await self.tamper(bank, "UPDATE bank.history SET amount = amount + 1 WHERE id = \(line)")
            let report = try await LedgerVerifier.verify(client: service.store.client, logger: quietLogger)
            let text = report.findings.map(\.description)
            #expect(text.contains { $0.hasPrefix("transaction \(txn):") && $0.contains("sum to 1") })
            #expect(text.contains { $0.hasPrefix("line \(lineNo) of ") && $0.contains("(id \(line))") })
            // A removed line is named by the gap it leaves.
            try await self.tamper(
                bank,
                "DELETE FROM bank.history WHERE account_id = (SELECT id FROM bank.accounts WHERE account_no = 'CP0000000001')"
            )
            let third = try await LedgerVerifier.verify(client: service.store.client, logger: quietLogger)
            #expect(
                third.findings.contains {
                    $0.subject == "account CP0000000001" && $0.problem.contains("counts 1 lines")
                }
            )
            try await self.tamper(
                bank,
                "UPDATE bank.accounts SET balance = balance + 5 WHERE account_no = 'CP0000000003'"
            )
            let second = try await LedgerVerifier.verify(client: service.store.client, logger: quietLogger)
            #expect(second.findings.contains { $0.subject == "account CP0000000003" })
        }
    }

    @Test("no PIN, password, full PAN, TOTP secret, one-time, recovery or enrolment code in the audit log or the database")
    func auditHoldsNoSecrets() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            _ = try await service.authenticateCard(service.present(pan: alicePAN), pin: "1234", terminal: "ATM00001", ip: nil)
            _ = try await service.authenticateCard(service.present(pan: alicePAN), pin: "9876", terminal: "ATM00001", ip: nil)
            _ = try await service.loginStaff(
                userName: "tina.teller",
                password: "teller-test-password",
                device: "BRANCH01",
                ip: nil
            )
            _ = try await service.loginStaff(userName: "tina.teller", password: "guess-1", device: "BRANCH01", ip: nil)
            // The second factor: a right code, a recovery code, an enrolment (its code, the new secret, its
            // recovery codes).
            let code = try #require(StaffCodes.next("tina.teller", scope: service.codeScope))
            _ = try await service.loginStaff(
                userName: "tina.teller", password: "teller-test-password", oneTimeCode: code, device: "BRANCH01", ip: nil)
            let fixture = try demoFixture()
            let recovery = try #require(fixture.staff.first { $0.userName == "ada.admin" }?.recoveryCodes?.first)
            _ = try await service.loginStaff(
                userName: "ada.admin", password: "admin-test-password", oneTimeCode: recovery, device: "BRANCH01", ip: nil)
            let enrolment = try await service.loginStaff(
                userName: "nina.new", password: "new-test-password", enrolmentCode: "NEWST-AFF22", device: "BRANCH01", ip: nil)
            guard case .enrolment(let secret, _, let newCodes) = enrolment else { throw TestFailure("no enrolment: \(enrolment)") }
            let factorSecrets =
                [code, recovery, "NEWST-AFF22", "NEWSTAFF22", Base32.encode(secret), Hex.lowercase(secret)] + newCodes
                + fixture.staff.compactMap(\.totpSecret)
            for secret in [alicePAN, bobPAN, "1234", "9876", "teller-test-password", "guess-1"] + factorSecrets {
                let hits = try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE actor || action || details::text || coalesce(device, '') LIKE '%\(secret)%'"
                )
                #expect(hits == 0, "\(secret) appears in the audit log")
            }
            // Nor in a dump of the whole database: secrets are sealed, codes hashed or digested.
            let dump = try await bank.asSuperuser { connection in
                let rows = try await connection.query(
                    """
                    SELECT string_agg(x.row, ' ') FROM (
                        SELECT f::text AS row FROM bank.staff_factors f UNION ALL
                        SELECT r::text FROM bank.staff_recovery_codes r UNION ALL
                        SELECT e::text FROM bank.enrolment_codes e UNION ALL
                        SELECT c::text FROM bank.changes c UNION ALL
                        SELECT u::text FROM bank.users u UNION ALL
                        SELECT a::text FROM bank.audit_logs a) x
                    """,
                    logger: quietLogger
                )
                for try await text in rows.decode(String?.self) { return text ?? "" }
                return ""
            }
            #expect(dump.contains("nina") && dump.count > 1000)
            // (The 6-digit code is left out here: six digits occur in timestamps and hashes by chance.)
            for secret in factorSecrets where secret != code {
                #expect(!dump.contains(secret), "\(secret) appears in the database")
                #expect(!dump.uppercased().contains(secret.uppercased()), "\(secret) appears in the database")
            }
        }
    }
}
