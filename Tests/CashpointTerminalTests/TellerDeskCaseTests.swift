import ATM87
import CashpointSecurity
import Foundation
import Synchronization
import Testing

@testable import CashpointTerminal

/// The desk's case screens against the fake switch (FakeSwitch+Cases.swift): the queue, a case's file,
/// its steps, and refusals in words.
@Suite("The teller desk: the compliance case desk, against a switch in memory", .timeLimit(.minutes(1)))
struct TellerDeskCaseTests {
    static let cid = Array("cid's second factor!".utf8)
    /// 2027-01-15 09:30:00 UTC: two and a half hours after the fake's cases were opened.
    static let now = Date(timeIntervalSince1970: 1_800_005_400)

    /// The fake switch with the demo staff, cid, and a high-severity structuring case for bob.
    static func bank() -> FakeSwitch {
        let bank = TellerDeskTests.bank()
        bank.set { state in
            state.desk.staff["cid.compliance"] = .init(
                password: "compliance2-test-password",
                role: "compliance",
                secret: Self.cid
            )
            state.desk.cases = [FakeCase(id: 7, severity: "high", subject: "customer:bob", name: "bob")]
        }
        return bank
    }

    /// The desk at a signed-on branch terminal, its clock at `now`.
    static func run(_ bank: FakeSwitch, _ keys: [DeskKeypad.Key]) async throws -> DeskKeypad {
        let session = TerminalSession(
            link: FakeLink(bank),
            terminal: "BRANCH01",
            masterKey: TellerDeskTests.masterKey,
            firstSTAN: 100
        )
        #expect(try await session.signOn()[39] == "00")
        let keypad = DeskKeypad(keys)
        let desk = TellerDesk(session: session, io: keypad)
        desk.now = { Self.now }
        try await desk.run()
        return keypad
    }

    /// cora's sign-on at the desk: user name, password, a code.
    static func cora(_ bank: FakeSwitch) -> [DeskKeypad.Key] {
        ["cora.compliance", "compliance-test-password", .text(TellerDeskTests.code(TellerDeskTests.cora, bank))]
    }

    /// A fresh fake switch, and the desk run there by cora with these keys after her sign-on.
    static func asCora(_ keys: [DeskKeypad.Key]) async throws -> (FakeSwitch, DeskKeypad) {
        let bank = Self.bank()
        return (bank, try await Self.run(bank, Self.cora(bank) + keys))
    }

    static func sent(_ bank: FakeSwitch, _ operation: AdminOperation) -> [ATM87TLV] {
        TellerDeskTests.administrative(bank).filter { $0.operation == operation.rawValue }.map(\.tlv)
    }

    @Test(
        "cora: the queue (severity, age, subject), the file, assign to me; her close of the high case refused in words; escalated; cid closes it"
    )
    func workedToClosed() async throws {
        let (bank, cora) = try await Self.asCora([
            "20", "7", "1", "5", "R", "filed with FinCEN", "3", "", "3", "amounts just under the threshold", "",
            "0",
        ])
        #expect(
            cora.shown.contains(
                "#7 HIGH 2h 30m old  bob (customer:bob)  open, unassigned, 1 alert (structuring-deposits)"
            )
        )
        #expect(cora.shown.contains("Case #7: high severity, open - customer:bob"))
        #expect(cora.shown.contains("rule structuring-deposits (high), score 1.05, 10,500.00"))
        #expect(cora.shown.contains("#41 2027-01-15 06:30 UTC deposit 3,500.00 (00) at ATM00002, account CP0000000002"))
        #expect(cora.shown.contains("monitoring: opened (open) - rule structuring-deposits: 3 deposits"))
        #expect(cora.shown.contains("Case 7 is assigned to you. Status: assigned."))
        #expect(
            cora.shown.contains(
                "Not closed: a high-severity case is closed by a second person, not the compliance officer who opened or "
                    + "assigned it. Ask another compliance officer to close it."
            )
        )
        #expect(cora.shown.contains("Not done: a note is needed."))
        #expect(cora.shown.contains("Case 7 escalated. Status: escalated."))
        #expect(Self.sent(bank, .assignCase).map { $0[.userName] } == [nil])
        let escalated = try #require(Self.sent(bank, .escalateCase).first)
        #expect(escalated[.caseID] == "7" && escalated[.note] == "amounts just under the threshold")

        let cid = try await Self.run(
            bank,
            [
                "cid.compliance", "compliance2-test-password",
                .text(OneTimePassword.code(secret: Self.cid, at: TellerDeskTests.now(bank))),
                "20", "7", "5", "X", "5", "R", "SAR filed", "0",
            ]
        )
        #expect(cid.shown.contains("Type F, C or R; the case was not closed."))
        #expect(cid.shown.contains("Case 7 closed: report filed. Status: closed."))
        let close = try #require(Self.sent(bank, .closeCase).last)
        #expect(close[.disposition] == "report_filed" && close[.note] == "SAR filed")
        #expect(bank.state.withLock { $0.desk.cases[0].closedBy } == "cid.compliance")
    }

    @Test(
        "assigning to a named officer after 5 minutes asks for a fresh code; a note needs none; a teller is refused in words"
    )
    func stepUpAndRoles() async throws {
        let bank = Self.bank()
        let later = TellerDeskTests.now(bank) + 400
        let cora = try await Self.run(
            bank,
            Self.cora(bank) + [
                .run { bank.set { $0.desk.now = later } },
                "20", "7", "4", "called the customer", "2", "cid.compliance",
                .text(OneTimePassword.code(secret: TellerDeskTests.cora, at: later)), "", "0",
            ]
        )
        #expect(cora.shown.contains("Note added to case 7. Status: open."))
        #expect(cora.shown.contains("This needs a fresh one-time code."))
        #expect(cora.shown.contains("Case 7 is assigned to cid.compliance. Status: assigned."))
        let assigns = Self.sent(bank, .assignCase)
        #expect(assigns.count == 2 && assigns[0][.oneTimeCode] == nil && assigns[1][.oneTimeCode] != nil)
        #expect(assigns.allSatisfy { $0[.userName] == "cid.compliance" })
        #expect(Self.sent(bank, .noteCase).first?[.oneTimeCode] == nil)

        let tina = try await Self.run(
            bank,
            ["tina.teller", "teller-test-password", .text(TellerDeskTests.code(TellerDeskTests.tina, bank)), "20", "0"]
        )
        #expect(tina.shown.contains("Your role may not work cases: the case desk is the compliance officers'."))
    }

    @Test("the case texts: ages, dispositions, a queue line, 12 with the whole reason, the role's 58")
    func texts() throws {
        #expect(CaseText.age("20270115070000", now: Self.now) == "2h 30m")
        #expect(CaseText.age("20270112090000", now: Self.now) == "3d 0h")
        #expect(CaseText.age("20270115092900", now: Self.now) == "1m")
        #expect(CaseText.age("yesterday", now: Self.now) == "?")
        #expect(CaseText.disposition(" f ") == "false_positive" && CaseText.disposition("c") == "customer_contacted")
        #expect(CaseText.disposition("R") == "report_filed" && CaseText.disposition("") == nil)
        let entry = try #require(
            CaseText.Entry(
                "3|medium|assigned|terminal:ATM00002|ATM00002|cora.compliance|20270115070000|4||cash-out-ring velocity"
            )
        )
        #expect(
            entry.line(now: Self.now)
                == "#3 MEDIUM 2h 30m old  ATM00002 (terminal:ATM00002)  assigned, with cora.compliance, 4 alerts (cash-out-ring, velocity)"
        )
        #expect(CaseText.Entry("3|medium") == nil)
        var refused = ATM87Message(mti: .administrativeResponse)
        try refused.set(39, "12")
        try refused.set(44, "only an assigned case is ")
        try refused.set(48, ATM87TLV([.init(AdminTag.refusal.rawValue, "only an assigned case is escalated")]).encoded)
        #expect(CaseText.refusal(refused, step: .escalateCase) == "Not done: only an assigned case is escalated.")
        var role = ATM87Message(mti: .administrativeResponse)
        try role.set(39, "58")
        #expect(
            CaseText.refusal(role, step: .closeCase)
                == "Your role may not work cases: the case desk is the compliance officers'."
        )
    }

    @Test(
        "N opens a case at the desk (then shows it); a customer's active case is shown instead (94); refusals in words"
    )
    func newCase() async throws {
        let (bank, cora) = try await Self.asCora([
            "20", "N", "alice", "Medium", "cash from abroad", "",
            "20", "n", "bob", "high", "again", "",
            "20", "N", "zed", "low", "a tip",
            "20", "N", "alice", "urgent",
            "20", "x",
            "0",
        ])
        #expect(cora.shown.contains("Case 8 opened for alice."))
        #expect(cora.shown.contains("Case #8: medium severity, open - customer:alice"))
        #expect(cora.shown.contains("bob already has an active case, 7: it is shown; add to it."))
        #expect(cora.shown.contains("Case #7: high severity, open - customer:bob"))
        #expect(cora.shown.contains("Not done: no customer zed."))
        #expect(cora.shown.contains("The severity is low, medium or high; no case was opened."))
        #expect(cora.shown.contains("Type a case's number, such as 7, or N for a new case."))
        let opened = try #require(Self.sent(bank, .openCase).first)
        #expect(opened[.userName] == "alice" && opened[.severity] == "medium" && opened[.note] == "cash from abroad")
        #expect(Self.sent(bank, .openCase).count == 3)
    }
}
