import ATM87
import CashpointTerminal

/// A case of the fake switch's case desk, as docs/protocol.md ("The compliance case desk") says.
struct FakeCase {
    var id: Int
    var status = "open"
    var severity: String
    var openedBy = "monitoring"
    var subject: String
    var name: String
    var assignee = ""
    var assignedBy = ""
    var closedBy = ""
    var disposition = ""
    var events: [String] = []

    var entry: String {
        [
            String(self.id), self.severity, self.status, self.subject, self.name, self.assignee, "20270115070000", "1",
            "20270115070000", "structuring-deposits",
        ].joined(separator: "|")
    }
}

extension FakeDesk {
    /// CASES, CASE and the case steps: the compliance role only (58, no `KR`); a decision needs a fresh
    /// factor (1A); the store's refusals (12, 58) with their reason in `KR` and shortened in field 44.
    mutating func caseAnswer(
        _ operation: AdminOperation,
        _ tlv: ATM87TLV,
        user: String,
        role: String,
        fresh: Bool
    )
        -> (String, [(AdminTag, String)], String?)
    {
        guard role == "compliance" else { return ("58", [], nil) }
        if operation == .cases {
            return ("00", self.cases.filter { $0.status != "closed" }.map { (.caseEntry, $0.entry) }, nil)
        }
        if operation == .openCase {
            guard let customer = tlv[.userName], let severity = tlv[.severity], tlv[.note] != nil else {
                return ("30", [], "field 48")
            }
            guard customer == "bob" || customer == "alice" else {
                return ("12", [(.refusal, "no customer \(customer)")], "no customer \(customer)")
            }
            if let active = self.cases.first(where: { $0.name == customer && $0.status != "closed" }) {
                return ("94", [(.caseID, String(active.id))], "the customer has an active case")
            }
            let id = (self.cases.map(\.id).max() ?? 0) + 1
            self.cases.append(
                FakeCase(id: id, severity: severity, openedBy: user, subject: "customer:\(customer)", name: customer)
            )
            return ("00", [(.caseID, String(id))], nil)
        }
        guard let id = tlv[.caseID].flatMap(Int.init) else { return ("30", [], "field 48 KN") }
        guard let index = self.cases.firstIndex(where: { $0.id == id }) else {
            return ("12", [(.refusal, "no such case")], "no such case")
        }
        func refused(_ code: String, _ why: String) -> (String, [(AdminTag, String)], String?) {
            (code, [(.refusal, why)], why)
        }
        var file = self.cases[index]
        defer { self.cases[index] = file }
        if operation == .showCase {
            var elements: [(AdminTag, String)] = [
                (
                    .caseHeader,
                    [
                        String(file.id), file.severity, file.status, file.subject, file.openedBy, "20270115070000",
                        file.assignee, file.assignedBy, file.closedBy, file.closedBy.isEmpty ? "" : "20270115090000",
                        file.disposition,
                    ].joined(separator: "|")
                ),
                (.customerID, "2"), (.userName, file.name), (.customerName, "Bob Builder"),
                (
                    .alert,
                    "7|structuring-deposits|high|1.05|1050000|20270115063000|20270115065000|41 42 43|3 cash deposits under 10000.00"
                ),
                (.caseEvent, "20270115070000|monitoring|opened|open|rule structuring-deposits: 3 deposits"),
            ]
            elements += file.events.map { (.caseEvent, $0) }
            elements.append(
                (.caseTransaction, "41|20270115063000|deposit|350000|00|ATM00002|CP0000000002|555555******4444|N")
            )
            return ("00", elements, nil)
        }
        guard fresh || operation == .noteCase else { return ("1A", [(.nextFactor, "OT")], nil) }
        guard file.status != "closed" else { return refused("12", "the case is closed") }
        let note = tlv[.note]
        switch operation {
        case .assignCase:
            file.assignee = tlv[.userName] ?? user
            file.assignedBy = user
            if file.status == "open" { file.status = "assigned" }
        case .escalateCase:
            guard file.status == "assigned" else { return refused("12", "only an assigned case is escalated") }
            guard note != nil else { return ("30", [], "field 48 KO: a note is needed") }
            file.status = "escalated"
        case .noteCase:
            guard note != nil else { return ("30", [], "field 48 KO: a note is needed") }
        case .closeCase:
            guard let disposition = tlv[.disposition], note != nil else { return ("30", [], "field 48 KD") }
            if file.severity == "high" && [file.openedBy, file.assignedBy].contains(user) {
                return refused(
                    "58",
                    "a high-severity case is closed by another person than the one who opened or assigned it"
                )
            }
            file.status = "closed"
            file.closedBy = user
            file.disposition = disposition
        default:
            return ("12", [], nil)
        }
        file.events.append("20270115080000|\(user)|\(operation.rawValue.lowercased())|\(file.status)|\(note ?? "")")
        return ("00", [(.state, file.status)], nil)
    }
}
