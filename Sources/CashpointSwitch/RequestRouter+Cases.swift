import ATM87
import CashpointBank
import Foundation

// The compliance case desk on the wire (docs/protocol.md, "The compliance case desk"): CASES (the
// queue), CASE (one case's file) and one operation per step of a case (CASEASSIGN, CASEESCALATE,
// CASENOTE, CASECLOSE), so that each names its own elements and its own rule: a decision needs a fresh
// second factor, a note does not.
extension RequestRouter {
    /// A case operation's answer, its elements appended to `out`. Malformed elements are 30 here, before
    /// the bank (whose permission table answers 58 for anyone but a compliance officer).
    func caseDesk(
        _ operation: AdminOperation,
        tlv: ATM87TLV,
        actor: StaffMember,
        out: inout ATM87TLV,
        perform: (StaffOperation) async throws -> BankAnswer
    ) async throws -> BankAnswer {
        func caseID() throws -> Int64 {
            guard let id = try Self.number(tlv[.caseID], .caseID, in: 1...Int.max) else {
                throw Refusal(.formatError, "field 48 \(AdminTag.caseID.rawValue): the case's number")
            }
            return Int64(id)
        }
        func note() throws -> String {
            guard let text = tlv[.note]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
                throw Refusal(.formatError, "field 48 \(AdminTag.note.rawValue): a note is needed")
            }
            guard text.count <= 500, text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
                throw Refusal(.formatError, "field 48 \(AdminTag.note.rawValue): 1-500 printable characters")
            }
            return text
        }
        var answer: BankAnswer
        switch operation {
        case .cases:
            let limit = try Self.number(tlv[.limit], .limit, in: 1...50) ?? 20
            let offset = try Self.number(tlv[.page], .page, in: 0...Int(Int32.max)) ?? 0
            answer = try await perform(.listCases(status: tlv[.state] ?? "active", offset: offset, limit: limit))
            var shown = 0
            for summary in answer.cases {
                let entry = Self.caseEntry(summary)
                guard out.encoded.utf8.count + ATM87TLV.cost(of: entry) + 20 <= 999 else { break }
                out.append(.caseEntry, entry)
                shown += 1
            }
            if shown < answer.cases.count || (shown > 0 && answer.cases.count == limit) {
                out.append(.next, String(offset + shown))
            }
        case .showCase:
            answer = try await perform(.showCase(try caseID()))
            if let file = answer.caseFile { Self.append(file, to: &out) }
        case .assignCase:
            let note = try tlv[.note].map { _ in try note() }
            answer = try await perform(
                .workCase(try caseID(), step: .assign, argument: tlv[.userName] ?? actor.userName, note: note)
            )
        case .escalateCase:
            answer = try await perform(.workCase(try caseID(), step: .escalate, argument: nil, note: try note()))
        case .noteCase:
            answer = try await perform(.workCase(try caseID(), step: .note, argument: nil, note: try note()))
        case .closeCase:
            guard let disposition = tlv[.disposition].flatMap(CaseDisposition.init(rawValue:)) else {
                throw Refusal(
                    .formatError,
                    "field 48 \(AdminTag.disposition.rawValue): false_positive, customer_contacted or report_filed"
                )
            }
            answer = try await perform(
                .workCase(try caseID(), step: .close, argument: disposition.rawValue, note: try note())
            )
        case .openCase:
            guard let customer = tlv[.userName], !customer.isEmpty else {
                throw Refusal(.formatError, "field 48 \(AdminTag.userName.rawValue): the customer's user name")
            }
            guard let severity = tlv[.severity].flatMap(AlertSeverity.init(rawValue:)) else {
                throw Refusal(.formatError, "field 48 \(AdminTag.severity.rawValue): low, medium or high")
            }
            answer = try await perform(.openCase(customer: customer, severity: severity, reason: try note()))
            if let id = answer.createdID, [.approved, .duplicate].contains(answer.code) {
                out.append(.caseID, String(id))
            }
        default:
            throw Refusal(.invalidTransaction, "\(operation.rawValue) is not a case operation")
        }
        if let status = answer.caseStatus { out.append(.state, status) }
        if [.invalidTransaction, .notPermittedToTerminal].contains(answer.code), let reason = answer.reason {
            out.append(.refusal, Self.clean(String(reason.prefix(200))))
        }
        return answer
    }

    /// A `KE` entry: `id|severity|status|subject|name|assignee|opened|alerts|last event|rules`.
    static func caseEntry(_ summary: CaseSummary) -> String {
        [
            String(summary.id), summary.severity.rawValue, summary.status, Self.clean(summary.subject),
            Self.clean(summary.name), Self.clean(summary.assignee ?? ""), Self.timestampText(summary.openedAt),
            String(summary.alerts), summary.lastEventAt.map(Self.timestampText) ?? "",
            Self.clean(summary.rules.joined(separator: " ")),
        ].joined(separator: "|")
    }

    /// CASE's answer: `KF` the case, the customer (`CU`, `UN`, `CN`; with a recorded identity `KS`, `RR`,
    /// `SC`), then `KA` per alert, `KV` per event
    /// and `KT` per transaction as long as field 48 (999 characters) holds them, and `KL` what was left off.
    static func append(_ file: CaseFile, to out: inout ATM87TLV) {
        let head = file.case
        out.append(
            .caseHeader,
            [
                String(head.id), head.severity.rawValue, head.status, Self.clean(head.subject),
                Self.clean(head.opened_by),
                Self.fileTime(head.opened_at), Self.clean(head.assignee ?? ""), Self.clean(head.assigned_by ?? ""),
                Self.clean(head.closed_by ?? ""), head.closed_at.map(Self.fileTime) ?? "", head.disposition ?? "",
            ].joined(separator: "|")
        )
        if let customer = file.customer {
            out.append(.customerID, String(customer.id))
            out.append(.userName, Self.clean(customer.user_name))
            out.append(.customerName, Self.clean(customer.full_name))
            // What know your customer holds about them: status, rating, the sanctions screening result.
            if let identity = customer.identity {
                out.append(.kycStatus, identity.kyc_status)
                out.append(.riskRating, identity.risk_rating)
                out.append(
                    .screening,
                    identity.screening + (identity.screening_detail.map { "|" + Self.clean(String($0.prefix(80))) } ?? "")
                )
            }
        }
        let alerts = file.alerts.map { alert in
            [
                String(alert.id), Self.clean(alert.rule), alert.severity.rawValue, String(format: "%.2f", alert.score),
                String(alert.amount), Self.fileTime(alert.window_start), Self.fileTime(alert.window_end),
                alert.transactions.map(String.init).joined(separator: " "), Self.clean(String(alert.detail.prefix(80))),
            ].joined(separator: "|")
        }
        let events = file.events.map { event in
            [
                Self.fileTime(event.at), Self.clean(event.actor), Self.clean(event.event), event.status,
                Self.clean(String((event.detail ?? "").prefix(100))),
            ].joined(separator: "|")
        }
        let transactions = file.transactions.map { transaction in
            [
                String(transaction.id), Self.fileTime(transaction.at), transaction.kind, String(transaction.amount),
                transaction.response_code, Self.clean(transaction.terminal), transaction.account ?? "",
                transaction.card ?? "", transaction.reversed ? "Y" : "N",
            ].joined(separator: "|")
        }
        var left = [0, 0, 0]
        for (index, (tag, entries)) in [
            (AdminTag.alert, alerts), (.caseEvent, events), (.caseTransaction, transactions),
        ]
        .enumerated() {
            for entry in entries {
                // Room kept for KL (5 + at most 14 characters).
                guard out.encoded.utf8.count + ATM87TLV.cost(of: entry) + 20 <= 999 else {
                    left[index] += 1
                    continue
                }
                out.append(tag, entry)
            }
        }
        if left != [0, 0, 0] { out.append(.leftOff, left.map(String.init).joined(separator: "|")) }
    }

    /// A time of a case file (PostgreSQL's JSON, UTC: `2026-12-07T09:30:00.123+00:00`) as YYYYMMDDhhmmss.
    static func fileTime(_ text: String) -> String {
        String(text.prefix(19).filter(\.isNumber))
    }
}
