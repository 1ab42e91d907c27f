import ATM87
import CashpointBank
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import Testing

/// The compliance case desk on the wire, as docs/protocol.md ("The compliance case desk") says: a case
/// transaction monitoring raised for bob's structured deposits, listed and worked by cora; a teller and
/// an administrator refused 58; the high-severity case's close by the officer who assigned it refused
/// 58; step-up for decisions; cid closes it.
@Suite("the compliance case desk on the wire", .enabled(if: databaseTestsEnabled))
struct CaseDeskWireTests {
    static let bob = "5555555555554444"

    func tlv(_ message: ATM87Message) throws -> ATM87TLV {
        try ATM87TLV(parsing: message[48] ?? "")
    }

    /// Signs `user` on at the branch desk.
    func signOn(_ desk: TerminalSession, _ under: SwitchUnderTest, _ user: String, _ password: String) async throws {
        #expect(try await desk.staffLogin(userName: user, password: password, code: under.code(user))[39] == "00")
    }

    @Test(
        "cora lists and works a structuring case; a teller and an administrator 58; her close 58 (she assigned it); cid closes it"
    )
    func worked() async throws {
        try await SwitchUnderTest.with(before: MonitoringServiceTests.loadRules) { under in
            try await under.terminal { atm in
                for _ in 0..<3 {
                    let deposit = try await atm.cardRequest(.deposit, pan: Self.bob, pin: "4321", amount: 350_000)
                    #expect(deposit[39] == "00")
                }
            }
            try await MonitoringServiceTests.drain(under)
            try await under.startAgain()
            let id = String(try await under.bank.count("SELECT id::int FROM bank.cases"))

            for (user, password) in [("tina.teller", "teller-test-password"), ("ada.admin", "admin-test-password")] {
                try await under.terminal("BRANCH01") { desk in
                    try await self.signOn(desk, under, user, password)
                    #expect(try await desk.administrative(.cases)[39] == "58")
                    #expect(try await desk.administrative(.showCase, [(.caseID, id)])[39] == "58")
                    let close = try await desk.administrative(
                        .closeCase,
                        [(.caseID, id), (.disposition, "false_positive"), (.note, "nothing to see")]
                    )
                    #expect(close[39] == "58")
                    let open = try await desk.administrative(
                        .openCase,
                        [(.userName, "alice"), (.severity, "low"), (.note, "a tip")]
                    )
                    #expect(open[39] == "58")
                }
            }

            try await under.terminal("BRANCH01") { desk in
                try await self.signOn(desk, under, "cora.compliance", "compliance-test-password")
                let queue = try self.tlv(try await desk.administrative(.cases))
                let entry = try #require(queue.all(AdminTag.caseEntry.rawValue).first)
                let fields = entry.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                #expect(
                    fields[0] == id && fields[1] == "high" && fields[2] == "open" && fields[3].hasPrefix("customer:")
                )
                #expect(fields[4] == "bob" && fields[5].isEmpty && fields[6].count == 14)
                #expect(fields[7] == "1" && fields[9] == "structuring-deposits")
                let file = try self.tlv(try await desk.administrative(.showCase, [(.caseID, id)]))
                #expect(file[.caseHeader]?.hasPrefix("\(id)|high|open|\(fields[3])|monitoring|") == true)
                #expect(file[.userName] == "bob")
                // What know your customer holds: bob is verified and has not been screened.
                #expect(file[.kycStatus] == "verified" && file[.riskRating] != nil && file[.screening] == "not_screened")
                let alert = try #require(file[.alert]).split(separator: "|", omittingEmptySubsequences: false)
                #expect(alert[1] == "structuring-deposits" && alert[2] == "high" && alert[4] == "1050000")
                #expect(alert[7].split(separator: " ").count == 3)
                #expect(file.all(AdminTag.caseTransaction.rawValue).count == 3)
                #expect(file.all(AdminTag.caseTransaction.rawValue).allSatisfy { $0.contains("|deposit|350000|00|") })
                #expect(file.all(AdminTag.caseEvent.rawValue).first?.contains("|monitoring|opened|open|") == true)
                #expect(file[.leftOff] == nil)

                let assigned = try await desk.administrative(.assignCase, [(.caseID, id)])
                #expect(assigned[39] == "00")
                #expect(try self.tlv(assigned)[.state] == "assigned")
                let mine = try await desk.administrative(
                    .closeCase,
                    [(.caseID, id), (.disposition, "false_positive"), (.note, "salary in cash")]
                )
                #expect(mine[39] == "58")
                #expect(
                    try self.tlv(mine)[.refusal]?.contains("another person than the one who opened or assigned it")
                        == true
                )
                let noNote = try await desk.administrative(
                    .closeCase,
                    [(.caseID, id), (.disposition, "false_positive")]
                )
                #expect(noNote[39] == "30" && noNote[44]?.hasPrefix("field 48 KO") == true)
                let badDisposition = try await desk.administrative(
                    .closeCase,
                    [(.caseID, id), (.disposition, "shrug"), (.note, "x")]
                )
                #expect(badDisposition[39] == "30")
                #expect(try await desk.administrative(.showCase, [(.caseID, "999999")])[39] == "12")
                #expect(try await desk.administrative(.showCase)[39] == "30")

                // Five minutes on: a decision asks for a code, a note does not.
                under.clock.advance(by: 301)
                let stale = try await desk.administrative(
                    .escalateCase,
                    [(.caseID, id), (.note, "three deposits in an hour")]
                )
                #expect(stale[39] == "1A")
                #expect(try self.tlv(stale)[.nextFactor] == "OT")
                #expect(
                    try await desk.administrative(.noteCase, [(.caseID, id), (.note, "asked the branch")])[39] == "00"
                )
                #expect(try await desk.administrative(.cases)[39] == "00")
                let escalated = try await desk.administrative(
                    .escalateCase,
                    [(.caseID, id), (.note, "three deposits in an hour")],
                    code: under.code("cora.compliance")
                )
                #expect(escalated[39] == "00")
                #expect(try self.tlv(escalated)[.state] == "escalated")
                let again = try await desk.administrative(.escalateCase, [(.caseID, id), (.note, "again")])
                #expect(again[39] == "12")
                #expect(try self.tlv(again)[.refusal] == "only an assigned case is escalated")
            }

            try await under.terminal("BRANCH01") { desk in
                try await self.signOn(desk, under, "cid.compliance", "compliance2-test-password")
                let closed = try await desk.administrative(
                    .closeCase,
                    [(.caseID, id), (.disposition, "report_filed"), (.note, "SAR filed")]
                )
                #expect(closed[39] == "00")
                #expect(try self.tlv(closed)[.state] == "closed")
                let late = try await desk.administrative(.noteCase, [(.caseID, id), (.note, "late")])
                #expect(late[39] == "12")
                #expect(try self.tlv(late)[.refusal] == "the case is closed")
                #expect(try self.tlv(try await desk.administrative(.cases)).all(AdminTag.caseEntry.rawValue).isEmpty)
                let all = try self.tlv(try await desk.administrative(.cases, [(.state, "all")]))
                #expect(all[.caseEntry]?.hasPrefix("\(id)|high|closed|") == true)
                #expect(try await desk.administrative(.cases, [(.state, "someday")])[39] == "30")
                let file = try self.tlv(try await desk.administrative(.showCase, [(.caseID, id)]))
                let events = file.all(AdminTag.caseEvent.rawValue).map {
                    $0.split(separator: "|", omittingEmptySubsequences: false)
                }
                #expect(events.map { String($0[2]) } == ["opened", "alert", "assigned", "note", "escalated", "closed"])
                #expect(
                    events.map { String($0[1]) }.suffix(4) == [
                        "cora.compliance", "cora.compliance", "cora.compliance", "cid.compliance",
                    ]
                )
                #expect(events.last?[4] == "report_filed: SAR filed")
                #expect(
                    file[.caseHeader]?.hasSuffix(
                        "|cid.compliance|" + String(file[.caseHeader]!.split(separator: "|")[9]) + "|report_filed"
                    ) == true
                )
                // A case opened at the desk: one active case a customer; the opener cannot close a high one.
                let bob = try await desk.administrative(
                    .openCase,
                    [(.userName, "bob"), (.severity, "high"), (.note, "cash again")]
                )
                #expect(bob[39] == "00")
                let second = try #require(try self.tlv(bob)[.caseID])
                #expect(second != id)
                let again = try await desk.administrative(
                    .openCase,
                    [(.userName, "bob"), (.severity, "low"), (.note, "once more")]
                )
                #expect(again[39] == "94")
                #expect(try self.tlv(again)[.caseID] == second)
                let nobody = try await desk.administrative(
                    .openCase,
                    [(.userName, "nobody"), (.severity, "low"), (.note, "x")]
                )
                #expect(nobody[39] == "12")
                #expect(try self.tlv(nobody)[.refusal] == "no customer nobody")
                let huge = try await desk.administrative(
                    .openCase,
                    [(.userName, "bob"), (.severity, "huge"), (.note, "x")]
                )
                #expect(huge[39] == "30")
                let reasonless = try await desk.administrative(.openCase, [(.userName, "bob"), (.severity, "low")])
                #expect(reasonless[39] == "30")
                let own = try await desk.administrative(
                    .closeCase,
                    [(.caseID, second), (.disposition, "false_positive"), (.note, "mine")]
                )
                #expect(own[39] == "58")
            }
            // Digits: the case closed by cid (1), the permission table's refusals of CASES (tina, ada: 2) and the
            // database's of cora's high-severity close (1), audited.
            #expect(
                try await under.bank.count(
                    """
                    SELECT (SELECT count(*) FROM bank.cases WHERE status = 'closed' AND closed_by = 'cid.compliance'
                              AND disposition = 'report_filed')::int * 100
                         + (SELECT count(*) FROM bank.audit_logs WHERE action = 'cases.list' AND outcome = '58')::int * 10
                         + (SELECT count(*) FROM bank.audit_logs WHERE action = 'case.close' AND outcome = '58'
                              AND actor = 'cora.compliance')::int
                    """
                ) == 121
            )
        }
    }

    @Test(
        "aml-structuring.yaml, then aml-case.yaml, the rules in force: the case monitoring raises is worked to closed"
    )
    func scripts() async throws {
        try await SwitchUnderTest.with(before: MonitoringServiceTests.loadRules) { under in
            #expect(try await under.play("aml-structuring.yaml") == [])
            try await MonitoringServiceTests.drain(under)
            try await under.startAgain()
            #expect(try await under.play("aml-case.yaml") == [])
            #expect(
                try await under.bank.count(
                    """
                    SELECT count(*)::int FROM bank.cases c JOIN bank.users u ON u.id = c.customer_id
                    WHERE u.user_name = 'bob' AND c.status = 'closed' AND c.closed_by = 'cid.compliance'
                      AND c.disposition = 'report_filed'
                    """
                ) == 1
            )
        }
    }
}
