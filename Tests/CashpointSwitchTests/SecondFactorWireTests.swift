import ATM87
import CashpointBank
import CashpointSecurity
import CashpointTerminal
import CashpointTestSupport
import Foundation
import Testing

/// The second factor and four eyes on the wire, as docs/protocol.md describes them.
@Suite("second factor and four eyes on the wire")
struct SecondFactorWireTests {
    /// Field 48 of an answer, parsed (empty when absent).
    func tlv(_ message: ATM87Message) throws -> ATM87TLV {
        try ATM87TLV(parsing: message[48] ?? "")
    }

    @Test("LOGIN: no code 1A NF OT; with a code 00; the same code again 63 on another connection")
    func signOnAndReplay() async throws {
        try await SwitchUnderTest.with { under in
            let code = try #require(under.code("tina.teller"))
            try await under.terminal("BRANCH01") { branch in
                let none = try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password")
                #expect(none[39] == "1A")
                #expect(try self.tlv(none)["NF"] == "OT")
                #expect(none[62] == nil)
                let signed = try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: code)
                #expect(signed[39] == "00")
                #expect(signed[62] != nil)
            }
            try await under.terminal("BRANCH01") { branch in
                let replayed = try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: code)
                #expect(replayed[39] == "63")
                #expect(replayed[62] == nil)
            }
            #expect(try await under.auditCount("factor.replayed") == 1)
        }
    }

    @Test("an unlock is held (09 CH); the maker's approval 58; a second teller's 00 unlocks the account")
    func heldUnlockApprovedByAnother() async throws {
        try await SwitchUnderTest.with { under in
            let change: String = try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39]
                        == "00")
                #expect(try await branch.administrative(.lockAccount, fields: [102: "CP0000000003"])[39] == "00")
                let noReason = try await branch.administrative(.unlockAccount, fields: [102: "CP0000000003"])
                #expect(noReason[39] == "30")
                #expect(try self.tlv(noReason)["NF"] == "RS")
                let held = try await branch.administrative(
                    .unlockAccount, [(.reason, "customer identified at the desk")], fields: [102: "CP0000000003"])
                #expect(held[39] == "09")
                let id = try #require(try self.tlv(held)["CH"])
                let own = try await branch.administrative(.approveChange, [(.change, id)])
                #expect(own[39] == "58")
                let listed = try await branch.administrative(.pendingChanges)
                #expect(try self.tlv(listed).all("CG").contains { $0.hasPrefix("\(id)|pending|account.unlock|CP0000000003|tina.teller|") })
                let shown = try await branch.administrative(.showChange, [(.change, id)])
                let tlv = try self.tlv(shown)
                #expect(tlv["BF"]?.contains("locked") == true && tlv["AF"]?.contains("open") == true)
                return id
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CP0000000003' AND is_locked") == 1)
            try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "tom.teller", password: "teller2-test-password", code: under.code("tom.teller"))[39]
                        == "00")
                let approved = try await branch.administrative(.approveChange, [(.change, change)])
                #expect(approved[39] == "00")
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.accounts WHERE account_no = 'CP0000000003' AND is_locked") == 0)
            #expect(try await under.auditCount("change.applied") == 1)
        }
    }

    @Test("ENROL: the enrolment code to the admin; the user's LOGIN with it gets the secret (1A SK RC); a code from it signs on")
    func enrolmentOnTheWire() async throws {
        try await SwitchUnderTest.with { under in
            let enrolment: String = try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "ada.admin", password: "admin-test-password", code: under.code("ada.admin"))[39]
                        == "00")
                let answer = try await branch.administrative(.enrol, [(.userName, "nina.new")])
                #expect(answer[39] == "00")
                let block = try #require(try self.tlv(answer)["EC"])
                let keys = try #require(branch.keys)
                let stan = try #require(answer[11])
                let time = try #require(answer[7])
                return try MessageBlock.decipher(
                    block, purpose: .enrolment, key: keys.pin, terminal: "BRANCH01", stan: stan, transmitted: time)
            }
            #expect(RecoveryCodes.normalize(enrolment) != nil)
            #expect(try await under.auditCount("factor.enrolment-code") >= 1)
            let tellerReset = try await under.terminal("BRANCH01") { branch in
                _ = try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))
                return try await branch.administrative(.enrol, [(.userName, "nina.new")])[39]
            }
            #expect(tellerReset == "58")
            #expect(enrolment.count == 11)
        }
    }

    @Test("step-up: 5 minutes after sign-on a held request gets 1A NF OT; with a fresh code it is held and the 0610 carries a new token")
    func stepUp() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39]
                        == "00")
                let first = try #require(branch.staffToken)
                #expect(try await branch.administrative(.lockAccount, fields: [102: "CP0000000004"])[39] == "00")
                under.clock.advance(by: 301)
                let stale = try await branch.administrative(
                    .unlockAccount, [(.reason, "carol at the desk")], fields: [102: "CP0000000004"])
                #expect(stale[39] == "1A")
                #expect(try self.tlv(stale)["NF"] == "OT")
                let wrong = try await branch.administrative(
                    .unlockAccount, [(.reason, "carol at the desk")], fields: [102: "CP0000000004"], code: "000000")
                #expect(wrong[39] == "55")
                let fresh = try await branch.administrative(
                    .unlockAccount, [(.reason, "carol at the desk")], fields: [102: "CP0000000004"], code: under.code("tina.teller"))
                #expect(fresh[39] == "09")
                let renewed = try #require(fresh[62])
                #expect(renewed != first && branch.staffToken == renewed)
                #expect(try await branch.administrative(.balance, fields: [102: "CP0000000004"])[39] == "00")
            }
            #expect(try await under.auditCount("factor.right") == 1)
            #expect(try await under.auditCount("factor.wrong") == 1)
        }
    }
}
