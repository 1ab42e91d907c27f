import ATM87
import CashpointBank
import CashpointSecurity
import CashpointTerminal
import CashpointTestSupport
import Foundation
import Testing

/// Know your customer on the wire, as docs/protocol.md describes it: CREATE's identity, KYC, VERIFY,
/// four eyes for a high-risk customer, step-up, and 1K.
@Suite("know your customer on the wire")
struct KYCWireTests {
    func tlv(_ message: ATM87Message) throws -> ATM87TLV {
        try ATM87TLV(parsing: message[48] ?? "")
    }

    @Test("CREATE's identity: a missing element 30 naming it, a bad value 30 with the reason, an IN that does not decipher 63; nothing made")
    func createRefusals() async throws {
        try await SwitchUnderTest.with { under in
            let users = try await under.bank.count("SELECT count(*)::int FROM bank.users")
            try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39]
                        == "00")
                let bare = try await branch.administrative("CREATE", [("UN", "ivy"), ("CN", "Ivy Ives")])
                #expect(bare[39] == "30" && bare[44]?.hasPrefix("field 48 BD") == true)
                let future = try await branch.administrative(
                    "CREATE",
                    [("UN", "ivy"), ("CN", "Ivy Ives")] + TerminalSession.identityElements().map { $0.0 == "BD" ? ("BD", "29990101") : $0 },
                    secrets: [(.documentNumber, "P1234567")]
                )
                #expect(future[39] == "30" && future[44]?.hasPrefix("date of birth") == true)
                let badNumber = try await branch.create([("UN", "ivy"), ("CN", "Ivy Ives")], document: "P#1")
                #expect(badNumber[39] == "30" && badNumber[44]?.hasPrefix("document number") == true)
                let forged = try await branch.administrative(
                    "CREATE",
                    [("UN", "ivy"), ("CN", "Ivy Ives")] + TerminalSession.identityElements() + [("IN", String(repeating: "AB", count: 40))]
                )
                #expect(forged[39] == "63")
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.users") == users)
        }
    }

    @Test("a politically exposed customer: KYC says high; VERIFY is held (09 CH), not the maker's to approve (58), a second compliance officer applies it; then the card works")
    func highRiskFourEyes() async throws {
        try await SwitchUnderTest.with { under in
            let (customer, pan, pin): (String, String, String) = try await under.terminal("BRANCH01") { branch in
                #expect(
                    try await branch.staffLogin(userName: "tina.teller", password: "teller-test-password", code: under.code("tina.teller"))[39]
                        == "00")
                let created = try await branch.create([("UN", "pia"), ("CN", "Pia Power")], exposed: true, document: "PEP4242")
                #expect(created[39] == "00")
                let tlv = try self.tlv(created)
                let pan = try #require(created[2])
                let pin = try PINBlock.decipher(try #require(tlv["PB"].flatMap(Hex.decode)), pan: pan, key: try #require(branch.keys).pin)
                #expect(try await branch.administrative("DEPOSIT", fields: [4: "000000010000", 102: try #require(created.trimmed(102))])[39] == "00")
                return (try #require(tlv["CU"]), pan, pin)
            }
            let change: String = try await under.terminal("BRANCH01") { desk in
                #expect(
                    try await desk.staffLogin(
                        userName: "cora.compliance", password: "compliance-test-password", code: under.code("cora.compliance"))[39] == "00")
                let record = try self.tlv(try await desk.administrative("KYC", [("CU", customer)]))
                #expect(record["RR"] == "high" && record["PP"] == "Y" && record.all("RN") == ["politically exposed person"])
                #expect(record["DM"] == "passport GB ****4242" && record["SC"] == "not_screened" && record["RD"] == nil)
                let held = try await desk.administrative(
                    "VERIFY", [("CU", customer), ("KS", "verified"), ("RS", "source of funds documented")])
                #expect(held[39] == "09")
                let id = try #require(try self.tlv(held)["CH"])
                #expect(try await desk.administrative("APPROVE", [("CH", id)])[39] == "58")
                let shown = try self.tlv(try await desk.administrative("CHANGE", [("CH", id)]))
                #expect(shown["BF"]?.contains("KYC pending, risk high (politically exposed person)") == true)
                #expect(shown["AF"]?.contains("KYC verified, review in 12 months") == true)
                return id
            }
            try await under.terminal { atm in
                let refused = try await atm.cardRequest(.withdrawal, pan: pan, pin: pin, amount: 1_000)
                #expect(refused[39] == "1K")
            }
            try await under.terminal("BRANCH01") { desk in
                #expect(
                    try await desk.staffLogin(
                        userName: "cid.compliance", password: "compliance2-test-password", code: under.code("cid.compliance"))[39] == "00")
                #expect(try await desk.administrative("APPROVE", [("CH", change)])[39] == "00")
                let record = try self.tlv(try await desk.administrative("KYC", [("CU", customer)]))
                #expect(record["KS"] == "verified" && record["VB"]?.hasPrefix("cid.compliance|") == true)
                #expect(record["DR"] == "source of funds documented")
            }
            try await under.terminal { atm in
                let paid = try await atm.cardRequest(.withdrawal, pan: pan, pin: pin, amount: 1_000)
                #expect(paid[39] == "00")
            }
        }
    }

    @Test("VERIFY needs a fresh second factor: 5 minutes after sign-on 1A NF OT, with a code 00")
    func stepUp() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal("BRANCH01") { desk in
                #expect(
                    try await desk.staffLogin(
                        userName: "cora.compliance", password: "compliance-test-password", code: under.code("cora.compliance"))[39] == "00")
                // pat, the demo bank's pending customer.
                let pat = String(try await under.bank.count("SELECT id::int FROM bank.users WHERE user_name = 'pat'"))
                under.clock.advance(by: 301)
                let stale = try await desk.administrative("VERIFY", [("CU", pat), ("KS", "rejected"), ("RS", "forged")])
                #expect(stale[39] == "1A")
                #expect(try self.tlv(stale)["NF"] == "OT")
                // Reading a record needs no fresh code.
                #expect(try await desk.administrative("KYC", [("CU", pat)])[39] == "00")
                let fresh = try await desk.administrative(
                    .verify, [(.customerID, pat), (.kycStatus, "rejected"), (.reason, "forged")], code: under.code("cora.compliance"))
                #expect(fresh[39] == "00")
                let bad = try await desk.administrative("VERIFY", [("CU", pat), ("KS", "maybe"), ("RS", "x")])
                #expect(bad[39] == "30")
                let nobody = try await desk.administrative("KYC", [("CU", "999999")])
                #expect(nobody[39] == "12")
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.customer_identities WHERE status = 'rejected'") == 1)
        }
    }
}
