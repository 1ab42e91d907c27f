import ATM87
import CashpointSecurity
import CashpointStore
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// The switch over real TCP on a free port, against a fresh seeded bank in the private PostgreSQL.
@Suite("End to end over TCP", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct EndToEndTests {
    @Test("sign-on delivers wrapped session keys; echo and sign-off use the MAC")
    func signOn() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let keys = try #require(terminal.keys)
                #expect(KeyCheckValue.of(keys.pin) != KeyCheckValue.of(keys.mac))
                let echo = try await terminal.echo()
                #expect(echo[39] == "00")
                #expect(echo.contains(128))
                let off = try await terminal.signOff()
                #expect(off[39] == "00")
                // After sign-off the terminal has no session: a request is refused with 58.
                var request = try terminal.header(.networkManagementRequest)
                try request.set(70, "301")
                let refused = try await terminal.link.exchange(MessageAuthentication.sign(request, key: keys.mac))
                #expect(refused[39] == "58")
            }
            #expect(try await under.auditCount("terminal.signon") == 1)
            #expect(try await under.auditCount("terminal.signoff") == 1)
            // Stored sealed: no row holds a 32-byte value that is a session key in the clear.
            let sealed = try await under.bank.count(
                "SELECT count(*)::int FROM bank.terminals WHERE length(master_key_sealed) = 60"
            )
            #expect(sealed == 3)
        }
    }

    @Test("sign-on from an unknown or disabled terminal is refused (58) and audited")
    func signOnRefused() async throws {
        try await SwitchUnderTest.with { under in
            let answer = try await SwitchLink.with(host: "127.0.0.1", port: under.port) { link in
                let session = TerminalSession(link: link, terminal: "ATM99999", masterKey: try masterKey("ATM00001"))
                return try await session.signOn()
            }
            #expect(answer[39] == "58")
            #expect(answer[120] == nil)
            try await under.bank.asSuperuser { connection in
                try await connection.query(
                    "SELECT bank.set_terminal_enabled('test', 'ATM00002', false)",
                    logger: quietLogger
                )
            }
            let disabled = try await under.terminal("ATM00002", signOn: false) { try await $0.signOn() }
            #expect(disabled[39] == "58")
            let refusals = try await under.bank.count(
                "SELECT count(*)::int FROM bank.audit_logs WHERE action = 'terminal.signon' AND outcome = '58'"
            )
            #expect(refusals == 2)
        }
    }

    @Test("sign-on is authenticated: a wrong master key, a replayed sign-on, a clock 10 minutes off get 63")
    func signOnAuthenticated() async throws {
        try await SwitchUnderTest.with { under in
            // ATM00001 with ATM00002's master key: the sign-on's MAC does not verify.
            let wrongKey = try await SwitchLink.with(host: "127.0.0.1", port: under.port) { link in
                try await TerminalSession(link: link, terminal: "ATM00001", masterKey: try masterKey("ATM00002"))
                    .signOn()
            }
            #expect(wrongKey[39] == "63")
            #expect(wrongKey[120] == nil)
            // A captured sign-on sent again.
            try await SwitchLink.with(host: "127.0.0.1", port: under.port) { link in
                let session = TerminalSession(link: link, terminal: "ATM00001", masterKey: try masterKey("ATM00001"))
                var request = try session.header(.networkManagementRequest)
                try request.set(70, "001")
                let signed = try MessageAuthentication.sign(
                    request,
                    key: SignOnKey.derive(from: try masterKey("ATM00001"))
                )
                #expect(try await link.exchange(signed)[39] == "00")
                let replay = try await link.exchange(signed)
                #expect(replay[39] == "63")
                #expect(replay[120] == nil)
            }
            // A terminal whose clock is 10 minutes behind.
            let late = try await SwitchLink.with(host: "127.0.0.1", port: under.port) { link in
                try await TerminalSession(
                    link: link,
                    terminal: "ATM00001",
                    masterKey: try masterKey("ATM00001"),
                    now: { Date().addingTimeInterval(-600) }
                ).signOn()
            }
            #expect(late[39] == "63")
            let refused = try await under.bank.count(
                "SELECT count(*)::int FROM bank.audit_logs WHERE action = 'terminal.signon' AND outcome = '63'"
            )
            #expect(refused == 3)
        }
    }

    @Test("a PIN transaction opens a card session; the token carries the next ones without bcrypt")
    func pinThenToken() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let withdrawal = try await terminal.cardRequest(
                    .withdrawal,
                    pan: alice.pan,
                    pin: alice.pin,
                    amount: 10_000,
                    from: alice.current
                )
                #expect(withdrawal[39] == "00")
                #expect(withdrawal[38]?.count == 6)
                #expect(withdrawal[54] == "0001978C000000240000")
                #expect(terminal.cardToken != nil)
                let balance = try await terminal.cardRequest(.balance, pan: alice.pan, from: alice.savings)
                #expect(balance[39] == "00")
                #expect(balance[54] == "0001978C000001000000")
                let statement = try await terminal.cardRequest(.statement, pan: alice.pan)
                #expect(statement[39] == "00")
                #expect(statement[63]?.contains("|withdrawal|D000000010000|C000000240000") == true)
                let transfer = try await terminal.cardRequest(
                    .transfer,
                    pan: alice.pan,
                    amount: 5_000,
                    from: alice.current,
                    to: alice.savings
                )
                #expect(transfer[39] == "00")
                let deposit = try await terminal.cardRequest(.deposit, pan: alice.pan, amount: 2_500, to: alice.current)
                #expect(deposit[39] == "00")
                #expect(deposit[54] == "0001978C000000237500")
            }
            // bcrypt ran once: one right PIN for five transactions.
            #expect(try await under.auditCount("pin.right") == 1)
            #expect(try await under.bank.balance(alice.current) == 237_500)
        }
    }

    @Test("a wrong or missing MAC is answered 63, audited, and posts nothing")
    func badMAC() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let keys = try #require(terminal.keys)
                var request = try terminal.header(.financialRequest)
                for (field, value) in [
                    (2, alice.pan), (3, "010000"), (4, "000000010000"), (22, "051"), (49, "978"), (102, alice.current),
                ] {
                    try request.set(field, value)
                }
                try request.set(52, bytes: try terminal.pinBlock(pin: alice.pin, pan: alice.pan))
                var forged = try MessageAuthentication.sign(request, key: keys.mac)
                var mac = try #require(forged.binary(128))
                mac[0] ^= 0x01
                try forged.set(128, bytes: mac)
                let answer = try await terminal.link.exchange(forged)
                #expect(answer[39] == "63")
                #expect(MessageAuthentication.verify(answer, key: keys.mac) == nil)
                var unsigned = try terminal.header(.networkManagementRequest)
                try unsigned.set(70, "301")
                let missing = try await terminal.link.exchange(unsigned)
                #expect(missing[39] == "63")
            }
            #expect(try await under.auditCount("mac.refused") == 2)
            #expect(try await under.bank.balance(alice.current) == 250_000)
            #expect(try await under.auditCount("pin.right") == 0)
        }
    }

    @Test("three wrong PINs: 55, 55, 75 with capture; the blocked card stays refused")
    func wrongPINs() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                var codes: [String?] = []
                for _ in 0..<3 {
                    let answer = try await terminal.cardRequest(.balance, pan: bob.pan, pin: "0000")
                    codes.append(answer[39])
                    if answer[39] == "75" { #expect(answer[44] == "CAPTURE CARD") }
                }
                #expect(codes == ["55", "55", "75"])
                let right = try await terminal.cardRequest(.balance, pan: bob.pan, pin: bob.pin)
                #expect(right[39] == "75")
                #expect(right[62] == nil)
            }
        }
    }

    @Test("a duplicate gets the original answer and posts once; the same key with other content gets 94")
    func duplicate() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let keys = try #require(terminal.keys)
                var request = try terminal.header(.financialRequest)
                for (field, value) in [
                    (2, alice.pan), (3, "010000"), (4, "000000002000"), (22, "051"), (49, "978"), (102, alice.current),
                ] {
                    try request.set(field, value)
                }
                try request.set(52, bytes: try terminal.pinBlock(pin: alice.pin, pan: alice.pan))
                let signed = try MessageAuthentication.sign(request, key: keys.mac)
                let first = try await terminal.link.exchange(signed)
                let again = try await terminal.link.exchange(signed)
                #expect(first[39] == "00")
                #expect(again[39] == "00")
                #expect(again[38] == first[38])
                var changed = request
                try changed.set(4, "000000003000")
                let conflicting = try await terminal.link.exchange(MessageAuthentication.sign(changed, key: keys.mac))
                #expect(conflicting[39] == "94")
            }
            #expect(try await under.bank.balance(alice.current) == 248_000)
        }
    }

    @Test("a partial reversal returns what was not dispensed; the repeat (0421) changes nothing")
    func reversal() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                let original = try await terminal.cardRequest(
                    .withdrawal,
                    pan: alice.pan,
                    pin: alice.pin,
                    amount: 10_000,
                    from: alice.current
                )
                #expect(original[39] == "00")
                // The 0420 names the original request's STAN and time: rebuild them from the answer.
                let advice = try await terminal.reversal(of: original, dispensed: 6_000)
                #expect(advice.mti == .reversalResponse)
                #expect(advice[39] == "00")
                #expect(try await under.bank.balance(alice.current) == 244_000)
                var repeated = ATM87Message(mti: .reversalAdvice)
                for field in [2, 3, 4, 7, 11, 41, 49, 90, 95] {
                    if let value = advice[field] { try repeated.set(field, value) }
                }
                let again = try await terminal.reversal(of: original, dispensed: 6_000, repeatOf: repeated)
                #expect(again[39] == "00")
                #expect(try await under.bank.balance(alice.current) == 244_000)
            }
        }
    }

    @Test(
        "a teller creates a customer with account, card and identity, deposits; the new card is refused 1K until a compliance officer verifies the customer, then works with its PIN"
    )
    func tellerCreatesAndDeposits() async throws {
        try await SwitchUnderTest.with { under in
            let pan = "4000001234567899"
            let (pin, customer): (String, String) = try await under.terminal("BRANCH01") { branch in
                let login = try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))
                #expect(login[39] == "00")
                #expect(login[48] == "RL006teller")
                let created = try await branch.create(
                    [("UN", "dora"), ("CN", "Dora Diaz"), ("EX", "3012"), ("DL", "50000")],
                    fields: [2: pan, 102: "CP0000000042"]
                )
                #expect(created[39] == "00")
                #expect(created[102] == "CP0000000042")
                let tlv = try ATM87TLV(parsing: try #require(created[48]))
                let block = try #require(tlv["PB"].flatMap(Hex.decode))
                let pin = try PINBlock.decipher(block, pan: pan, key: try #require(branch.keys).pin)
                // Pending: a deposit is taken (bank.settings.unverified_may), money out is not.
                let deposit = try await branch.administrative(
                    "DEPOSIT",
                    fields: [4: "000000050000", 102: "CP0000000042"]
                )
                #expect(deposit[39] == "00")
                #expect(try ATM87TLV(parsing: try #require(deposit[48]))["BL"] == "C000000050000")
                let balance = try await branch.administrative("BALANCE", fields: [102: "CP0000000042"])
                #expect(try ATM87TLV(parsing: try #require(balance[48]))["BL"] == "C000000050000")
                let paidOut = try await branch.administrative("WITHDRAW", fields: [4: "000000001000", 102: "CP0000000042"])
                #expect(paidOut[39] == "1K")
                // A teller may not decide KYC (the permission table: 58, audited).
                let tellerVerifies = try await branch.administrative(
                    "VERIFY", [("CU", try #require(tlv["CU"])), ("KS", "verified"), ("RS", "saw her passport")])
                #expect(tellerVerifies[39] == "58")
                return (pin, try #require(tlv["CU"]))
            }
            try await under.terminal { atm in
                let refused = try await atm.cardRequest(.withdrawal, pan: pan, pin: pin, amount: 2_000)
                #expect(refused[39] == "1K")
                let balance = try await atm.cardRequest(.balance, pan: pan, pin: pin)
                #expect(balance[39] == "00")
            }
            try await under.terminal("BRANCH01") { desk in
                let login = try await desk.staffLogin(
                    userName: "cora.compliance", password: "compliance-test-password", code: under.code("cora.compliance"))
                #expect(login[39] == "00")
                #expect(login[48] == "RL010compliance")
                let record = try await desk.administrative("KYC", [("CU", customer)])
                #expect(record[39] == "00")
                let kyc = try ATM87TLV(parsing: try #require(record[48]))
                #expect(kyc["KS"] == "pending" && kyc["RR"] == "low" && kyc["DM"] == "passport GB ****2345")
                #expect(kyc["NA"] == "GB" && kyc["BD"] == "19900131" && kyc.all("RN") == ["no risk factor"])
                #expect(!(record[48] ?? "").contains("TEST12345"))
                // A compliance officer moves no money.
                let deposit = try await desk.administrative("DEPOSIT", fields: [4: "000000001000", 102: "CP0000000042"])
                #expect(deposit[39] == "58")
                let noReason = try await desk.administrative("VERIFY", [("CU", customer), ("KS", "verified")])
                #expect(noReason[39] == "30")
                let verified = try await desk.administrative(
                    "VERIFY", [("CU", customer), ("KS", "verified"), ("RS", "passport seen at the desk")])
                #expect(verified[39] == "00")
                let after = try ATM87TLV(parsing: try #require(try await desk.administrative("KYC", [("CU", customer)])[48]))
                #expect(after["KS"] == "verified" && after["RD"] != nil && after["VB"]?.hasPrefix("cora.compliance|") == true)
            }
            try await under.terminal { atm in
                let answer = try await atm.cardRequest(.withdrawal, pan: pan, pin: pin, amount: 2_000)
                #expect(answer[39] == "00")
                #expect(answer[54] == "0001978C000000048000")
            }
            #expect(try await under.auditCount("customer.create") == 6)
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'kyc.verified' AND outcome = '00'") == 1)
        }
    }

    @Test("an administrator lists users and reads the audit log, paged and filtered")
    func adminReadsAudit() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal("BRANCH01") { branch in
                #expect(try await branch.staffLogin(userName: "ada.admin", password: "admin-test-password", code: under.code("ada.admin"))[39] == "00")
                let users = try await branch.administrative("USERS")
                #expect(users[39] == "00")
                let userTLV = try ATM87TLV(parsing: try #require(users[48]))
                #expect(userTLV["CT"] == "12")
                #expect(userTLV.all("US").contains { $0.contains("|tina.teller|teller|N|") })
                let page = try await branch.administrative("AUDIT", [("AX", "card.issue"), ("LM", "2")])
                #expect(page[39] == "00")
                let first = try ATM87TLV(parsing: try #require(page[48]))
                #expect(first.all("AR").count == 2)
                let cursor = try #require(first["NX"])
                let next = try await branch.administrative(
                    "AUDIT",
                    [("AX", "card.issue"), ("LM", "2"), ("PG", cursor)]
                )
                let second = try ATM87TLV(parsing: try #require(next[48]))
                #expect(second.all("AR").count == 2)
                #expect(Set(first.all("AR")).isDisjoint(with: second.all("AR")))
                #expect(second.all("AR").allSatisfy { $0.contains("|card.issue|00|") })
            }
            #expect(try await under.auditCount("audit.read") == 2)
            #expect(try await under.auditCount("users.list") == 1)
        }
    }

    @Test("a customer's token is refused an administrative request (57), audited; a teller is refused admin work (58)")
    func roleRefusals() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { atm in
                #expect(try await atm.cardRequest(.balance, pan: alice.pan, pin: alice.pin)[39] == "00")
                let refused = try await atm.administrative(
                    "LOCKACCOUNT",
                    fields: [102: bob.current],
                    token: atm.cardToken
                )
                #expect(refused[39] == "57")
            }
            try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39] == "00"
                )
                let refused = try await branch.administrative("AUDIT")
                #expect(refused[39] == "58")
                // A staff token cannot make card transactions.
                let atATM = try await under.terminal("ATM00002") { atm in
                    try await atm.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))
                }
                #expect(atATM[39] == "58")
                branch.cardToken = branch.staffToken
                #expect(try await branch.cardRequest(.balance, pan: alice.pan)[39] == "63")
            }
            let refusals = try await under.bank.count(
                "SELECT count(*)::int FROM bank.audit_logs WHERE outcome IN ('57', '58') AND details->>'refused_by' = 'permission table'"
            )
            #expect(refusals == 2)
            #expect(try await under.auditCount("login.refused") == 1)
            #expect(try await under.bank.balance(bob.current) == 80_000)
        }
    }

    @Test("expired, forged, other-terminal and ended tokens are refused (63) and audited")
    func tokenRefusals() async throws {
        try await SwitchUnderTest.with { under in
            let token: String = try await under.terminal { atm in
                #expect(try await atm.cardRequest(.balance, pan: alice.pan, pin: alice.pin)[39] == "00")
                let token = try #require(atm.cardToken)
                // Forged: the signature's first character changed (the last one has unused bits).
                var parts = token.split(separator: ".").map(String.init)
                let first = parts[2].removeFirst()
                parts[2] = (first == "A" ? "B" : "A") + parts[2]
                atm.cardToken = parts.joined(separator: ".")
                #expect(try await atm.cardRequest(.balance, pan: alice.pan)[39] == "63")
                // Another card's PAN with this card's token.
                atm.cardToken = token
                #expect(try await atm.cardRequest(.balance, pan: bob.pan)[39] == "63")
                // Expired: the switch's clock moves past the 2-minute lifetime.
                under.clock.advance(by: 121)
                let expired = try await atm.cardRequest(.balance, pan: alice.pan)
                #expect(expired[39] == "63", "\(expired)")
                under.clock.advance(by: -121)
                #expect(try await atm.cardRequest(.balance, pan: alice.pan)[39] == "00")
                return token
            }
            // Replayed from another terminal.
            try await under.terminal("ATM00002") { (other: TerminalSession) async throws in
                other.cardToken = token
                #expect(try await other.cardRequest(.balance, pan: alice.pan)[39] == "63")
            }
            // Ended by the terminal when the card is returned.
            try await under.terminal { (atm: TerminalSession) async throws in
                atm.cardToken = token
                #expect(try await atm.endCardSession()?[39] == "00")
                atm.cardToken = token
                #expect(try await atm.cardRequest(.balance, pan: alice.pan)[39] == "63")
            }
            #expect(try await under.auditCount("token.refused") == 5)
        }
    }

    @Test("a card locked by a teller is refused at once, even within its card session: 75, keep the card")
    func lockDuringSession() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { atm in
                #expect(try await atm.cardRequest(.balance, pan: alice.pan, pin: alice.pin)[39] == "00")
                try await under.terminal("BRANCH01") { (branch: TerminalSession) async throws in
                    #expect(
                        try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39]
                            == "00"
                    )
                    #expect(try await branch.administrative("LOCKCARD", fields: [2: alice.pan])[39] == "00")
                }
                let refused = try await atm.cardRequest(.balance, pan: alice.pan)
                #expect(refused[39] == "75")
                #expect(refused[44] == "CAPTURE CARD")
            }
        }
    }

    @Test("an ended session stays ended on a restarted switch (shared through the database)")
    func endedSurvivesRestart() async throws {
        try await SwitchUnderTest.with { under in
            let (token, keys) = try await under.terminal { atm in
                #expect(try await atm.cardRequest(.balance, pan: alice.pan, pin: alice.pin)[39] == "00")
                let token = try #require(atm.cardToken)
                #expect(try await atm.endCardSession()?[39] == "00")
                return (token, try #require(atm.keys))
            }
            let staff = try await under.terminal("BRANCH01") { branch in
                #expect(try await branch.staffLogin(userName: "ada.admin", password: "admin-test-password", code: under.code("ada.admin"))[39] == "00")
                let token = try #require(branch.staffToken)
                #expect(try await branch.administrative("LOGOUT")[39] == "00")
                return token
            }
            try await under.restart()
            try await under.terminal(signOn: false) { (atm: TerminalSession) async throws in
                atm.resume(keys: keys)
                atm.cardToken = token
                #expect(try await atm.cardRequest(.balance, pan: alice.pan)[39] == "63")
            }
            try await under.terminal("BRANCH01") { (branch: TerminalSession) async throws in
                #expect(try await branch.administrative("USERS", token: staff)[39] == "63")
            }
            #expect(try await under.auditCount("session.end") == 2)
        }
    }

    @Test("a restart in the middle of a run: the terminal reconnects and goes on with its session")
    func restart() async throws {
        try await SwitchUnderTest.with { under in
            let keys = try await under.terminal { atm in
                #expect(
                    try await atm.cardRequest(.withdrawal, pan: alice.pan, pin: alice.pin, amount: 1_000)[39] == "00"
                )
                return try #require(atm.keys)
            }
            try await under.restart()
            try await under.terminal(signOn: false) { atm in
                atm.resume(keys: keys)
                #expect(try await atm.echo()[39] == "00")
                let answer = try await atm.cardRequest(.withdrawal, pan: alice.pan, pin: alice.pin, amount: 1_000)
                #expect(answer[39] == "00")
                #expect(answer[54] == "0001978C000000248000")
            }
        }
    }

    @Test("key change: new keys under the master key; the old MAC key is refused afterwards")
    func keyChange() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { atm in
                let old = try #require(atm.keys)
                #expect(try await atm.changeKeys()[39] == "00")
                let new = try #require(atm.keys)
                #expect(KeyCheckValue.of(new.mac) != KeyCheckValue.of(old.mac))
                #expect(try await atm.echo()[39] == "00")
                var stale = try atm.header(.networkManagementRequest)
                try stale.set(70, "301")
                #expect(try await atm.link.exchange(MessageAuthentication.sign(stale, key: old.mac))[39] == "63")
            }
            #expect(try await under.auditCount("terminal.keychange") == 1)
        }
    }
}

/// A keypad that types a script and keeps what the screen showed.
final class ScriptedKeypad: KeypadIO {
    var keys: [String]
    var screen: [String] = []

    init(_ keys: [String]) { self.keys = keys }

    func show(_ text: String) { self.screen.append(text) }
    func ask(_ prompt: String) async -> String? { self.keys.isEmpty ? nil : self.keys.removeFirst() }
    func askSecret(_ prompt: String) async -> String? { await self.ask(prompt) }
}

@Suite("The teller desk against the switch", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct KeypadTests {
    @Test(
        "a teller at the desk: wrong password, sign-on with a code, deposit, a new customer with a PIN mailer; the audit log is an administrator's"
    )
    func tellerDesk() async throws {
        try await SwitchUnderTest.with { under in
            let code = try #require(under.code("tina.teller"))
            let screen = try await under.terminal("BRANCH01") { branch in
                let keypad = ScriptedKeypad([
                    "tina.teller", "nope", "", "tina.teller", "teller-test-password", code, "2", bob.current, "12.34", "4", "eve",
                    "Eve Evans", "CP0000000077", "4000001111111112", "4", "fay", "Fay Fox", "CP0000000078",
                    "4000001111111118", "19900131", "GB", "1 Test Street", "passport", "GB", "P1234567", "N", "11", "", "0",
                ])
                try await TellerDesk(session: branch, io: keypad).run()
                return keypad.screen.joined(separator: "\n")
            }
            #expect(screen.contains("Wrong user name, password or code."))
            #expect(screen.contains("Signed on as tina.teller (teller)."))
            #expect(screen.contains("balance of CP0000000003: 812.34"))
            #expect(screen.contains("That card number fails its check digit (Luhn); nothing was created."))
            #expect(screen.contains("created with account CP0000000078 and card 400000******1118."))
            #expect(screen.contains("first PIN: "))
            #expect(screen.contains("Your role may not do this."))
            #expect(screen.contains("Signed off."))
            #expect(!screen.contains("4000001111111118") && !screen.contains("P1234567"))
            #expect(screen.contains("KYC pending"))
            #expect(try await under.bank.balance(bob.current) == 81_234)
        }
    }
}
