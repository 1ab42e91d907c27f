import ATM87
import Foundation

// The desk's case screens (a compliance officer's): the queue of cases transaction monitoring opened
// (CASES), a case's file (CASE: alerts, the transactions behind them, events) and its steps: assign to
// me or to a named officer, escalate with a note, note, close with a disposition and a note.
extension TellerDesk {
    static let caseActions = "1 Assign to me  2 Assign to an officer  3 Escalate  4 Note  5 Close  Enter: back:"

    /// CASES: the active cases, most severe then oldest; one chosen is opened (`caseFile`).
    func caseQueue() async throws {
        guard let answer = try await self.perform(DeskRequest(.cases, [(.limit, "20")])) else { return }
        guard answer[39] == "00" else {
            self.io.show(CaseText.refusal(answer, step: .cases))
            return
        }
        let cases = CaseText.entries(answer)
        if cases.isEmpty {
            self.io.show("No case is open.")
        } else {
            let now = self.now()
            var lines = ["Cases (most severe first, then the oldest):"] + cases.map { "  " + $0.line(now: now) }
            if CaseText.tlv(answer)[.next] != nil { lines.append("  (more cases follow: close some of these first)") }
            self.io.show(lines.joined(separator: "\n"))
        }
        guard let typed = await self.io.ask(Self.casePrompt), let chosen = Self.entered(typed) else { return }
        if chosen.uppercased() == "N" {
            try await self.newCase()
            return
        }
        let id = chosen.hasPrefix("#") ? String(chosen.dropFirst()) : chosen
        guard !id.isEmpty, id.count <= 18, id.allSatisfy(\.isNumber) else {
            self.io.show("Type a case's number, such as \(cases.first?.id ?? "7"), or N for a new case.")
            return
        }
        try await self.caseFile(id)
    }

    static let casePrompt = "Case to show (its number), N for a new case, Enter: back:"

    /// CASEOPEN: a case opened at the desk for a customer, with a severity and a reason; then its file.
    func newCase() async throws {
        guard let typed = await self.io.ask("Customer's user name:"), let customer = Self.entered(typed),
            let severityTyped = await self.io.ask("Severity (low, medium or high):")
        else { return }
        let severity = severityTyped.trimmingCharacters(in: .whitespaces).lowercased()
        guard ["low", "medium", "high"].contains(severity) else {
            self.io.show("The severity is low, medium or high; no case was opened.")
            return
        }
        guard let reason = await self.askNote("Why (the reason for the case):") else { return }
        guard
            let answer = try await self.perform(
                DeskRequest(.openCase, [(.userName, customer), (.severity, severity), (.note, reason)])
            )
        else { return }
        let id = CaseText.tlv(answer)[.caseID]
        switch answer[39] {
        case "00":
            self.io.show("Case \(id ?? "?") opened for \(customer).")
        case "94":
            self.io.show("\(customer) already has an active case, \(id ?? "?"): it is shown; add to it.")
        default:
            self.io.show(CaseText.refusal(answer, step: .openCase))
            return
        }
        if let id { try await self.caseFile(id) }
    }

    /// CASE: a case's file, then its steps until Enter; a closed case shows its file only.
    func caseFile(_ id: String) async throws {
        guard let shown = try await self.perform(DeskRequest(.showCase, [(.caseID, id)])) else { return }
        guard shown[39] == "00" else {
            self.io.show(CaseText.refusal(shown, step: .showCase))
            return
        }
        self.io.show(CaseText.file(shown))
        var status = CaseText.header(shown)?.status
        while status != "closed" {
            guard let choice = await self.io.ask(Self.caseActions)?.trimmingCharacters(in: .whitespaces) else { return }
            let request: DeskRequest
            let done: String
            switch choice {
            case "1":
                request = DeskRequest(.assignCase, [(.caseID, id)])
                done = "Case \(id) is assigned to you."
            case "2":
                guard let typed = await self.io.ask("Compliance officer's user name:"),
                    let officer = Self.entered(typed)
                else { continue }
                request = DeskRequest(.assignCase, [(.caseID, id), (.userName, officer)])
                done = "Case \(id) is assigned to \(officer)."
            case "3":
                guard let note = await self.askNote("Why escalate (a note):") else { continue }
                request = DeskRequest(.escalateCase, [(.caseID, id), (.note, note)])
                done = "Case \(id) escalated."
            case "4":
                guard let note = await self.askNote("Note:") else { continue }
                request = DeskRequest(.noteCase, [(.caseID, id), (.note, note)])
                done = "Note added to case \(id)."
            case "5":
                let typed = await self.io.ask("Disposition: F false positive  C customer contacted  R report filed:")
                guard let disposition = CaseText.disposition(typed ?? "") else {
                    self.io.show("Type F, C or R; the case was not closed.")
                    continue
                }
                guard let note = await self.askNote("Closing note:") else { continue }
                request = DeskRequest(.closeCase, [(.caseID, id), (.disposition, disposition), (.note, note)])
                done = "Case \(id) closed: \(disposition.replacingOccurrences(of: "_", with: " "))."
            case "":
                return
            default:
                self.io.show("Choose 1 to 5, or Enter to go back.")
                continue
            }
            guard let answer = try await self.perform(request) else { continue }
            guard answer[39] == "00" else {
                self.io.show(CaseText.refusal(answer, step: request.operation))
                continue
            }
            status = CaseText.tlv(answer)[.state] ?? status
            self.io.show(done + (status.map { " Status: \($0)." } ?? ""))
        }
    }

    /// A note for a case (1-500 characters): nil (and said so) when none is given.
    func askNote(_ prompt: String) async -> String? {
        guard let typed = await self.io.ask(prompt), let note = Self.entered(typed) else {
            self.io.show("Not done: a note is needed.")
            return nil
        }
        guard note.count <= 500, !note.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            self.io.show("Not done: a note is 1-500 characters on one line.")
            return nil
        }
        return note
    }
}

/// The case desk's texts, pure functions of the switch's answers (docs/protocol.md, "The compliance
/// case desk").
enum CaseText {
    /// One case of the queue: `KE` `id|severity|status|subject|name|assignee|opened|alerts|last event|rules`.
    struct Entry: Hashable {
        var parts: [String]

        init?(_ entry: String) {
            guard let parts = CaseText.fields(entry, 10) else { return nil }
            self.parts = parts
        }

        var id: String { self.parts[0] }

        func line(now: Date) -> String {
            let part = self.parts
            let who = part[5].isEmpty ? "unassigned" : "with \(part[5])"
            let alerts = part[7] == "1" ? "1 alert" : "\(part[7]) alerts"
            let rules = part[9].isEmpty ? "" : " (\(part[9].split(separator: " ").joined(separator: ", ")))"
            return "#\(part[0]) \(part[1].uppercased()) \(CaseText.age(part[6], now: now)) old  "
                + "\(part[4]) (\(part[3]))  \(part[2]), \(who), \(alerts)\(rules)"
        }
    }

    /// The case of a CASE answer: `KF` `id|severity|status|subject|opened by|opened|assignee|assigned
    /// by|closed by|closed|disposition`.
    struct Header: Hashable {
        var parts: [String]
        var status: String { self.parts[2] }

        init?(_ entry: String) {
            guard let parts = CaseText.fields(entry, 11) else { return nil }
            self.parts = parts
        }
    }

    /// An entry's `|`-separated fields, nil unless there are `count` (the last one may hold `|`).
    static func fields(_ entry: String, _ count: Int) -> [String]? {
        let parts = entry.split(separator: "|", maxSplits: count - 1, omittingEmptySubsequences: false).map(String.init)
        return parts.count == count ? parts : nil
    }

    static func tlv(_ answer: ATM87Message) -> ATM87TLV {
        answer[48].flatMap { try? ATM87TLV(parsing: $0) } ?? ATM87TLV()
    }

    static func entries(_ answer: ATM87Message) -> [Entry] {
        Self.tlv(answer).all(AdminTag.caseEntry.rawValue).compactMap(Entry.init)
    }

    static func header(_ answer: ATM87Message) -> Header? { Self.tlv(answer)[.caseHeader].flatMap(Header.init) }

    /// How long ago `opened` (YYYYMMDDhhmmss, UTC) was: `3d 4h`, `2h 10m`, `5m`.
    static func age(_ opened: String, now: Date) -> String {
        guard let date = Self.date(opened) else { return "?" }
        let minutes = max(0, Int(now.timeIntervalSince(date)) / 60)
        let (days, hours) = (minutes / 1440, minutes % 1440 / 60)
        if days > 0 { return "\(days)d \(hours)h" }
        if hours > 0 { return "\(hours)h \(minutes % 60)m" }
        return "\(minutes)m"
    }

    static func date(_ text: String) -> Date? {
        let digits = Array(text)
        guard digits.count == 14, digits.allSatisfy(\.isNumber) else { return nil }
        let part = { (range: Range<Int>) in Int(String(digits[range]))! }
        var components = DateComponents()
        (components.year, components.month, components.day) = (part(0..<4), part(4..<6), part(6..<8))
        (components.hour, components.minute, components.second) = (part(8..<10), part(10..<12), part(12..<14))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)
    }

    /// F, C or R as the disposition CASECLOSE sends; nil for anything else.
    static func disposition(_ typed: String) -> String? {
        switch typed.trimmingCharacters(in: .whitespaces).uppercased() {
        case "F": "false_positive"
        case "C": "customer_contacted"
        case "R": "report_filed"
        default: nil
        }
    }

    /// A CASE answer in words: the case, its subject, alerts (rule, score, amount), the transactions
    /// behind them and its events.
    static func file(_ answer: ATM87Message) -> String {
        let tlv = Self.tlv(answer)
        guard let head = Self.header(answer)?.parts else { return "The switch sent no case." }
        let money = { (text: String) in Int64(text).map(ScreenText.money) ?? text }
        var lines = ["Case #\(head[0]): \(head[1]) severity, \(head[2]) - \(head[3])"]
        var opened = "  opened by \(head[4]) \(DeskText.time(head[5]))"
        if !head[6].isEmpty { opened += "; assigned to \(head[6])" + (head[7].isEmpty ? "" : " by \(head[7])") }
        lines.append(opened)
        if !head[8].isEmpty {
            lines.append(
                "  closed by \(head[8]) \(DeskText.time(head[9])): \(head[10].replacingOccurrences(of: "_", with: " "))"
            )
        }
        if let customer = tlv[.customerID] {
            lines.append("  Customer \(customer) (\(tlv[.userName] ?? "?")): \(tlv[.customerName] ?? "?")")
            if let status = tlv[.kycStatus] {
                let screening = (tlv[.screening] ?? "not_screened").split(separator: "|", maxSplits: 1).map(String.init)
                lines.append(
                    "  KYC \(status), risk \(tlv[.riskRating] ?? "?"); sanctions screening: "
                        + screening[0].replacingOccurrences(of: "_", with: " ")
                        + (screening.count > 1 ? " (\(screening[1]))" : "")
                )
            }
        }
        lines.append("Alerts:")
        for alert in tlv.all(AdminTag.alert.rawValue) {
            guard let part = Self.fields(alert, 9) else { continue }
            lines.append(
                "  #\(part[0]) rule \(part[1]) (\(part[2])), score \(part[3]), \(money(part[4])) "
                    + "from \(DeskText.time(part[5])) to \(DeskText.time(part[6])): \(part[8])"
            )
            lines.append("     transactions \(part[7])")
        }
        lines.append("Transactions:")
        for transaction in tlv.all(AdminTag.caseTransaction.rawValue) {
            guard let part = Self.fields(transaction, 9) else { continue }
            var line = "  #\(part[0]) \(DeskText.time(part[1])) \(part[2]) \(money(part[3])) (\(part[4])) at \(part[5])"
            if !part[6].isEmpty { line += ", account \(part[6])" }
            if !part[7].isEmpty { line += ", card \(part[7])" }
            if part[8] == "Y" { line += ", reversed" }
            lines.append(line)
        }
        lines.append("Events:")
        for event in tlv.all(AdminTag.caseEvent.rawValue) {
            guard let part = Self.fields(event, 5) else { continue }
            lines.append(
                "  \(DeskText.time(part[0])) \(part[1]): \(part[2]) (\(part[3]))"
                    + (part[4].isEmpty ? "" : " - \(part[4])")
            )
        }
        if let left = tlv[.leftOff]?.split(separator: "|").map(String.init), left.count == 3 {
            lines.append(
                "(Not shown, for want of room: \(left[0]) alerts, \(left[1]) events, \(left[2]) transactions.)"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// A refused case request in words. A 58 with the store's reason (`KR`) to a CASECLOSE is the
    /// second-person rule of a high-severity case; a 58 without one is the role.
    static func refusal(_ answer: ATM87Message, step: AdminOperation) -> String {
        let why = Self.tlv(answer)[.refusal]
        switch answer[39] {
        case "58" where step == .closeCase && why != nil:
            return "Not closed: a high-severity case is closed by a second person, not the compliance officer who "
                + "opened or assigned it. Ask another compliance officer to close it."
        case "58" where why == nil:
            return "Your role may not work cases: the case desk is the compliance officers'."
        case "12", "58":
            return DeskText.sentence("Not done: \(why ?? answer.trimmed(44) ?? "refused")")
        default:
            return DeskText.refusal(answer)
        }
    }
}
