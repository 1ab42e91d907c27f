import ATM87
import CashpointHarness
import CashpointSecurity
import CashpointTerminal
import Crypto
import Foundation
import Testing

/// Scripts for the staff second factor and four eyes: the keys that read, the codes the harness
/// computes and the time steps it picks, the code blocks it builds and deciphers, the tokens it keeps.
@Suite("Harness scripts: one-time codes, enrolment, four eyes")
struct ScriptCodesTests {
    static let secret = Base32.decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")!

    @Test("login and admin steps read code, totp, enrolmentCode and reason, from YAML and JSON")
    func keys() throws {
        let yaml = try Script.parse(
            """
            name: s
            terminal: BRANCH01
            steps:
              - {action: login, user: nina.new, password: pw, enrolmentCode: NEWST-AFF22, capture: {secret: 48.SK}}
              - {action: login, user: nina.new, password: pw, totp: "${secret}"}
              - {action: login, user: nina.new, password: pw, code: 012345}
              - {action: admin, op: UNLOCKACCOUNT, fields: {102: CP0000000004}, reason: she asked, totp: ABCDEFGH}
            """,
            yaml: true
        )
        #expect(yaml.steps[0].enrolmentCode == "NEWST-AFF22")
        #expect(yaml.steps[0].capture == ["secret": "48.SK"])
        #expect(yaml.steps[1].totp == "${secret}")
        #expect(yaml.steps[2].code == "012345")
        #expect(yaml.steps[3].reason == "she asked" && yaml.steps[3].totp == "ABCDEFGH")
        let json = try Script.parse(
            """
            {"name": "s", "terminal": "BRANCH01", "steps": [
              {"action": "login", "user": "u", "password": "p", "code": "123456", "enrolmentCode": "X"},
              {"action": "admin", "op": "REJECT", "tlv": [["CH", "7"]], "reason": "no"}]}
            """,
            yaml: false
        )
        #expect(json.steps[0].code == "123456" && json.steps[0].enrolmentCode == "X")
        #expect(json.steps[1].reason == "no")
        #expect(throws: ScriptError.self) {
            try Script.parse(
                "{name: s, terminal: T, steps: [{action: login, user: u, password: p, code: '1', totp: ABC}]}",
                yaml: true
            )
        }
    }

    @Test("the time step: the current one, the next after one used, a wait when two ahead")
    func plans() {
        let now: Int64 = 1_800_000_010  // 10 s into step 60,000,000
        let step: Int64 = 60_000_000
        #expect(OneTimeCodeSteps.plan(now: now, lastUsed: nil) == .init(step: step, wait: 0))
        #expect(OneTimeCodeSteps.plan(now: now, lastUsed: step - 5) == .init(step: step, wait: 0))
        #expect(OneTimeCodeSteps.plan(now: now, lastUsed: step) == .init(step: step + 1, wait: 0))
        // Step + 2 is accepted only from step + 1 on: 20 s from now.
        #expect(OneTimeCodeSteps.plan(now: now, lastUsed: step + 1) == .init(step: step + 2, wait: 20))

        let steps = OneTimeCodeSteps()
        #expect(steps.take(Self.secret, now: now).step == step)
        #expect(steps.take(Self.secret, now: now).step == step + 1)
        #expect(steps.take(Self.secret, now: now) == .init(step: step + 2, wait: 20))
        #expect(steps.take(Array("another secret".utf8), now: now).step == step)
        // The code of a step, as an authenticator app shows it (RFC 6238's SHA-1 vector at 59 s: 94287082).
        #expect(OneTimeCodeSteps.code(Self.secret, step: 1) == "287082")
    }

    /// A terminal signed on with known keys.
    static func signedOn() throws -> (ScriptTerminal, SessionKeys) {
        let master = SymmetricKey(size: .bits256)
        var terminal = ScriptTerminal(terminal: "BRANCH01", masterKey: master, firstSTAN: 10)
        let stamp = terminal.stamp(now: Date())
        let signOn = try terminal.sign(try terminal.network("001", stamp))
        let keys = SessionKeys.generate()
        var answer = try ATM87Message(
            mti: .networkManagementResponse,
            fields: [7: signOn[7]!, 11: stamp.stan, 39: "00", 41: "BRANCH01", 70: "001"]
        )
        try answer.set(120, KeyMaterial.encode(keys, under: master))
        #expect(terminal.absorb(try MessageAuthentication.sign(answer, key: keys.mac), to: signOn) == nil)
        return (terminal, keys)
    }

    @Test("a login's password, code and enrolment code are code blocks bound to its STAN and time")
    func loginBlocks() throws {
        var (terminal, keys) = try Self.signedOn()
        let stamp = terminal.stamp(now: Date())
        let login = try terminal.login(
            user: "nina.new",
            password: "pw",
            code: "123456",
            enrolmentCode: "NEWST-AFF22",
            stamp
        )
        let tlv = try ATM87TLV(parsing: login[48]!)
        #expect(tlv.elements.map(\.tag) == ["OP", "UN", "PW", "OT", "EC"])
        let open = { (tag: String, purpose: MessageBlock.Purpose, stan: String) in
            try MessageBlock.decipher(
                tlv[tag]!,
                purpose: purpose,
                key: keys.pin,
                terminal: "BRANCH01",
                stan: stan,
                transmitted: login[7]!
            )
        }
        #expect(try open("PW", .password, stamp.stan) == "pw")
        #expect(try open("OT", .code, stamp.stan) == "123456")
        #expect(try open("EC", .enrolment, stamp.stan) == "NEWST-AFF22")
        #expect(throws: MessageBlock.Error.self) { try open("OT", .code, "999999") }
        #expect(throws: MessageBlock.Error.self) { try open("OT", .enrolment, stamp.stan) }
        // Printed, they are only lengths.
        #expect(!ATM87PrettyPrinter.format(login).contains(tlv["OT"]!))
    }

    @Test("an answer's SK and RC decipher with its STAN and time; a step-up's token becomes the staff token")
    func answers() throws {
        var (terminal, keys) = try Self.signedOn()
        let stamp = terminal.stamp(now: Date())
        let login = try terminal.login(user: "nina.new", password: "pw", enrolmentCode: "NEWST-AFF22", stamp)
        let seal = { (text: String, purpose: MessageBlock.Purpose) in
            try MessageBlock.encipher(
                text,
                purpose: purpose,
                key: keys.pin,
                terminal: "BRANCH01",
                stan: stamp.stan,
                transmitted: stamp.time.transmission
            )
        }
        var answer = try ATM87Message(
            mti: .administrativeResponse,
            fields: [7: stamp.time.transmission, 11: stamp.stan, 39: "1A", 41: "BRANCH01"]
        )
        try answer.set(
            48,
            ATM87TLV([
                .init("NF", "OT"), .init("SK", try seal("GEZDGNBV", .secret)), .init("RC", try seal("A B", .recovery)),
            ])
            .encoded
        )
        #expect(try terminal.reveal(.secret, in: answer) == "GEZDGNBV")
        #expect(try terminal.reveal(.recoveryCodes, in: answer) == "A B")
        #expect(try terminal.reveal(.enrolmentCode, in: answer) == nil)
        #expect(terminal.absorb(try MessageAuthentication.sign(answer, key: keys.mac), to: login) == nil)
        #expect(terminal.staffToken == nil)

        terminal.staffToken = "first"
        let next = terminal.stamp(now: Date())
        let stepUp = try terminal.administrative(
            "UNLOCKUSER",
            [("UN", "tina.teller"), ("RS", "why")],
            fields: [:],
            token: terminal.staffToken,
            secrets: [(.oneTimeCode, "123456")],
            next
        )
        let held = try ATM87Message(
            mti: .administrativeResponse,
            fields: [11: next.stan, 39: "09", 48: "CH0017", 62: "second"]
        )
        _ = terminal.absorb(try MessageAuthentication.sign(held, key: keys.mac), to: stepUp)
        #expect(terminal.staffToken == "second")
        // A LOGOUT's answer, or one to another token's request, leaves it.
        let logout = try terminal.administrative("LOGOUT", [], fields: [:], token: "second", next)
        _ = terminal.absorb(try MessageAuthentication.sign(held, key: keys.mac), to: logout)
        let card = try terminal.administrative("BALANCE", [], fields: [:], token: "card", next)
        var other = held
        try other.set(62, "third")
        _ = terminal.absorb(try MessageAuthentication.sign(other, key: keys.mac), to: card)
        #expect(terminal.staffToken == "second")
    }

    @Test("${part(NAME, N)}: a word of a variable, such as one recovery code")
    func part() throws {
        let variables = ["codes": "AAAAA-BBBBB CCCCC-DDDDD"]
        #expect(try ScriptValues.substitute("${part(codes, 2)}", variables: variables) == "CCCCC-DDDDD")
        #expect(throws: ScriptError.self) { try ScriptValues.substitute("${part(codes, 3)}", variables: variables) }
        #expect(throws: ScriptError.self) { try ScriptValues.substitute("${part(nothing, 1)}", variables: variables) }
    }
}
