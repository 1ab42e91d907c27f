import ATM87
import CashpointHarness
import CashpointSecurity
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import Synchronization
import Testing

/// What a client written from docs/protocol.md alone expects of the switch (issue 11).
@Suite("The switch keeps its published contract", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(5)))
struct WireContractTests {
    /// A 0200 withdrawal of Alice's with a PIN block, unsigned; field 102 gives it a secondary bitmap.
    static func withdrawal(_ terminal: TerminalSession, amount: Int = 1_000) throws -> ATM87Message {
        var request = try terminal.header(.financialRequest)
        try request.set(2, alice.pan)
        try request.set(3, "010000")
        try request.set(4, number: amount)
        try request.set(22, "051")
        try request.set(49, "978")
        try request.set(52, bytes: try terminal.pinBlock(pin: alice.pin, pan: alice.pan))
        try request.set(102, alice.current)
        return request
    }

    @Test(
        "every answer of every fixture sequence obeys ATM87Rules for its MTI",
        arguments: ["customer-session", "teller-admin", "demo", "after-flood"]
    )
    func sequencesObeyTheRules(_ name: String) async throws {
        try await SwitchUnderTest.with { under in
            let script = try Script.load(repositoryRoot.appendingPathComponent("fixtures/sequences/\(name).json").path)
            let key = try masterKey(script.terminal)
            let broken = Mutex<[String]>([])
            let runner = ScriptRunner(
                host: "127.0.0.1",
                port: under.port,
                masterKey: { _ in key },
                say: { _ in },
                inspect: { step, answer in
                    let violations = ATM87Rules.check(answer)
                    if !violations.isEmpty {
                        broken.withLock { $0.append("\(step.name ?? step.action) \(answer.mti): \(violations)") }
                    }
                }
            )
            let result = await runner.run(script)
            #expect(result.failed + result.errors == 0)
            #expect(broken.withLock { $0 } == [])
        }
    }

    @Test("a 0510 (95), 30s for requests that break the rules and 12s obey the rules against their requests")
    func answersObeyTheRules() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                var reconciliation = try terminal.header(.reconciliationRequest)
                try reconciliation.set(15, "1125")
                try reconciliation.set(50, "978")
                try reconciliation.set(74, "0000000001")
                try reconciliation.set(76, "0000000003")
                try reconciliation.set(86, "0000000000005000")
                try reconciliation.set(88, "0000000000026000")
                try reconciliation.set(97, "D0000000000021000")
                var noAmount = try Self.withdrawal(terminal)
                noAmount.remove(4)
                var noTerminal = try Self.withdrawal(terminal)
                noTerminal.remove(22)
                var unknownCode = try Self.withdrawal(terminal)
                try unknownCode.set(3, "990000")
                var unknownReversalCode = try terminal.header(.reversalAdvice)
                try unknownReversalCode.set(2, alice.pan)
                try unknownReversalCode.set(3, "310000")
                try unknownReversalCode.set(4, number: 1_000)
                try unknownReversalCode.set(90, "0200000999" + "1125093112" + String(repeating: "0", count: 22))
                let cases: [(ATM87Message, String)] = [
                    // The terminal claims figures the ledger does not have for it: a reconcile error.
                    (reconciliation, "95"), (noAmount, "30"), (noTerminal, "30"), (unknownCode, "12"),
                    (unknownReversalCode, "12"),
                ]
                for (request, code) in cases {
                    let answer = try await terminal.send(request)
                    #expect(answer[39] == code, "\(request.mti) answered \(answer[39] ?? "-")")
                    let violations = ATM87Rules.check(response: answer, to: request)
                    #expect(violations.isEmpty, "\(answer.mti) to \(request.mti): \(violations)")
                    #expect(answer.contains(64) || answer.contains(128), "\(answer.mti) has no MAC")
                }
                let reconciled = try await terminal.send(reconciliation)
                #expect(reconciled.contains(128) && !reconciled.contains(64))
            }
            #expect(try await under.bank.balance(alice.current) == 250_000)
        }
    }

    @Test("a MAC in the wrong field (64 with a secondary bitmap, or both 64 and 128) is answered 63 and audited")
    func misplacedMAC() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let keys = try #require(terminal.keys)
                var in64 = try Self.withdrawal(terminal)
                try in64.set(64, bytes: [UInt8](repeating: 0x5A, count: 8))
                let first = try await terminal.link.exchange(in64)
                #expect(first[39] == "63")
                #expect(ATM87Rules.check(response: first, to: in64).isEmpty)
                var both = try MessageAuthentication.sign(try Self.withdrawal(terminal), key: keys.mac)
                try both.set(64, bytes: [UInt8](repeating: 0x5A, count: 8))
                let second = try await terminal.link.exchange(both)
                #expect(second[39] == "63")
                #expect(MessageAuthentication.verify(second, key: keys.mac) == nil)
            }
            #expect(try await under.auditCount("mac.refused") == 2)
            #expect(try await under.bank.balance(alice.current) == 250_000)
        }
    }

    @Test("a request type the switch does not serve gets its response type and 12; a response type gets nothing")
    func unservedTypes() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                for (asked, answered) in [(100, 110), (120, 130), (400, 410), (820, 830)] {
                    let request = try terminal.header(MTI(rawValue: UInt16(asked)))
                    let answer = try await terminal.link.exchange(request)
                    #expect(answer.mti == MTI(rawValue: UInt16(answered)))
                    #expect(answer[39] == "12")
                    #expect(answer[11] == request[11])
                    #expect(answer[41] == request[41])
                }
                // A response sent to the switch is dropped: the next answer on the connection is the echo's.
                var stray = try terminal.header(.financialResponse)
                try stray.set(3, "010000")
                try stray.set(4, number: 100)
                try stray.set(39, "00")
                try await terminal.link.send(MessageAuthentication.sign(stray, key: try #require(terminal.keys).mac))
                let echo = try await terminal.echo()
                #expect(echo.mti == .networkManagementResponse)
                #expect(echo[39] == "00")
            }
        }
    }

    /// A 0420 for `original` (a 0210) with the given fields replaced.
    static func reversal(of original: ATM87Message, _ terminal: TerminalSession, changing: [Int: String]) throws
        -> ATM87Message
    {
        var request = try terminal.header(.reversalAdvice)
        for field in [2, 3, 4, 49] { if let value = original[field] { try request.set(field, value) } }
        try request.set(90, "0200" + original[11]! + original[7]! + String(repeating: "0", count: 22))
        for (field, value) in changing { try request.set(field, value) }
        return request
    }

    @Test("every 0210 and 0430 carries a retrieval reference (37); every approval an authorization code (38)")
    func referencesAndAuthorization() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let cash = try await terminal.cardRequest(
                    .withdrawal, pan: alice.pan, pin: alice.pin, amount: 10_000, from: alice.current)
                #expect(cash[39] == "00")
                let cashReference = try #require(cash[37])
                #expect(cashReference.count == 12 && cashReference.allSatisfy(\.isNumber))
                let balance = try await terminal.cardRequest(.balance, pan: alice.pan, from: alice.current)
                let statement = try await terminal.cardRequest(.statement, pan: alice.pan, from: alice.current)
                let tooMuch = try await terminal.cardRequest(
                    .transfer, pan: alice.pan, amount: 99_000_000, from: alice.current, to: alice.savings)
                #expect(tooMuch[39] == "51")
                let advice = try await terminal.reversal(of: cash, dispensed: 0)
                #expect(advice[39] == "00")
                for answer in [balance, statement] {
                    #expect(answer[39] == "00")
                    #expect(answer[38]?.count == 6)
                    #expect(answer[37]?.count == 12)
                }
                #expect(tooMuch[37]?.count == 12)
                #expect(tooMuch[38] == nil)
                #expect(advice[37]?.count == 12)
                let references = [cash, balance, statement, tooMuch, advice].compactMap { $0[37] }
                #expect(Set(references).count == 5)
                for answer in [cash, balance, statement, tooMuch] {
                    #expect(ATM87Rules.check(answer).isEmpty)
                }
                #expect(ATM87Rules.check(advice).isEmpty)
                // An approved PIN opens a card session, a PIN change too.
                terminal.cardToken = nil
                let changed = try await terminal.cardRequest(
                    .pinChange, pan: bob.pan, pin: bob.pin, newPIN: "8642")
                #expect(changed[39] == "00")
                #expect(changed[38]?.count == 6)
                #expect(changed[62] != nil)
            }
        }
    }

    @Test("field 49 must be the account's currency: another is refused (12), audited, and moves nothing")
    func currency() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                for currency in ["840", "999"] {
                    var request = try Self.withdrawal(terminal, amount: 10_000)
                    try request.set(49, currency)
                    let answer = try await terminal.send(request)
                    #expect(answer[39] == "12")
                    #expect(answer[54] == nil)
                    #expect(ATM87Rules.check(response: answer, to: request).isEmpty)
                }
                let right = try await terminal.send(try Self.withdrawal(terminal, amount: 10_000))
                #expect(right[39] == "00")
                #expect(right[54] == "0001978C000000240000")
            }
            #expect(try await under.auditCount("currency.refused") == 2)
            #expect(try await under.bank.balance(alice.current) == 240_000)
        }
    }

    @Test("a reversal whose card, processing code or amount differs from its original is refused (12) and audited")
    func reversalMustMatch() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let cash = try await terminal.cardRequest(
                    .withdrawal, pan: alice.pan, pin: alice.pin, amount: 10_000, from: alice.current)
                #expect(cash[39] == "00")
                let changes: [([Int: String], Int)] = [
                    ([2: bob.pan], 2), ([3: "210000"], 3), ([4: "000000020000"], 4), ([4: "000000005000"], 4),
                ]
                for (change, field) in changes {
                    let advice = try Self.reversal(of: cash, terminal, changing: change)
                    let answer = try await terminal.send(advice)
                    #expect(answer[39] == "12", "\(change)")
                    // Field 44 (25 characters) names the field that differs.
                    #expect(answer[44] == "not the original: field \(field)", "\(change)")
                    #expect(ATM87Rules.check(response: answer, to: advice).isEmpty)
                }
                #expect(try await under.bank.balance(alice.current) == 240_000)
                let right = try await terminal.send(try Self.reversal(of: cash, terminal, changing: [:]))
                #expect(right[39] == "00")
            }
            #expect(try await under.auditCount("reversal.refused") == 4)
            #expect(try await under.bank.balance(alice.current) == 250_000)
        }
    }

    @Test("a PAN that fails the Luhn check is refused 14 before any database work")
    func luhnAtTheSwitch() async throws {
        try await SwitchUnderTest.with { under in
            let before = try await under.bank.count("SELECT count(*)::int FROM bank.audit_logs")
            try await under.terminal { terminal in
                var request = try Self.withdrawal(terminal)
                try request.set(2, "4761739001010118")
                try request.set(52, bytes: try terminal.pinBlock(pin: alice.pin, pan: "4761739001010118"))
                let answer = try await terminal.send(request)
                #expect(answer[39] == "14")
            }
            // Only the sign-on is audited: the refused card reached no database function.
            let after = try await under.bank.count("SELECT count(*)::int FROM bank.audit_logs")
            #expect(after - before == 1)
        }
    }

    @Test("CREATE without a PAN or account number: the bank allocates both, the PAN Luhn-valid under its BIN")
    func allocatedNumbers() async throws {
        try await SwitchUnderTest.with(configure: { $0.cardBIN = "45671234" }) { under in
            try await under.terminal("BRANCH01") { branch in
                #expect(try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39] == "00")
                var pans: [String] = []
                for name in ["erin", "finn"] {
                    let created = try await branch.create([("UN", name), ("CN", "Test \(name)")])
                    #expect(created[39] == "00")
                    let pan = try #require(created[2])
                    #expect(pan.hasPrefix("45671234") && pan.count == 16 && Luhn.isValidPAN(pan))
                    #expect(created[102]?.hasPrefix("CP") == true)
                    let tlv = try ATM87TLV(parsing: try #require(created[48]))
                    #expect(tlv["PB"] != nil)
                    pans.append(pan)
                }
                #expect(Set(pans).count == 2)
                let typedBad = try await branch.create([("UN", "gail"), ("CN", "Gail G")], fields: [2: "4000001234567898"])
                #expect(typedBad[39] == "14")
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.users WHERE user_name = 'gail'") == 0)
        }
    }

    @Test("CREATE that fails at the card step (the PAN is taken) makes nothing: 12, no CU or AI, no user, no account")
    func createIsOneTransaction() async throws {
        try await SwitchUnderTest.with { under in
            let users = try await under.bank.count("SELECT count(*)::int FROM bank.users")
            let accounts = try await under.bank.count("SELECT count(*)::int FROM bank.accounts")
            let audited = try await under.auditCount("customer.create")
            try await under.terminal("BRANCH01") { branch in
                #expect(try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39] == "00")
                let refused = try await branch.create(
                    [("UN", "hana"), ("CN", "Hana H")],
                    fields: [2: alice.pan, 102: "CP0000000077"]
                )
                #expect(refused[39] == "12")
                #expect(refused[44] == "card exists; nothing made")
                #expect(refused[48] == nil)
                // Sent again with another card, it is made whole.
                let made = try await branch.create(
                    [("UN", "hana"), ("CN", "Hana H")],
                    fields: [102: "CP0000000077"]
                )
                #expect(made[39] == "00")
                #expect(made[102] == "CP0000000077")
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.users") == users + 1)
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.accounts") == accounts + 1)
            #expect(try await under.auditCount("customer.create") == audited + 1)
        }
    }

    @Test("USERS pages: PG and LM at the first, last and past the last user; CT counts all; NX only before the end")
    func userPages() async throws {
        try await SwitchUnderTest.with { under in
            let total = try await under.bank.count("SELECT count(*)::int FROM bank.users")
            try await under.terminal("BRANCH01") { (branch: TerminalSession) async throws -> Void in
                #expect(try await branch.staffLogin(userName: "ada.admin", password: "admin-test-password", code: under.code("ada.admin"))[39] == "00")
                func page(_ skip: Int?, _ limit: Int?) async throws -> ATM87TLV {
                    var elements: [(String, String)] = []
                    if let skip { elements.append(("PG", String(skip))) }
                    if let limit { elements.append(("LM", String(limit))) }
                    let answer = try await branch.administrative("USERS", elements)
                    try #require(answer[39] == "00")
                    return try ATM87TLV(parsing: try #require(answer[48]))
                }
                let all = try await page(nil, nil)
                #expect(all["CT"] == String(total) && all.all("US").count == total && all["NX"] == nil)
                let first = try await page(0, 2)
                #expect(first.all("US") == Array(all.all("US").prefix(2)))
                #expect(first["NX"] == "2" && first["CT"] == String(total))
                let second = try await page(2, 2)
                #expect(second.all("US") == Array(all.all("US").dropFirst(2).prefix(2)))
                let last = try await page(total - 1, 2)
                #expect(last.all("US") == [all.all("US")[total - 1]] && last["NX"] == nil)
                let exact = try await page(total - 2, 2)
                #expect(exact.all("US").count == 2 && exact["NX"] == nil)
                let past = try await page(total, 20)
                #expect(past.all("US").isEmpty && past["CT"] == String(total) && past["NX"] == nil)
                let far = try await page(Int(Int32.max), 50)
                #expect(far.all("US").isEmpty && far["CT"] == String(total))
            }
        }
    }

    @Test("USERS and AUDIT page sizes outside 1-50 are refused with 30")
    func pageSizes() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal("BRANCH01") { (branch: TerminalSession) async throws -> Void in
                #expect(try await branch.staffLogin(userName: "ada.admin", password: "admin-test-password", code: under.code("ada.admin"))[39] == "00")
                for op in ["USERS", "AUDIT"] {
                    for limit in ["0", "51", "x", "-1"] {
                        #expect(try await branch.administrative(op, [("LM", limit)])[39] == "30", "\(op) LM \(limit)")
                    }
                    #expect(try await branch.administrative(op, [("LM", "50")])[39] == "00")
                }
                #expect(try await branch.administrative("USERS", [("PG", "x")])[39] == "30")
            }
        }
    }
}
