import ATM87
import CashpointBank
import Foundation
import Testing

@testable import CashpointSwitch

/// CASE's answer from a case file, without a database: the elements in order, what field 48 (999
/// characters) cannot hold counted in `KL`, `|` in free text replaced.
@Suite("CASE's answer")
struct CaseFileAnswerTests {
    /// A case file as `bank.case_file` writes it, with `transactions` deposits behind one alert.
    static func file(transactions: Int, detail: String = "3 deposits under 10000.00") throws -> CaseFile {
        let ids = (1...transactions).map(String.init).joined(separator: ",")
        let rows = (1...transactions).map { id in
            """
            {"id": \(id), "at": "2026-12-07T09:0\(id % 10):00.123456+00:00", "kind": "deposit", "amount": 350000,
             "response_code": "00", "terminal": "ATM00001", "account": "CP0000000003", "card": "555555******4444",
             "reversed": \(id == 2)}
            """
        }
        return try CaseFile.decode(
            """
            {"case": {"id": 9, "subject": "customer:4", "severity": "high", "status": "assigned",
              "opened_by": "monitoring", "opened_at": "2026-12-07T09:10:00.5+00:00", "assignee": "cora.compliance",
              "assigned_by": "cora.compliance", "closed_by": null, "closed_at": null, "disposition": null},
             "customer": {"id": 4, "user_name": "bob", "full_name": "Bob|Builder", "since": "2026-01-01T00:00:00+00:00",
              "accounts": [], "cards": []},
             "terminal": null,
             "alerts": [{"id": 3, "rule": "structuring-deposits", "rule_version": 1, "kind": "structuring",
              "severity": "high", "score": 1.05, "amount": 1050000, "detail": "\(detail)",
              "window_start": "2026-12-07T09:00:00+00:00", "window_end": "2026-12-07T09:09:00+00:00",
              "raised_at": "2026-12-07T09:10:00+00:00", "transactions": [\(ids)]}],
             "transactions": [\(rows.joined(separator: ","))],
             "events": [{"at": "2026-12-07T09:10:00+00:00", "actor": "monitoring", "event": "opened", "status": "open",
              "detail": "rule structuring-deposits"}],
             "currency": "EUR"}
            """
        )
    }

    @Test("a small file whole: KF, the customer, KA, KV, KT, no KL; times as YYYYMMDDhhmmss")
    func whole() throws {
        var out = ATM87TLV()
        RequestRouter.append(try Self.file(transactions: 3), to: &out)
        #expect(out.elements.map(\.tag) == ["KF", "CU", "UN", "CN", "KA", "KV", "KT", "KT", "KT"])
        #expect(
            out["KF"] == "9|high|assigned|customer:4|monitoring|20261207091000|cora.compliance|cora.compliance|||"
        )
        #expect(out["CN"] == "Bob_Builder")
        #expect(
            out["KA"]
                == "3|structuring-deposits|high|1.05|1050000|20261207090000|20261207090900|1 2 3|3 deposits under 10000.00"
        )
        #expect(out["KV"] == "20261207091000|monitoring|opened|open|rule structuring-deposits")
        #expect(
            out.all("KT")[1] == "2|20261207090200|deposit|350000|00|ATM00001|CP0000000003|555555******4444|Y"
        )
        #expect(out["KL"] == nil)
    }

    @Test("a file larger than field 48: as many transactions as fit, the rest counted in KL, under 999 characters")
    func leftOff() throws {
        var out = ATM87TLV()
        RequestRouter.append(try Self.file(transactions: 40), to: &out)
        let shown = out.all("KT").count
        #expect(shown > 0 && shown < 40)
        #expect(out["KL"] == "0|0|\(40 - shown)")
        #expect(out.encoded.utf8.count <= 999)
        #expect(out.elements.last?.tag == "KL")
    }
}
