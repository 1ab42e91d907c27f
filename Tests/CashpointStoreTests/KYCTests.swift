import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// The demo bank's pending customer pat, and hugo (politically exposed, nationality IR: high, pending).
let patPAN = "4761739001010556"
let hugoPAN = "4761739001010663"

@Suite("know your customer: the gate, the decision, four eyes, screening", .enabled(if: databaseTestsEnabled))
struct KYCTests {
    static let fresh = FourEyesRequest(reason: "documents checked", factorIsFresh: true)

    func card(_ service: Bank, _ pan: String, _ pin: String) async throws -> CardHolder {
        let result = try await service.authenticateCard(service.present(pan: pan), pin: pin, terminal: "ATM00001", ip: nil)
        guard case .approved(let holder) = result else { throw TestFailure("\(pan): \(result)") }
        return holder
    }

    func move(_ service: Bank, _ operation: CardOperation, _ pan: String, _ pin: String, _ keys: KeyMaker) async throws
        -> ResponseCode
    {
        let holder = try await self.card(service, pan, pin)
        return try await service.perform(operation, for: holder, card: service.present(pan: pan), key: keys.next(), ip: nil).code
    }

    func userID(_ bank: TestBank, _ name: String) async throws -> Int64 {
        Int64(try await bank.count("SELECT id::int FROM bank.users WHERE user_name = '\(name)'"))
    }

    @Test("a pending customer: withdrawal and transfer 1K, deposit, balance and statement work; the setting decides deposits")
    func pendingGate() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let keys = KeyMaker()
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), patPAN, "2468", keys) == .customerNotVerified)
            #expect(try await self.move(service, .deposit(amount: 1_000, account: nil), patPAN, "2468", keys) == .approved)
            #expect(try await self.move(service, .balance(account: nil), patPAN, "2468", keys) == .approved)
            #expect(try await self.move(service, .miniStatement(account: nil), patPAN, "2468", keys) == .approved)
            #expect(try await bank.balance("CP0000000005") == 31_000)
            // At the desk too: a teller's withdrawal for pat is 1K, the deposit taken.
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            #expect(try await service.perform(.withdrawal(account: "CP0000000005", amount: 500), by: teller, key: desk.next(), ip: nil).code == .customerNotVerified)
            #expect(try await service.perform(.deposit(account: "CP0000000005", amount: 500), by: teller, key: desk.next(), ip: nil).code == .approved)
            // A transfer: out of pat's account 1K; into it (a deposit for pat) taken.
            let out = try await service.perform(
                .transfer(from: "CP0000000005", to: "CP0000000001", amount: 500), by: teller, key: desk.next(), ip: nil)
            #expect(out.code == .customerNotVerified)
            let into = try await service.perform(
                .transfer(from: "CP0000000001", to: "CP0000000005", amount: 1_000), by: teller, key: desk.next(), ip: nil)
            #expect(into.code == .approved)
            // The bank's setting: no deposits either.
            try await bank.asSuperuser { try await $0.query("UPDATE bank.settings SET unverified_may = '{}'", logger: quietLogger) }
            #expect(try await self.move(service, .deposit(amount: 1_000, account: nil), patPAN, "2468", keys) == .customerNotVerified)
            // Refusals are audited with their code, nothing moved.
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE outcome = '1K'") == 4)
            #expect(try await bank.balance("CP0000000005") == 32_500)
        }
    }

    @Test("verified customers pass; an expired review, a rejection, and an unrecorded customer once the bank says so are 1K")
    func verifiedExpiredRejectedUnrecorded() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let keys = KeyMaker()
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), alicePAN, "1234", keys) == .approved)
            // A transfer from verified alice to her own accounts; pat may receive (deposits allowed).
            let alice = try await self.userID(bank, "alice")
            try await bank.asSuperuser {
                try await $0.query(
                    "UPDATE bank.customer_identities SET review_due = current_date - 1 WHERE user_id = \(alice)",
                    logger: quietLogger)
            }
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), alicePAN, "1234", keys) == .customerNotVerified)
            let officer = try await service.signedOnStaff("cora.compliance", "compliance-test-password")
            let record = try await service.perform(.viewKYC(customerID: alice), by: officer, key: KeyMaker(terminal: "BRANCH01").next(), ip: nil)
            #expect(record.kyc?.status == .expired)
            // bob rejected: 1K.
            let bob = try await self.userID(bank, "bob")
            let rejected = try await service.perform(
                .decideKYC(customerID: bob, decision: .rejected, reason: "document forged"), by: officer,
                key: KeyMaker(terminal: "BRANCH01").next(), ip: nil, fourEyes: Self.fresh)
            #expect(rejected.code == .approved)
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), bobPAN, "4321", keys) == .customerNotVerified)
            // carol with no identity recorded (a customer from before KYC): served while serve_unrecorded.
            let carol = try await self.userID(bank, "carol")
            try await bank.asSuperuser {
                try await $0.query("DELETE FROM bank.customer_identities WHERE user_id = \(carol)", logger: quietLogger)
            }
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), carolPAN, "0000", keys) == .approved)
            try await bank.asSuperuser { try await $0.query("UPDATE bank.settings SET serve_unrecorded = false", logger: quietLogger) }
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), carolPAN, "0000", keys) == .customerNotVerified)
        }
    }

    @Test("a teller cannot decide KYC: refused by the permission table (audited) and, called directly, by the database")
    func tellerCannotVerify() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let pat = try await self.userID(bank, "pat")
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let admin = try await service.signedOnStaff("ada.admin", "admin-test-password")
            for staff in [teller, admin] {
                let answer = try await service.perform(
                    .decideKYC(customerID: pat, decision: .verified, reason: "looks fine"), by: staff,
                    key: KeyMaker(terminal: "BRANCH01").next(), ip: nil, fourEyes: Self.fresh)
                #expect(answer.code == .notPermittedToTerminal)
            }
            let viewed = try await service.perform(.viewKYC(customerID: pat), by: teller, key: KeyMaker(terminal: "BRANCH01").next(), ip: nil)
            #expect(viewed.code == .notPermittedToTerminal && viewed.kyc == nil)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'kyc.verified' AND outcome = '58'") == 2)
            // The database layer alone: the switch's role calling the functions as a teller.
            for sql in [
                "SELECT * FROM bank.decide_kyc('teller', 1, 'tina.teller', NULL, 'BRANCH01', \(pat), 'verified', 'x', 36)",
                "SELECT * FROM bank.decide_kyc('admin', 2, 'ada.admin', NULL, 'BRANCH01', \(pat), 'verified', 'x', 36)",
                "SELECT * FROM bank.customer_kyc('teller', 'tina.teller', NULL, 'BRANCH01', \(pat))",
                "SELECT bank.record_screening('teller', 'tina.teller', NULL, 'BRANCH01', \(pat), 'clear', NULL, 'low', '{x}')",
            ] {
                let state = try await bank.asSwitchRole { await $0.sqlState(of: sql) }
                #expect(state == "42501", "\(sql)")
            }
            // No table of identities is readable by the switch's role.
            #expect(try await bank.asSwitchRole { await $0.sqlState(of: "SELECT * FROM bank.customer_identities") } == "42501")
            #expect(try await bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE status = 'pending' AND user_id = \(pat)") == 1)
        }
    }

    @Test("a compliance officer verifies a pending customer with a fresh code and a reason; the money then moves")
    func complianceVerifies() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let pat = try await self.userID(bank, "pat")
            let officer = try await service.signedOnStaff("cora.compliance", "compliance-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            let stale = try await service.perform(
                .decideKYC(customerID: pat, decision: .verified, reason: "ok"), by: officer, key: desk.next(), ip: nil,
                fourEyes: FourEyesRequest(reason: nil, factorIsFresh: false))
            #expect(stale.code == .additionalAuthenticationRequired && stale.nextFactor == .code)
            let noReason = try await service.perform(
                .decideKYC(customerID: pat, decision: .verified, reason: ""), by: officer, key: desk.next(), ip: nil,
                fourEyes: Self.fresh)
            #expect(noReason.code == .formatError && noReason.nextFactor == .reason)
            let done = try await service.perform(
                .decideKYC(customerID: pat, decision: .verified, reason: "passport seen"), by: officer, key: desk.next(),
                ip: nil, fourEyes: Self.fresh)
            #expect(done.code == .approved)
            let record = try #require(try await service.perform(.viewKYC(customerID: pat), by: officer, key: desk.next(), ip: nil).kyc)
            #expect(record.status == .verified && record.decidedBy == "cora.compliance" && record.reviewDue != nil)
            #expect(record.rating == .low && record.maskedDocument == "passport GB ****8452")
            #expect(try await bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE user_id = \(pat) AND review_due = (current_date + interval '36 months')::date") == 1)
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), patPAN, "2468", KeyMaker()) == .approved)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'kyc.verified' AND outcome = '00'") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'kyc.view'") == 1)
        }
    }

    @Test("verifying a high-risk customer is held: not the maker's, nor a teller's to approve; a second compliance officer applies it")
    func highRiskFourEyes() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let hugo = try await self.userID(bank, "hugo")
            let atm = KeyMaker()
            let cora = try await service.signedOnStaff("cora.compliance", "compliance-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            let record = try #require(try await service.perform(.viewKYC(customerID: hugo), by: cora, key: desk.next(), ip: nil).kyc)
            #expect(record.rating == .high && record.status == .pending)
            #expect(record.reasons.contains("nationality IR: FATF call for action") && record.reasons.contains("politically exposed person"))
            let held = try await service.perform(
                .decideKYC(customerID: hugo, decision: .verified, reason: "source of wealth documented"), by: cora,
                key: desk.next(), ip: nil, fourEyes: Self.fresh)
            #expect(held.code == .held)
            let change = try #require(held.changeID)
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), hugoPAN, "1357", atm) == .customerNotVerified)
            let own = try await service.approveChange(change, by: cora, device: "BRANCH01", ip: nil, factorIsFresh: true)
            #expect(own.code == .notPermittedToTerminal)
            let tom = try await service.signedOnStaff("tom.teller", "teller2-test-password")
            let teller = try await service.approveChange(change, by: tom, device: "BRANCH01", ip: nil, factorIsFresh: true)
            #expect(teller.code == .notPermittedToTerminal && teller.reason == "checker role: compliance")
            // The database alone refuses a direct verification of a high-risk customer.
            let direct = try await bank.asSwitchRole {
                await $0.sqlState(of: "SELECT * FROM bank.decide_kyc('compliance', NULL, 'cora.compliance', NULL, 'B', \(hugo), 'verified', 'x', 12)")
            }
            #expect(direct == "CPHLD")
            let cid = try await service.signedOnStaff("cid.compliance", "compliance2-test-password")
            let applied = try await service.approveChange(change, by: cid, device: "BRANCH01", ip: nil, factorIsFresh: true)
            #expect(applied.code == .approved)
            let after = try #require(try await service.perform(.viewKYC(customerID: hugo), by: cid, key: desk.next(), ip: nil).kyc)
            #expect(after.status == .verified && after.decidedBy == "cid.compliance" && after.decisionReason == "source of wealth documented")
            #expect(try await bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE user_id = \(hugo) AND review_due = (current_date + interval '12 months')::date") == 1)
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), hugoPAN, "1357", atm) == .approved)
            // Rejecting is never held.
            let rejected = try await service.perform(
                .decideKYC(customerID: hugo, decision: .rejected, reason: "adverse media"), by: cora, key: desk.next(),
                ip: nil, fourEyes: Self.fresh)
            #expect(rejected.code == .approved)
        }
    }

    @Test("a sanctions hit fed in holds a verified customer pending and rates them high; screening reads name, birth date, nationality")
    func screeningHit() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let alice = try await self.userID(bank, "alice")
            let subject = try #require(try await service.screeningSubject(alice))
            #expect(subject.legalName == "Alice Archer" && subject.dateOfBirth == "1984-03-15" && subject.nationality == "GB")
            #expect(subject.status == .verified && subject.rating == .low)
            let page = try await service.screeningSubjects(after: nil, limit: 2)
            #expect(page.count == 2 && page[0].customerID < page[1].customerID)
            let rest = try await service.screeningSubjects(after: page[1].customerID, limit: 100)
            #expect(page.count + rest.count == 5)
            let result = try #require(try await service.recordScreening(alice, result: .hit(detail: "SDN 9999 score 0.91")))
            #expect(result.status == .pending && result.rating.rating == .high && result.rating.hold)
            #expect(try await self.move(service, .withdrawal(amount: 1_000, account: nil), alicePAN, "1234", KeyMaker()) == .customerNotVerified)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'kyc.screened'") == 1)
            let cleared = try #require(try await service.recordScreening(alice, result: .clear))
            #expect(cleared.status == .pending && cleared.rating.rating == .low)
            #expect(try await service.recordScreening(999_999, result: .clear) == nil)
        }
    }

    @Test("CREATE records the identity pending, the document only as a keyed digest and its last 4, nowhere in clear")
    func createRecordsIdentity() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let result = try await service.createCustomer(
                NewCustomer(userName: "dora", fullName: "Dora Dale", identity: .exposed, cardBIN: "476173"),
                by: teller, key: KeyMaker(terminal: "BRANCH01").next(), ip: nil)
            guard case .created(let made) = result else { throw TestFailure("not created: \(result)") }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE user_id = \(made.customerID) AND status = 'pending' AND risk_rating = 'high' AND document_last4 = '8877'") == 1)
            let leaks = try await bank.count(
                """
                SELECT (SELECT count(*) FROM bank.customer_identities i WHERE i::text LIKE '%PEP998877%')::int
                    + (SELECT count(*) FROM bank.audit_logs a WHERE a::text LIKE '%PEP998877%')::int
                """)
            #expect(leaks == 0)
            var bad = CustomerIdentity.sample
            bad.nationality = "XYZ"
            let refused = try await service.createCustomer(
                NewCustomer(userName: "ed", fullName: "Ed", identity: bad, cardBIN: "476173"),
                by: teller, key: KeyMaker(terminal: "BRANCH01").next(), ip: nil)
            #expect(refused == .refused(.invalidIdentity("nationality: ISO 3166 alpha-2")))
            #expect(try await bank.count("SELECT count(*)::int FROM bank.users WHERE user_name = 'ed'") == 0)
        }
    }
}
