import ATM87
import CashpointBank
import CashpointCompliance
import CashpointDatabase
import CashpointSecurity
import CashpointStore
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import Testing

/// Sanctions screening wired into know your customer (issue 21): at CREATE a listed name is held
/// pending, rated high, with a case opened by screening; a re-screening after a new list version holds
/// a customer it newly names, and a stopped re-screening resumes from its cursor.
@Suite("screening at onboarding and re-screening", .serialized, .enabled(if: databaseTestsEnabled))
struct CustomerScreeningTests {
    static let actor = ActorContext.system("screening test")
    let keys = KeyMaker()
    static let files = [SanctionListFile(name: "sdn.csv", sha256: String(repeating: "cd", count: 32), bytes: 10)]

    static func ofac() throws -> [SanctionEntry] {
        func file(_ name: String) throws -> [UInt8] {
            Array(try Data(contentsOf: repositoryRoot.appendingPathComponent("fixtures/sanctions/ofac/\(name)")))
        }
        return try OFACParser.parse(sdn: try file("sdn.csv"), alt: try file("alt.csv"), add: try file("add.csv"))
    }

    static func load(_ store: BankStore, _ entries: [SanctionEntry]) async throws {
        _ = try await store.loadSanctionList(actor: Self.actor, source: .ofac, files: Self.files, entries: entries)
    }

    func userID(_ bank: TestBank, _ name: String) async throws -> Int64 {
        Int64(try await bank.count("SELECT id::int FROM bank.users WHERE user_name = '\(name)'"))
    }

    func withdraw(_ service: Bank, _ pan: String, _ pin: String) async throws -> ResponseCode {
        let result = try await service.authenticateCard(service.present(pan: pan), pin: pin, terminal: "ATM00001", ip: nil)
        guard case .approved(let holder) = result else { throw TestFailure("\(pan): \(result)") }
        return try await service.perform(
            .withdrawal(amount: 1_000, account: nil),
            for: holder,
            card: service.present(pan: pan),
            key: self.keys.next(),
            ip: nil
        ).code
    }

    @Test("CREATE: a listed name is held pending, high, a case opened by screening, audited; a clear name is clear")
    func createScreens() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let screening = CustomerScreening(store: service.store, logger: quietLogger)
            // No list loaded: not screened, and said so.
            let none = await screening.screen(legalName: "Mohammed Tariq al-Masudi", dateOfBirth: "1970-01-12", nationality: "IR")
            #expect(none.result == .notScreened && none.notScreenedBecause == "no sanctions list loaded")
            try await Self.load(service.store, try Self.ofac())
            let listed = await screening.screen(legalName: "Mohammed Tariq al-Masudi", dateOfBirth: "1970-01-12", nationality: "IR")
            guard case .hit(let detail) = listed.result else { throw TestFailure("no hit: \(listed)") }
            #expect(detail.hasPrefix("ofac 4501 "))
            let clear = await screening.screen(legalName: "Dora Dale", dateOfBirth: "1990-01-31", nationality: "GB")
            #expect(clear.result == .clear)

            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            var identity = CustomerIdentity.sample
            identity.dateOfBirth = DateComponents(year: 1970, month: 1, day: 12)
            identity.nationality = "IR"
            let made = try await service.createCustomer(
                NewCustomer(userName: "tariq", fullName: "Mohammed Tariq al-Masudi", identity: identity,
                    screening: listed.result, dailyLimit: 100_000, cardBIN: "476173"),
                by: teller, key: KeyMaker(terminal: "BRANCH01").next(), ip: nil)
            guard case .created(let tariq) = made else { throw TestFailure("not created: \(made)") }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE user_id = \(tariq.customerID) AND status = 'pending' AND risk_rating = 'high' AND screening = 'hit' AND screening_detail LIKE 'ofac 4501 %'") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.cases WHERE customer_id = \(tariq.customerID) AND opened_by = 'screening' AND severity = 'high' AND status = 'open'") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.case_events e JOIN bank.cases c ON c.id = e.case_id WHERE c.customer_id = \(tariq.customerID) AND e.event = 'opened' AND e.detail LIKE 'sanctions screening hit: ofac 4501 %'") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'kyc.record' AND details->>'screening' = 'hit' AND (details->>'user')::bigint = \(tariq.customerID)") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'case.opened' AND actor = 'screening'") == 1)
            #expect(try await self.withdraw(service, tariq.pan, tariq.firstPIN) == .customerNotVerified)

            let dora = try await service.createCustomer(
                NewCustomer(userName: "dora", fullName: "Dora Dale", identity: .sample, screening: clear.result,
                    cardBIN: "476173"),
                by: teller, key: KeyMaker(terminal: "BRANCH01").next(), ip: nil)
            guard case .created(let doraMade) = dora else { throw TestFailure("not created: \(dora)") }
            #expect(try await bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE user_id = \(doraMade.customerID) AND screening = 'clear' AND status = 'pending'") == 1)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.cases WHERE customer_id = \(doraMade.customerID)") == 0)
        }
    }

    @Test("a new list version naming an existing customer: the re-screening holds her (pending, case, 1K), audited")
    func rescreenHoldsANewlyListedCustomer() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let store = service.store
            let screening = CustomerScreening(store: store, logger: quietLogger)
            var lines: [String] = []
            // Nothing loaded: nothing to re-screen.
            let idle = try await SwitchCommands.rescreenCustomers(
                store: store, screening: screening, batch: 100, threshold: nil, force: false) { lines.append($0) }
            #expect(idle.versions.isEmpty && idle.screened == 0)
            let entries = try Self.ofac()
            try await Self.load(store, entries)
            let first = try await SwitchCommands.rescreenCustomers(
                store: store, screening: screening, batch: 100, threshold: nil, force: false) { lines.append($0) }
            #expect(first.finished && first.screened == 5 && first.hits == 0)
            #expect(lines == ["rescreened 5 of 5 customers, 0 hits"])
            let alice = try await self.userID(bank, "alice")
            #expect(try await service.screeningSubject(alice)?.facts.screening == .clear)
            #expect(try await self.withdraw(service, alicePAN, "1234") == .approved)
            // Done: a second run finds nothing due.
            let again = try await SwitchCommands.rescreenCustomers(
                store: store, screening: screening, batch: 100, threshold: nil, force: false) { _ in }
            #expect(again.versions.isEmpty)

            let listed = SanctionEntry(
                source: .ofac, uid: "9901", type: .individual, primaryName: "ARCHER, Alice",
                aliases: [], datesOfBirth: [DateOfBirth(year: 1984, month: 3, day: 15)], nationalities: ["GB"],
                program: "TEST", addressCountries: [])
            try await Self.load(store, entries + [listed])
            let second = try await SwitchCommands.rescreenCustomers(
                store: store, screening: screening, batch: 100, threshold: nil, force: false) { _ in }
            #expect(second.finished && second.screened == 5 && second.hits == 1)
            let held = try #require(try await service.screeningSubject(alice))
            #expect(held.status == .pending && held.rating == .high)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.cases WHERE customer_id = \(alice) AND opened_by = 'screening' AND severity = 'high'") == 1)
            #expect(try await self.withdraw(service, alicePAN, "1234") == .customerNotVerified)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'sanctions.rescreen' AND details->>'phase' = 'finish'") == 2)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.sanction_lists WHERE status = 'current' AND rescreened_at IS NULL") == 0)
        }
    }

    @Test("a re-screening stopped after one page resumes from its cursor and screens nobody twice")
    func rescreenResumes() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let store = service.store
            let screening = CustomerScreening(store: store, logger: quietLogger)
            try await Self.load(store, try Self.ofac())
            var lines: [String] = []
            let stopped = try await SwitchCommands.rescreenCustomers(
                store: store, screening: screening, batch: 2, threshold: nil, force: false, stopAfter: 1
            ) { lines.append($0) }
            #expect(!stopped.finished && stopped.screened == 2)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE screening = 'clear'") == 2)
            let rest = try await SwitchCommands.rescreenCustomers(
                store: store, screening: screening, batch: 2, threshold: nil, force: false
            ) { lines.append($0) }
            #expect(rest.finished && rest.screened == 3)
            #expect(lines == ["rescreened 2 of 5 customers, 0 hits", "rescreened 2 of 5 customers, 0 hits", "rescreened 3 of 5 customers, 0 hits"])
            // Every customer screened once: one kyc.screened each, five in all.
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'kyc.screened'") == 5)
            #expect(try await bank.count("SELECT count(DISTINCT details->>'user')::int FROM bank.audit_logs WHERE action = 'kyc.screened'") == 5)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'sanctions.rescreen' AND details->>'phase' = 'start'") == 2)
            // Forced: everyone again.
            let forced = try await SwitchCommands.rescreenCustomers(
                store: store, screening: screening, batch: 100, threshold: nil, force: true) { _ in }
            #expect(forced.finished && forced.screened == 5)
        }
    }

    @Test("CREATE on the wire: KS pending and SC not_screened (no list), then, once a list is loaded, SC hit and the card 1K")
    func createOnTheWire() async throws {
        try await SwitchUnderTest.with { under in
            let (pan, pin): (String, String) = try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39]
                        == "00")
                let before = try ATM87TLV(parsing: try await branch.create([("UN", "nia"), ("CN", "Nia North")])[48] ?? "")
                #expect(before["KS"] == "pending" && before["SC"] == "not_screened|no sanctions list loaded")
                try await under.bank.switchURL.withClient(logger: quietLogger) { client in
                    try await Self.load(BankStore(client: client, logger: quietLogger), try Self.ofac())
                }
                let created = try await branch.administrative(
                    "CREATE",
                    [("UN", "tariq"), ("CN", "Mohammed Tariq al-Masudi"), ("BD", "19700112"), ("NA", "IR"),
                        ("AD", "3 Test Street, Exampleton"), ("IT", "passport"), ("IC", "IR"), ("PP", "N")],
                    secrets: [(.documentNumber, "S1234545")]
                )
                #expect(created[39] == "00")
                let tlv = try ATM87TLV(parsing: created[48] ?? "")
                #expect(tlv["KS"] == "pending" && tlv["SC"]?.hasPrefix("hit|ofac 4501 ") == true)
                let pan = try #require(created[2])
                let pin = try PINBlock.decipher(try #require(tlv["PB"].flatMap(Hex.decode)), pan: pan, key: try #require(branch.keys).pin)
                #expect(try await branch.administrative("DEPOSIT", fields: [4: "000000010000", 102: try #require(created.trimmed(102))])[39] == "00")
                return (pan, pin)
            }
            try await under.terminal { atm in
                let refused = try await atm.cardRequest(.withdrawal, pan: pan, pin: pin, amount: 1_000)
                #expect(refused[39] == "1K")
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.cases WHERE opened_by = 'screening'") == 1)
        }
    }
}
