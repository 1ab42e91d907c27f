import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("bank: role-based access at the API and SQL layers", .serialized, .enabled(if: databaseTestsEnabled))
struct AccessControlTests {
    func login(_ service: Bank, _ user: String, _ password: String) async throws -> StaffMember {
        try await service.signedOnStaff(user, password, ip: "10.1.1.1")
    }

    @Test("a teller creates a customer, an account and a card; the customer's first PIN works at an ATM")
    func tellerOnboarding() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await self.login(service, "tina.teller", "teller-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            let customer = try await service.perform(
                .createCustomer(userName: "dora", fullName: "Dora Dale"),
                by: teller,
                key: desk.next(),
                ip: nil
            )
            let customerID = try #require(customer.createdID)
            let account = try await service.perform(
                .openAccount(
                    customerID: customerID,
                    accountNo: "CP0000000042",
                    name: "Dora current",
                    dailyLimit: nil,
                    dailyCount: nil
                ),
                by: teller,
                key: desk.next(),
                ip: nil
            )
            #expect(account.code == .approved)
            let card = try await service.perform(
                .issueCard(
                    customerID: customerID,
                    pan: "4000000000000044",
                    pin: "2468",
                    expiry: "2030-01-31",
                    accounts: ["CP0000000042"]
                ),
                by: teller,
                key: desk.next(),
                ip: nil
            )
            #expect(card.code == .approved)
            #expect(
                try await service.perform(
                    .deposit(account: "CP0000000042", amount: 10_000),
                    by: teller,
                    key: desk.next(),
                    ip: nil
                ).code == .approved
            )
            let result = try await service.authenticateCard(
                service.present(pan: "4000000000000044"),
                pin: "2468",
                terminal: "ATM00001",
                ip: nil
            )
            guard case .approved(let holder) = result else { throw TestFailure("new card refused: \(result)") }
            #expect(holder.accounts == ["CP0000000042"])
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE actor = 'tina.teller' AND action IN ('customer.create', 'account.create', 'card.issue')"
                ) == 3
            )
        }
    }

    @Test("a card cannot be linked to another customer's account")
    func cardLinksOwnAccountsOnly() async throws {
        try await TestBank.with(fixture: try demoFixture()) { _, service in
            let teller = try await self.login(service, "tina.teller", "teller-test-password")
            let answer = try await service.perform(
                .issueCard(
                    customerID: 1,
                    pan: "4000000000000051",
                    pin: "2468",
                    expiry: "2030-01-31",
                    accounts: ["CP0000000003"]
                ),
                by: teller,
                key: KeyMaker(terminal: "BRANCH01").next(),
                ip: nil
            )
            #expect(answer.code != .approved)
        }
    }

    @Test("an operation is audited under one action name, whether the permission table refuses it or it is done")
    func oneAuditName() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await self.login(service, "tina.teller", "teller-test-password")
            let admin = try await self.login(service, "ada.admin", "admin-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            _ = try await service.perform(.listUsers(skip: 0, limit: 50), by: teller, key: desk.next(), ip: nil)
            _ = try await service.perform(.listUsers(skip: 0, limit: 50), by: admin, key: desk.next(), ip: nil)
            _ = try await service.perform(.readAudit(.init()), by: teller, key: desk.next(), ip: nil)
            func count(_ action: String, _ outcome: String) async throws -> Int {
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE action = '\(action)' AND outcome = '\(outcome)'"
                )
            }
            #expect(try await count("users.list", "58") == 1)
            #expect(try await count("users.list", "00") == 1)
            #expect(try await count("audit.read", "58") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action ~ '^[a-z]+[A-Z]'") == 0)
        }
    }

    @Test("the permission table: a teller may not list users or read the audit log (58, audited); an admin may")
    func adminOnly() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await self.login(service, "tina.teller", "teller-test-password")
            let admin = try await self.login(service, "ada.admin", "admin-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            #expect(
                try await service.perform(.listUsers(skip: 0, limit: 50), by: teller, key: desk.next(), ip: nil).code
                    == .notPermittedToTerminal
            )
            #expect(
                try await service.perform(.readAudit(.init()), by: teller, key: desk.next(), ip: nil).code
                    == .notPermittedToTerminal
            )
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE actor = 'tina.teller' AND outcome = '58'"
                ) == 2
            )
            let users = try await service.perform(.listUsers(skip: 0, limit: 50), by: admin, key: desk.next(), ip: nil)
            #expect(users.code == .approved)
            #expect(users.users.map(\.userName).contains("alice"))
            let audit = try await service.perform(
                .readAudit(.init(actor: "tina.teller", limit: 10)),
                by: admin,
                key: desk.next(),
                ip: nil
            )
            #expect(audit.code == .approved)
            #expect(audit.audit.count >= 2)
            #expect(audit.audit.allSatisfy { $0.actor == "tina.teller" })
            // Paged: the page after the newest row holds only older ones.
            let next = try await service.perform(
                .readAudit(.init(actor: "tina.teller", beforeID: audit.audit[0].id, limit: 10)),
                by: admin,
                key: desk.next(),
                ip: nil
            )
            #expect(next.audit.allSatisfy { $0.id < audit.audit[0].id })
            // Reading the audit log is itself audited; so is listing users.
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE actor = 'ada.admin' AND action IN ('users.list', 'audit.read')"
                ) == 3
            )
        }
    }

    @Test("an admin asks for a role change, another admin approves it; both audited")
    func roleChange() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let admin = try await self.login(service, "ada.admin", "admin-test-password")
            // The demo bank's second administrator checks the first one's change.
            let checker = try await self.login(service, "ari.admin", "admin2-test-password")
            let answer = try await service.performApproved(
                .changeRole(userName: "tina.teller", role: .admin),
                by: admin,
                checker: checker,
                key: KeyMaker(terminal: "BRANCH01").next()
            )
            #expect(answer.code == .approved)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'change.applied'") == 1)
            let tina = try await self.login(service, "tina.teller", "teller-test-password")
            #expect(tina.role == .admin)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'user.role'") == 1)
        }
    }

    @Test("five wrong staff passwords lock the user; only staff unlock, audited")
    func staffLockout() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            for attempt in 1...5 {
                let result = try await service.loginStaff(
                    userName: "tina.teller",
                    password: "wrong",
                    device: "BRANCH01",
                    ip: nil
                )
                #expect(result == .refused(attempt < 5 ? .wrongPIN : .restricted))
            }
            let locked = try await service.loginStaff(
                userName: "tina.teller",
                password: "teller-test-password",
                device: "BRANCH01",
                ip: nil
            )
            #expect(locked == .refused(.restricted))
            let admin = try await self.login(service, "ada.admin", "admin-test-password")
            let teller = try await self.login(service, "tom.teller", "teller2-test-password")
            #expect(
                try await service.performApproved(
                    .unlockUser("tina.teller"),
                    by: admin,
                    checker: teller,
                    key: KeyMaker(terminal: "BRANCH01").next()
                ).code == .approved
            )
            _ = try await self.login(service, "tina.teller", "teller-test-password")
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'user.locked'") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'user.unlock'") == 1)
        }
    }

    @Test("the database itself refuses a cross-customer posting when the API check is bypassed")
    func rowLevelSecurityBypassTest() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            // Alice's card, but a request naming Bob's account, straight to the store: no permission table.
            guard
                case .approved(let alice) = try await service.authenticateCard(
                    service.present(pan: alicePAN),
                    pin: "1234",
                    terminal: "ATM00001",
                    ip: nil
                )
            else {
                throw TestFailure("alice refused")
            }
            let actor = ActorContext(
                role: .customer,
                userID: alice.userID,
                name: alice.actorName,
                device: "ATM00001",
                ip: nil
            )
            let keys = KeyMaker()
            let result = try await service.store.post(
                .withdrawal,
                actor: actor,
                cardID: nil,
                key: keys.next(),
                digest: [1, 2, 3],
                amount: 1_000,
                from: "CP0000000003",
                to: nil
            )
            // Row-level security hides Bob's account from Alice's context: it does not exist for her.
            #expect(result.code == .unknownFromAccount)
            #expect(try await bank.balance("CP0000000003") == 80_000)
            let balance = try await service.store.balance(actor: actor, cardID: nil, account: "CP0000000003")
            #expect(balance.0 == .unknownFromAccount)
            #expect(balance.1 == nil)
            // And a customer context cannot pay into another customer's account either.
            let transfer = try await service.store.post(
                .transfer,
                actor: actor,
                cardID: nil,
                key: keys.next(),
                digest: [4],
                amount: 1_000,
                from: "CP0000000001",
                to: "CP0000000003"
            )
            #expect(transfer.code == .unknownToAccount)
            #expect(try await bank.balance("CP0000000001") == 250_000)
        }
    }

    @Test("the switch's role cannot change tables directly, nor call staff functions as a lesser role")
    func switchRolePrivileges() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, _ in
            try await bank.asSwitchRole { connection in
                for sql in [
                    "UPDATE bank.accounts SET balance = balance + 100",
                    "INSERT INTO bank.history (transaction_id, account_id, amount, balance_after) VALUES (1, 1, 1, 1)",
                    "UPDATE bank.history SET amount = 1",
                    "DELETE FROM bank.history",
                    "TRUNCATE bank.history",
                    "UPDATE bank.audit_logs SET outcome = '00'",
                    "DELETE FROM bank.audit_logs",
                    "TRUNCATE bank.audit_logs",
                    "DELETE FROM bank.audit_seals",
                    "UPDATE bank.cards SET pin_tries = 0",
                    "UPDATE bank.transactions SET response_code = '00'",
                    "CREATE TABLE bank.mine (x int)",
                ] {
                    #expect(await connection.sqlState(of: sql) == "42501", "\(sql)")
                }
                // The SQL layer checks roles too: a teller context may not list users or read the audit log.
                #expect(
                    await connection.sqlState(of: "SELECT * FROM bank.list_users_page('teller', 'x', NULL, NULL, 0, 20)")
                        == "42501"
                )
                #expect(
                    await connection.sqlState(
                        of: "SELECT * FROM bank.read_audit('teller', 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, 10)"
                    ) == "42501"
                )
                #expect(
                    await connection.sqlState(
                        of:
                            "SELECT bank.create_staff('teller', 'x', NULL, NULL, 'eve', 'Eve', 'admin', '$2b$04$abcdefghijklmnopqrstuu')"
                    ) == "42501"
                )
                // A customer context must name its customer.
                #expect(await connection.sqlState(of: "SELECT bank.set_context('customer', NULL)") == "22023")
                // With no context, row-level security shows no customer's account.
                let rows = try await connection.query(
                    "SELECT count(*)::int FROM bank.accounts WHERE kind = 'customer'",
                    logger: quietLogger
                )
                for try await count in rows.decode(Int.self) { #expect(count == 0) }
            }
        }
    }

    @Test("history, audit and seals are append-only even for their owner: triggers refuse UPDATE, DELETE, TRUNCATE")
    func appendOnlyByTrigger() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, _ in
            try await bank.asSuperuser { connection in
                for sql in [
                    "UPDATE bank.history SET amount = 1",
                    "DELETE FROM bank.history",
                    "TRUNCATE bank.history CASCADE",
                    "UPDATE bank.audit_logs SET outcome = '00'",
                    "DELETE FROM bank.audit_logs",
                    "TRUNCATE bank.audit_logs CASCADE",
                    "UPDATE bank.transactions SET amount = 0",
                    "DELETE FROM bank.transactions WHERE kind = 'opening'",
                ] {
                    #expect(await connection.sqlState(of: sql) == "42501", "\(sql)")
                }
            }
        }
    }
}
