import ATM87
import CashpointSecurity
import Crypto
import Foundation
import Synchronization
import Testing

@testable import CashpointTerminal

/// A keypad that types a script (a key can also run something, such as moving the switch's clock) and
/// keeps what the desk showed and asked.
final class DeskKeypad: KeypadIO {
    enum Key: ExpressibleByStringLiteral {
        case text(String)
        case run(() -> Void)

        init(stringLiteral value: String) { self = .text(value) }
    }

    var keys: [Key]
    var screen: [String] = []
    var prompts: [String] = []

    init(_ keys: [Key]) { self.keys = keys }

    var shown: String { self.screen.joined(separator: "\n") }

    func show(_ text: String) { self.screen.append(text) }

    func ask(_ prompt: String) async -> String? {
        self.prompts.append(prompt)
        while let key = self.keys.first {
            self.keys.removeFirst()
            switch key {
            case .text(let text): return text
            case .run(let action): action()
            }
        }
        return nil
    }

    func askSecret(_ prompt: String) async -> String? { await self.ask("(secret) " + prompt) }
}

@Suite("The teller desk: second factor and four eyes, against a switch in memory", .timeLimit(.minutes(1)))
struct TellerDeskTests {
    static let masterKey = SymmetricKey(data: [UInt8](repeating: 0x42, count: 32))
    static let tina = Base32.decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")!
    static let ada = Base32.decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")!
    static let nina = Array("an enrolled secret!!".utf8)
    static let cora = Base32.decode("MNXXEYJNMNXW24DMNFQW4Y3FFV2GK43U")!

    /// The fake switch with the demo bank's staff.
    static func bank() -> FakeSwitch {
        let bank = FakeSwitch(masterKey: Self.masterKey)
        bank.set { state in
            state.desk.staff = [
                "tina.teller": .init(password: "teller-test-password", role: "teller", secret: Self.tina),
                "ada.admin": .init(password: "admin-test-password", role: "admin", secret: Self.ada),
                "nina.new": .init(password: "new-test-password", role: "teller", enrolmentCode: "NEWST-AFF22"),
                "cora.compliance": .init(password: "compliance-test-password", role: "compliance", secret: Self.cora),
            ]
            state.desk.newSecret = Self.nina
        }
        return bank
    }

    static func now(_ bank: FakeSwitch) -> Int64 { bank.state.withLock { $0.desk.now } }

    /// The code of `secret` at the fake switch's time, `steps` steps on.
    static func code(_ secret: [UInt8], _ bank: FakeSwitch, steps: Int64 = 0) -> String {
        OneTimePassword.code(secret: secret, at: Self.now(bank) + 30 * steps)
    }

    /// The desk run at a signed-on branch terminal with these keys; returns the keypad and the session.
    @discardableResult
    static func run(_ bank: FakeSwitch, _ keys: [DeskKeypad.Key]) async throws -> (DeskKeypad, TerminalSession) {
        let session = TerminalSession(
            link: FakeLink(bank),
            terminal: "BRANCH01",
            masterKey: Self.masterKey,
            firstSTAN: 100
        )
        #expect(try await session.signOn()[39] == "00")
        let keypad = DeskKeypad(keys)
        try await TellerDesk(session: session, io: keypad).run()
        return (keypad, session)
    }

    /// The 0600s the fake received, with their operations.
    static func administrative(_ bank: FakeSwitch) -> [(operation: String, request: ATM87Message, tlv: ATM87TLV)] {
        bank.received.filter { $0.mti == .administrativeRequest }.compactMap { request in
            guard let tlv = request[48].flatMap({ try? ATM87TLV(parsing: $0) }) else { return nil }
            return (tlv["OP"] ?? "", request, tlv)
        }
    }

    static func clear(_ tag: AdminTag, of request: ATM87Message, _ bank: FakeSwitch) throws -> String? {
        let keys = try #require(bank.state.withLock { $0.keys })
        guard let hex = request[48].flatMap({ try? ATM87TLV(parsing: $0) })?[tag] else { return nil }
        return try MessageBlock.decipher(
            hex,
            purpose: try #require(tag.blockPurpose),
            key: keys.pin,
            terminal: "BRANCH01",
            stan: request[11]!,
            transmitted: request[7]!
        )
    }

    // MARK: Sign-on

    @Test("a code typed up front goes in the one LOGIN, as a code block bound to it; never shown, the token kept")
    func signOnWithCode() async throws {
        let bank = Self.bank()
        let code = Self.code(Self.tina, bank)
        let (keypad, session) = try await Self.run(bank, ["tina.teller", "teller-test-password", .text(code), "0"])
        #expect(keypad.shown.contains("Signed on as tina.teller (teller)."))
        #expect(keypad.shown.contains("Signed off."))
        #expect(keypad.prompts.contains("(secret) Password:"))
        #expect(keypad.prompts.contains("(secret) One-time code (or recovery code):"))
        let sent = Self.administrative(bank)
        #expect(sent.map(\.operation) == ["LOGIN", "LOGOUT"])
        let login = sent[0]
        #expect(login.tlv["UN"] == "tina.teller")
        #expect(try Self.clear(.password, of: login.request, bank) == "teller-test-password")
        #expect(try Self.clear(.oneTimeCode, of: login.request, bank) == code)
        #expect(!(login.request[48] ?? "").contains("teller-test-password"))
        // Bound to its message: under another STAN the block does not decipher.
        let keys = try #require(bank.state.withLock { $0.keys })
        #expect(throws: MessageBlock.Error.self) {
            try MessageBlock.decipher(
                login.tlv["OT"]!,
                purpose: .code,
                key: keys.pin,
                terminal: "BRANCH01",
                stan: "999999",
                transmitted: login.request[7]!
            )
        }
        #expect(sent[1].request[62] == "staff-token-1")
        #expect(session.staffToken == "staff-token-1")
        #expect(!keypad.shown.contains(code) && !keypad.shown.contains("teller-test-password"))
    }

    @Test("no code up front: 1A NF OT, the desk asks for one and sends LOGIN again under a new STAN")
    func signOnAskedForCode() async throws {
        let bank = Self.bank()
        let code = Self.code(Self.tina, bank)
        let (keypad, _) = try await Self.run(bank, ["tina.teller", "teller-test-password", "", .text(code), "0"])
        #expect(keypad.prompts.contains("(secret) One-time code:"))
        #expect(keypad.shown.contains("Signed on as tina.teller (teller)."))
        let logins = Self.administrative(bank).filter { $0.operation == "LOGIN" }
        #expect(logins.count == 2)
        #expect(logins[0].tlv["OT"] == nil && logins[1].tlv["OT"] != nil)
        #expect(logins[0].request[11] != logins[1].request[11])
    }

    @Test(
        "a code used already: 63 says to wait for the next one and asks again; wrong password: 55, from the user name"
    )
    func replayAndWrongPassword() async throws {
        let bank = Self.bank()
        let step = OneTimePassword.step(at: Self.now(bank))
        bank.set { $0.desk.staff["tina.teller"]?.lastStep = step }
        let (keypad, _) = try await Self.run(
            bank,
            [
                "tina.teller", "nope", "123456",
                "tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)),
                .text(Self.code(Self.tina, bank, steps: 1)), "0",
            ]
        )
        #expect(keypad.shown.contains("Wrong user name, password or code."))
        #expect(keypad.shown.contains("That code was used already; wait for the next one."))
        #expect(keypad.shown.contains("Signed on as tina.teller (teller)."))
    }

    @Test(
        "enrolment: the enrolment code, then the secret (base32 by 4, URI, QR code) and ten recovery codes, then a first code"
    )
    func enrolment() async throws {
        let bank = Self.bank()
        let code = OneTimePassword.code(secret: Self.nina, at: Self.now(bank))
        let (keypad, _) = try await Self.run(
            bank,
            ["nina.new", "new-test-password", "", "NEWST-AFF22", .text(code), "0"]
        )
        #expect(keypad.prompts.contains("(secret) Enrolment code:"))
        #expect(keypad.prompts.contains("(secret) Code from your authenticator app:"))
        let base32 = Base32.encode(Self.nina)
        let grouped = stride(from: 0, to: base32.count, by: 4).map {
            String(Array(base32)[$0..<min($0 + 4, base32.count)])
        }.joined(separator: " ")
        #expect(keypad.shown.contains("Secret key: \(grouped)"))
        let uri =
            "otpauth://totp/Cashpoint:nina.new?secret=\(base32)&issuer=Cashpoint&algorithm=SHA1&digits=6&period=30"
        #expect(keypad.shown.contains(uri))
        let qr = try QRCode(encoding: uri).halfBlockLines().joined(separator: "\n")
        #expect(keypad.shown.contains(qr))
        #expect(keypad.shown.contains("shown once: write them down"))
        for recovery in bank.state.withLock({ $0.desk.newRecovery }) { #expect(keypad.shown.contains(recovery)) }
        #expect(keypad.shown.contains("Signed on as nina.new (teller)."))
        #expect(bank.state.withLock { $0.desk.staff["nina.new"]?.confirmed } == true)
        let logins = Self.administrative(bank).filter { $0.operation == "LOGIN" }
        #expect(logins.count == 3)
        #expect(try Self.clear(.enrolmentCode, of: logins[1].request, bank) == "NEWST-AFF22")
        #expect(try Self.clear(.oneTimeCode, of: logins[2].request, bank) == code)
    }

    @Test("a recovery code signs on once in place of a code")
    func recoveryCode() async throws {
        let bank = Self.bank()
        bank.set { $0.desk.staff["tina.teller"]?.recovery = ["ABCDE-FGHJK"] }
        let (keypad, _) = try await Self.run(
            bank,
            ["tina.teller", "teller-test-password", "abcde fghjk", "0"]
        )
        #expect(keypad.shown.contains("Signed on as tina.teller (teller)."))
        #expect(bank.state.withLock { $0.desk.staff["tina.teller"]?.recovery } == [])
    }

    // MARK: Step-up, reasons, four eyes

    @Test(
        "step-up: a held operation after 5 minutes asks for a code, sends it again with OT; the new token replaces the old"
    )
    func stepUp() async throws {
        let bank = Self.bank()
        let later = Self.now(bank) + 400
        let (keypad, session) = try await Self.run(
            bank,
            [
                "tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)),
                .run { bank.set { $0.desk.now = later } },
                "6", "CP0000000003", "customer showed ID",
                .text(OneTimePassword.code(secret: Self.tina, at: later)), "0",
            ]
        )
        #expect(keypad.prompts.contains("Reason (for the second person):"))
        #expect(keypad.prompts.contains("(secret) One-time code:"))
        #expect(keypad.shown.contains("Held for a second person's approval as change 1."))
        let unlocks = Self.administrative(bank).filter { $0.operation == "UNLOCKACCOUNT" }
        #expect(unlocks.count == 2)
        #expect(unlocks[0].tlv["OT"] == nil && unlocks[1].tlv["OT"] != nil)
        #expect(unlocks.allSatisfy { $0.tlv["RS"] == "customer showed ID" && $0.request[102] == "CP0000000003" })
        #expect(unlocks[0].request[62] == "staff-token-1" && unlocks[1].request[62] == "staff-token-1")
        #expect(session.staffToken == "staff-token-2")
        #expect(Self.administrative(bank).last?.request[62] == "staff-token-2")
    }

    @Test("30 NF RS (a desk deposit above the limit): the desk asks for a reason and sends it again")
    func reasonAsked() async throws {
        let bank = Self.bank()
        let (keypad, _) = try await Self.run(
            bank,
            [
                "tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)), "2", "CP0000000003", "6000",
                "a house sale", "0",
            ]
        )
        #expect(keypad.shown.contains("This is checked by a second person before it takes effect."))
        #expect(keypad.shown.contains("Held for a second person's approval as change 1."))
        let deposits = Self.administrative(bank).filter { $0.operation == "DEPOSIT" }
        #expect(deposits.map { $0.tlv["RS"] } == [nil, "a house sale"])
        #expect(deposits.allSatisfy { $0.request[4] == "000000600000" })
    }

    @Test("four eyes: the maker may not approve her own change (58, the switch's reason); another approves it")
    func approvedByAnother() async throws {
        let bank = Self.bank()
        bank.set { $0.desk.lockedAccounts = ["CP0000000003"] }
        let (tina, _) = try await Self.run(
            bank,
            [
                "tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)),
                "6", "CP0000000003", "customer showed ID",
                "12", "1", "A",
                "13", "0",
            ]
        )
        #expect(tina.shown.contains("Held for a second person's approval as change 1."))
        #expect(tina.shown.contains("#1 account.unlock CP0000000003, asked by tina.teller 2027-01-15 08:00 UTC"))
        #expect(tina.shown.contains("before: CP0000000003: locked"))
        #expect(tina.shown.contains("after:  CP0000000003: open"))
        #expect(tina.shown.contains("reason: customer showed ID"))
        #expect(tina.shown.contains("You may not check this change: the maker cannot check th..."))
        #expect(tina.shown.contains("Your requests (newest first):"))
        #expect(bank.state.withLock { $0.desk.lockedAccounts } == ["CP0000000003"])

        let (ada, _) = try await Self.run(
            bank,
            ["ada.admin", "admin-test-password", .text(Self.code(Self.ada, bank)), "12", "#1", "a", "13", "0"]
        )
        #expect(ada.shown.contains("Change 1 approved and applied."))
        #expect(ada.shown.contains("You have asked for no change lately."))
        #expect(bank.state.withLock { $0.desk.lockedAccounts }.isEmpty)
        #expect(Self.administrative(bank).filter { $0.operation == "APPROVE" }.last?.tlv["CH"] == "1")
    }

    @Test("a rejection carries the checker's reason, and the change waits no more")
    func rejected() async throws {
        let bank = Self.bank()
        try await Self.run(
            bank,
            [
                "tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)), "9", "tom.teller", "forgot",
                "0",
            ]
        )
        let (ada, _) = try await Self.run(
            bank,
            [
                "ada.admin", "admin-test-password", .text(Self.code(Self.ada, bank)), "12", "1", "R", "not verified",
                "12",
            ]
        )
        #expect(ada.shown.contains("Change 1 rejected."))
        #expect(ada.shown.contains("No change is waiting for approval."))
        #expect(bank.state.withLock { $0.desk.changes.first?.decision } == "not verified")
        #expect(Self.administrative(bank).filter { $0.operation == "REJECT" }.first?.tlv["RS"] == "not verified")
    }

    @Test("enrol (an administrator's): the enrolment code shown once to hand over; a teller is refused")
    func enrol() async throws {
        let bank = Self.bank()
        let (tina, _) = try await Self.run(
            bank,
            ["tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)), "15", "nina.new", "0"]
        )
        #expect(tina.shown.contains("Your role may not do this."))
        let (ada, _) = try await Self.run(
            bank,
            ["ada.admin", "admin-test-password", .text(Self.code(Self.ada, bank)), "15", "nina.new", "0"]
        )
        #expect(ada.shown.contains("ENROLMENT CODE for nina.new"))
        #expect(ada.shown.contains("NEWST-AFF99"))
        #expect(ada.shown.contains("Hand it to the user; valid 24 hours"))
        let enrol = try #require(Self.administrative(bank).last { $0.operation == "ENROL" })
        #expect(enrol.tlv["UN"] == "nina.new")
    }

    @Test("new staff, a role, daily limits: held, with the reason asked up front; the first password as a block")
    func heldOperations() async throws {
        let bank = Self.bank()
        let (ada, _) = try await Self.run(
            bank,
            [
                "ada.admin", "admin-test-password", .text(Self.code(Self.ada, bank)),
                "16", "tom.teller", "Tom Teller", "teller", "first-pass", "first-pass", "new colleague",
                "17", "tina.teller", "admin", "promotion",
                "14", "CP0000000003", "500", "3", "customer asked",
                "0",
            ]
        )
        #expect(ada.shown.contains("Held for a second person's approval as change 1."))
        #expect(ada.shown.contains("Held for a second person's approval as change 2."))
        #expect(ada.shown.contains("Held for a second person's approval as change 3."))
        #expect(bank.state.withLock { $0.desk.staffPasswords } == ["tom.teller": "first-pass"])
        let sent = Self.administrative(bank)
        let staff = try #require(sent.first { $0.operation == "STAFF" })
        #expect(staff.tlv["UN"] == "tom.teller" && staff.tlv["CN"] == "Tom Teller" && staff.tlv["RL"] == "teller")
        #expect(staff.tlv["RS"] == "new colleague")
        #expect(!(staff.request[48] ?? "").contains("first-pass"))
        let role = try #require(sent.first { $0.operation == "ROLE" })
        #expect(role.tlv["UN"] == "tina.teller" && role.tlv["RL"] == "admin" && role.tlv["RS"] == "promotion")
        let limits = try #require(sent.first { $0.operation == "LIMITS" })
        #expect(limits.request[102] == "CP0000000003" && limits.tlv["DL"] == "50000" && limits.tlv["DC"] == "3")
        #expect(!ada.shown.contains("first-pass"))
    }

    @Test("a new customer's identity: the questions, the elements, the document number only as an IN block")
    func newCustomerIdentity() async throws {
        let bank = Self.bank()
        let (tina, _) = try await Self.run(
            bank,
            [
                "tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)),
                "4", "dora", "Dora Dale", "", "", "19900131", "gb", "1 Test Street", "Passport", "GB", "AB 123456", "n",
                "4", "ed", "Ed", "", "", "1990-01-31",
                "0",
            ]
        )
        let create = try #require(Self.administrative(bank).first { $0.operation == "CREATE" })
        #expect(create.tlv["BD"] == "19900131" && create.tlv["NA"] == "GB" && create.tlv["AD"] == "1 Test Street")
        #expect(create.tlv["IT"] == "passport" && create.tlv["IC"] == "GB" && create.tlv["PP"] == "N")
        #expect(try Self.clear(.documentNumber, of: create.request, bank) == "AB 123456")
        #expect(!(create.request[48] ?? "").contains("123456"))
        #expect(!tina.shown.contains("123456"))
        #expect(tina.shown.contains("KYC pending"))
        #expect(tina.shown.contains("Not created: the date of birth is YYYYMMDD."))
        #expect(Self.administrative(bank).filter { $0.operation == "CREATE" }.count == 1)
    }

    @Test("the compliance desk: a KYC record in words; a decision asks V or R and a reason")
    func complianceDesk() async throws {
        let bank = Self.bank()
        let (cora, _) = try await Self.run(
            bank,
            [
                "cora.compliance", "compliance-test-password", .text(Self.code(Self.cora, bank)),
                "18", "11",
                "19", "11", "x",
                "19", "11", "v", "passport seen",
                "0",
            ]
        )
        #expect(cora.shown.contains("Customer 11 (pat): Pat Pending"))
        #expect(cora.shown.contains("Document: passport GB ****8452"))
        #expect(cora.shown.contains("KYC pending"))
        #expect(cora.shown.contains("Risk low: no risk factor"))
        #expect(cora.shown.contains("Type V to verify or R to reject; nothing was decided."))
        #expect(cora.shown.contains("Customer 11 verified."))
        let verify = try #require(Self.administrative(bank).first { $0.operation == "VERIFY" })
        #expect(verify.tlv["CU"] == "11" && verify.tlv["KS"] == "verified" && verify.tlv["RS"] == "passport seen")
    }

    @Test("the same change pending: 94 names it")
    func samePending() async throws {
        let bank = Self.bank()
        let (tina, _) = try await Self.run(
            bank,
            [
                "tina.teller", "teller-test-password", .text(Self.code(Self.tina, bank)),
                "6", "CP0000000003", "one", "6", "CP0000000003", "two", "0",
            ]
        )
        #expect(tina.shown.contains("The same change already waits for approval as change 1."))
    }

    // MARK: The protocol side

    @Test("a 0610's token replaces the staff token, except a LOGOUT's and one answering another token's request")
    func tokens() throws {
        let terminal = TerminalProtocol(terminal: "BRANCH01", masterKey: Self.masterKey, firstSTAN: 1)
        terminal.staffToken = "old"
        var answer = ATM87Message(mti: .administrativeResponse)
        try answer.set(62, "new")
        let stepUp = try terminal.administrativeRequest("UNLOCKUSER", [("UN", "x")], fields: [:], token: nil)
        terminal.acceptAdministrativeAnswer(answer, to: stepUp)
        #expect(terminal.staffToken == "new")
        let logout = try terminal.administrativeRequest("LOGOUT", [], fields: [:], token: nil)
        try answer.set(62, "newer")
        terminal.acceptAdministrativeAnswer(answer, to: logout)
        #expect(terminal.staffToken == "new")
        let card = try terminal.administrativeRequest("BALANCE", [], fields: [:], token: "card-token")
        terminal.acceptAdministrativeAnswer(answer, to: card)
        #expect(terminal.staffToken == "new")
    }

    @Test("the desk's texts: a change's line (a reason may hold |), UTC times, a secret by 4, refusals in words")
    func texts() throws {
        let entry = "7|pending|account.unlock|CP0000000003|tina.teller|20270115080000|20270116080000||why | not"
        var answer = ATM87Message(mti: .administrativeResponse)
        try answer.set(39, "00")
        try answer.set(48, ATM87TLV([.init("CG", entry)]).encoded)
        let change = try #require(DeskText.changes(answer).first?.line)
        #expect(change.contains("#7 account.unlock CP0000000003, asked by tina.teller 2027-01-15 08:00 UTC"))
        #expect(change.hasSuffix("reason: why | not"))
        #expect(DeskText.grouped("GEZDGNBVGY3TQOJQ") == "GEZD GNBV GY3T QOJQ")
        try answer.set(39, "58")
        try answer.set(44, "own change")
        #expect(DeskText.refusal(answer, checking: true) == "You may not check this change: own change.")
        try answer.set(44, "the maker cannot check th")
        #expect(
            DeskText.refusal(answer, checking: true) == "You may not check this change: the maker cannot check th..."
        )
        try answer.set(39, "12")
        try answer.set(44, "the change is applied")
        #expect(DeskText.refusal(answer, checking: true) == "Not done: the change is applied.")
    }
}
