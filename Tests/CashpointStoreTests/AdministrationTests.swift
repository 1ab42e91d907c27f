import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("bank: the rules for a new card")
struct NewCardRulesTests {
    @Test("an expiry is the last day of the month asked for, or of this month four years on")
    func expiry() throws {
        // 2026-02-10 12:00 UTC
        let now = Date(timeIntervalSince1970: 1_770_724_800)
        let december = try #require(ExpiryMonth(yymm: "3012"))
        let leapFebruary = try #require(ExpiryMonth(yymm: "2802"))
        let february = try #require(ExpiryMonth(yymm: "2702"))
        #expect(NewCardRules.expiry(december, now: now) == "2030-12-31")
        #expect(NewCardRules.expiry(leapFebruary, now: now) == "2028-02-29")
        #expect(NewCardRules.expiry(february, now: now) == "2027-02-28")
        #expect(NewCardRules.expiry(nil, now: now) == "2030-02-28")
    }

    @Test("an expiry month is YYMM, month 01-12", arguments: ["3013", "3000", "301", "30121", "3O12", "+112", ""])
    func expiryMonthFormat(text: String) {
        #expect(ExpiryMonth(yymm: text) == nil)
    }

    @Test("a first PIN is 4 digits")
    func firstPIN() {
        for _ in 0..<20 {
            let pin = NewCardRules.firstPIN()
            #expect(pin.utf8.count == 4 && pin.utf8.allSatisfy { (0x30...0x39).contains($0) })
        }
    }

    @Test("an allocated PAN: BIN, zero-filled serial, Luhn digit; none when the serial does not fit")
    func allocatedPAN() throws {
        let pan = try #require(NewCardRules.pan(bin: "476173", serial: 42))
        #expect(pan.hasPrefix("476173000000042") && pan.utf8.count == 16)
        #expect(NewCardRules.pan(bin: "45671234", serial: 9_999_999)?.utf8.count == 16)
        #expect(NewCardRules.pan(bin: "45671234", serial: 10_000_000) == nil)
    }
}

@Suite(
    "bank: administrative operations that make several rows are one transaction",
    .serialized,
    .enabled(if: databaseTestsEnabled)
)
struct AdministrationTests {
    @Test("CREATE makes the customer, the account and the card; the first PIN works; each step audited")
    func createsAllThree() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let result = try await service.createCustomer(
                NewCustomer(userName: "dora", fullName: "Dora Dale", identity: .sample, cardBIN: "476173"),
                by: teller,
                key: KeyMaker(terminal: "BRANCH01").next(),
                ip: nil
            )
            guard case .created(let created) = result else { throw TestFailure("refused: \(result)") }
            #expect(created.accountNo.hasPrefix("CP"))
            #expect(created.pan.hasPrefix("476173"))
            let card = try await service.authenticateCard(
                service.present(pan: created.pan),
                pin: created.firstPIN,
                terminal: "ATM00001",
                ip: nil
            )
            guard case .approved(let holder) = card else { throw TestFailure("new card refused: \(card)") }
            #expect(holder.accounts == [created.accountNo])
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE actor = 'tina.teller' AND action IN ('customer.create', 'account.create', 'card.issue')"
                ) == 3
            )
        }
    }

    @Test("a failure at the card step (the PAN is taken) leaves no user and no account")
    func failureAtTheCardStep() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let users = try await bank.count("SELECT count(*)::int FROM bank.users")
            let accounts = try await bank.count("SELECT count(*)::int FROM bank.accounts")
            let result = try await service.createCustomer(
                NewCustomer(
                    userName: "dora",
                    fullName: "Dora Dale",
                    identity: .sample,
                    accountNo: "CP0000000042",
                    pan: alicePAN,
                    cardBIN: "476173"
                ),
                by: teller,
                key: KeyMaker(terminal: "BRANCH01").next(),
                ip: nil
            )
            #expect(result == .refused(.cardExists))
            #expect(try await bank.count("SELECT count(*)::int FROM bank.users") == users)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.users WHERE user_name = 'dora'") == 0)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.accounts") == accounts)
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CP0000000042'") == 0
            )
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE action IN ('customer.create', 'account.create') AND details->>'user_name' = 'dora'"
                ) == 0
            )
        }
    }

    @Test(
        "a refusal is typed by SQLSTATE and constraint, not by message: user name or account taken, Luhn, a broken rule"
    )
    func typedRefusals() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            let cases: [(NewCustomer, NewCustomerRefusal)] = [
                (NewCustomer(userName: "alice", fullName: "Alice Again", identity: .sample, cardBIN: "476173"), .userNameTaken),
                (
                    NewCustomer(userName: "dora", fullName: "Dora Dale", identity: .sample, accountNo: "CP0000000001", cardBIN: "476173"),
                    .accountNumberTaken
                ),
                (
                    NewCustomer(userName: "dora", fullName: "Dora Dale", identity: .sample, pan: "4000001234567898", cardBIN: "476173"),
                    .panFailsLuhn
                ),
                (NewCustomer(userName: "Dora!", fullName: "Dora Dale", identity: .sample, cardBIN: "476173"), .invalidValue),
            ]
            for (request, refusal) in cases {
                let result = try await service.createCustomer(request, by: teller, key: desk.next(), ip: nil)
                #expect(result == .refused(refusal), "\(request.userName)")
            }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.users WHERE user_name = 'dora'") == 0)
        }
    }

    @Test("a customer's role is refused CREATE by the permission table, audited, and nothing is allocated")
    func refusedByThePermissionTable() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let customer = StaffMember(userID: 1, userName: "alice", role: .customer)
            let result = try await service.createCustomer(
                NewCustomer(userName: "dora", fullName: "Dora Dale", identity: .sample, cardBIN: "476173"),
                by: customer,
                key: KeyMaker(terminal: "BRANCH01").next(),
                ip: nil
            )
            #expect(result == .refused(.notPermitted(.notPermittedToCardholder)))
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE action = 'customer.create' AND outcome = '57'"
                ) == 1
            )
            #expect(try await bank.count("SELECT count(*)::int FROM bank.users WHERE user_name = 'dora'") == 0)
        }
    }

    @Test("the user list is paged in SQL: first, middle, last, past the end; the count is of all users")
    func userPages() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let admin = try await service.signedOnStaff("ada.admin", "admin-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            let total = try await bank.count("SELECT count(*)::int FROM bank.users")
            #expect(total >= 3)
            func page(_ skip: Int, _ limit: Int) async throws -> BankAnswer {
                try await service.perform(.listUsers(skip: skip, limit: limit), by: admin, key: desk.next(), ip: nil)
            }
            let all = try await page(0, 50)
            #expect(all.code == .approved)
            #expect(all.users.count == total && all.userCount == total)
            #expect(all.users.map(\.id) == all.users.map(\.id).sorted())
            let first = try await page(0, 1)
            #expect(first.users.map(\.id) == [all.users[0].id] && first.userCount == total)
            let middle = try await page(1, total - 2)
            #expect(middle.users.map(\.id) == Array(all.users.dropFirst().dropLast()).map(\.id))
            let last = try await page(total - 1, 2)
            #expect(last.users.map(\.id) == [all.users[total - 1].id])
            let exact = try await page(total - 2, 2)
            #expect(exact.users.count == 2)
            for skip in [total, total + 1, Int(Int32.max)] {
                let past = try await page(skip, 20)
                #expect(past.code == .approved && past.users.isEmpty && past.userCount == total, "skip \(skip)")
            }
            // The function checks the page again: out of range is a refused value, nothing read.
            #expect(try await page(0, 51).code == .invalidTransaction)
            #expect(try await page(-1, 5).code == .invalidTransaction)
            #expect(try await page(0, 0).code == .invalidTransaction)
        }
    }

    @Test("a terminal is added with its cash account and sealed master key in one transaction")
    func addsTerminal() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let terminal = try NewTerminal(id: "ATM00009", kind: .atm, location: "Pier")
            let master = try await service.store.addTerminal(
                terminal,
                switchKey: testSwitchKey,
                actor: .system("test")
            )
            let record = try #require(try await service.store.terminalKeys("ATM00009"))
            #expect(record.kind == "atm" && record.enabled)
            let sealed = try #require(record.masterKeySealed)
            let opened = try testSwitchKey.openMasterKey(sealed, terminal: "ATM00009")
            #expect(KeyCheckValue.of(opened) == KeyCheckValue.of(master.key))
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CASHATM00009' AND kind = 'terminal_cash'"
                ) == 1
            )
            let branch = try NewTerminal(id: "BRANCH09", kind: .branch)
            _ = try await service.store.addTerminal(branch, switchKey: testSwitchKey, actor: .system("test"))
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.accounts WHERE account_no = 'DRAWERBRANCH09' AND kind = 'teller_drawer'"
                ) == 1
            )
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE action IN ('account.create', 'terminal.register', 'terminal.key.set') AND actor = 'test'"
                ) == 6
            )
        }
    }

    @Test("a terminal that exists, or whose cash account exists, is refused by a typed error; nothing is left")
    func terminalRefusals() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            // A terminal registered earlier under another cash account: refused as the terminal (not as
            // its cash account), and no CASHATM00007 account is left behind.
            try await bank.asSuperuser { connection in
                try await connection.query(
                    "SELECT bank.open_internal_account('test', 'TILL0007', 'Till', 'terminal_cash')",
                    logger: quietLogger
                )
                try await connection.query(
                    "SELECT bank.register_terminal('test', 'ATM00007', 'atm', '', 'TILL0007')",
                    logger: quietLogger
                )
            }
            let accounts = try await bank.count("SELECT count(*)::int FROM bank.accounts")
            await #expect(throws: TerminalRegistrationError(.terminalExists, terminal: "ATM00007")) {
                _ = try await service.store.addTerminal(
                    try NewTerminal(id: "ATM00007", kind: .atm),
                    switchKey: testSwitchKey,
                    actor: .system("test")
                )
            }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.accounts") == accounts)
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.terminals WHERE id = 'ATM00007' AND master_key_sealed IS NULL"
                ) == 1
            )
            try await bank.asSuperuser { connection in
                try await connection.query(
                    "SELECT bank.open_internal_account('test', 'CASHATM00008', 'Cash', 'terminal_cash')",
                    logger: quietLogger
                )
            }
            await #expect(throws: TerminalRegistrationError(.cashAccountExists, terminal: "ATM00008")) {
                _ = try await service.store.addTerminal(
                    try NewTerminal(id: "ATM00008", kind: .atm),
                    switchKey: testSwitchKey,
                    actor: .system("test")
                )
            }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.terminals WHERE id = 'ATM00008'") == 0)
            #expect(throws: TerminalRegistrationError(.invalidID, terminal: "atm1")) {
                try NewTerminal(id: "atm1", kind: .atm)
            }
        }
    }

    @Test("a failure at the last step (storing the master key) leaves no terminal and no cash account")
    func failureAtTheKeyStep() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            // Make the key step fail: a trigger refuses any update of a terminal's master key.
            try await bank.asSuperuser { connection in
                try await connection.query(
                    """
                    CREATE FUNCTION public.refuse_key() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN RAISE EXCEPTION 'no keys today' USING ERRCODE = 'check_violation'; END $$
                    """,
                    logger: quietLogger
                )
                try await connection.query(
                    """
                    CREATE TRIGGER refuse_key BEFORE UPDATE OF master_key_sealed ON bank.terminals
                    FOR EACH ROW EXECUTE FUNCTION public.refuse_key()
                    """,
                    logger: quietLogger
                )
            }
            let audits = try await bank.count("SELECT count(*)::int FROM bank.audit_logs")
            await #expect(throws: StoreError.self) {
                _ = try await service.store.addTerminal(
                    try NewTerminal(id: "ATM00009", kind: .atm),
                    switchKey: testSwitchKey,
                    actor: .system("test")
                )
            }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.terminals WHERE id = 'ATM00009'") == 0)
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CASHATM00009'") == 0
            )
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs") == audits)
        }
    }
}
