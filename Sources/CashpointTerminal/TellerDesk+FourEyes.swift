import ATM87
import CashpointSecurity
import Foundation

// The desk's four-eyes screens: changes waiting for a second person (view, approve, reject), the
// member of staff's own requests, and the operations that are always held (daily limits, new staff,
// a role) or are an administrator's (an enrolment code).
extension TellerDesk {
    /// PENDING: the changes waiting for approval; one chosen is shown (CHANGE: before -> after, the
    /// maker's reason) and approved (APPROVE) or rejected with a reason (REJECT).
    func pendingApprovals() async throws {
        guard let answer = try await self.perform(DeskRequest(.pendingChanges, [(.state, "pending"), (.limit, "20")]))
        else { return }
        guard answer[39] == "00" else {
            self.io.show(DeskText.refusal(answer))
            return
        }
        let changes = DeskText.changes(answer)
        guard !changes.isEmpty else {
            self.io.show("No change is waiting for approval.")
            return
        }
        self.io.show((["Waiting for a second person:"] + changes.map { "  " + $0.line }).joined(separator: "\n"))
        guard let typed = await self.io.ask("Change to check (its number; Enter: back):"),
            let chosen = Self.entered(typed)
        else { return }
        let id = chosen.hasPrefix("#") ? String(chosen.dropFirst()) : chosen
        guard !id.isEmpty, id.allSatisfy(\.isNumber) else {
            self.io.show("Type a change's number, such as \(changes[0].id).")
            return
        }
        guard let shown = try await self.perform(DeskRequest(.showChange, [(.change, id)])) else { return }
        guard shown[39] == "00" else {
            self.io.show(DeskText.refusal(shown))
            return
        }
        self.io.show(DeskText.details(shown))
        let decision = await self.io.ask("A approve  R reject  Enter: back:")?.trimmingCharacters(in: .whitespaces)
        switch decision?.uppercased() {
        case "A":
            let approved = try await self.perform(DeskRequest(.approveChange, [(.change, id)]))
            self.report(approved, checking: true) { tlv in
                var text = "Change \(id) approved and applied."
                if let balance = tlv[.balance] { text += " Balance after: \(Self.signed(balance))." }
                if let authorization = tlv[.authorization] { text += " Authorization \(authorization)." }
                return text
            }
            if let approved, approved[39] == "00" { self.showEnrolmentCode(approved, for: nil) }
        case "R":
            guard let typed = await self.io.ask("Reason for rejecting:"), let reason = Self.entered(typed) else {
                self.io.show("Not rejected: a rejection needs a reason.")
                return
            }
            let rejected = try await self.perform(DeskRequest(.rejectChange, [(.change, id)], reason: reason))
            self.report(rejected, checking: true) { _ in "Change \(id) rejected." }
        default:
            return
        }
    }

    /// The changes this member of staff asked for, in every state.
    func myRequests() async throws {
        guard let answer = try await self.perform(DeskRequest(.pendingChanges, [(.state, "all"), (.limit, "50")]))
        else { return }
        guard answer[39] == "00" else {
            self.io.show(DeskText.refusal(answer))
            return
        }
        let mine = DeskText.changes(answer).filter { $0.maker == self.user }
        guard !mine.isEmpty else {
            self.io.show("You have asked for no change lately.")
            return
        }
        self.io.show((["Your requests (newest first):"] + mine.map { "  " + $0.line }).joined(separator: "\n"))
    }

    /// LIMITS: an account's daily withdrawal amount and count; always held for a second person.
    func dailyLimits() async throws {
        guard let account = await self.io.ask("Account:"),
            let amountText = await self.io.ask("Daily withdrawal amount (Enter: unchanged):"),
            let countText = await self.io.ask("Daily number of withdrawals (Enter: unchanged):")
        else { return }
        var elements: [(AdminTag, String)] = []
        if let typed = Self.entered(amountText) {
            guard let amount = ScreenText.parseAmount(typed) else {
                self.io.show("Type an amount such as 500 or 250.50.")
                return
            }
            elements.append((.dailyAmountLimit, String(amount)))
        }
        if let typed = Self.entered(countText) {
            guard let count = Int(typed), (0...999).contains(count) else {
                self.io.show("Type a whole number of withdrawals, such as 5.")
                return
            }
            elements.append((.dailyCountLimit, String(count)))
        }
        guard !elements.isEmpty else {
            self.io.show("Nothing to change.")
            return
        }
        guard let reason = await self.askReason() else { return }
        let answer = try await self.perform(DeskRequest(.setLimits, elements, fields: [102: account], reason: reason))
        self.report(answer) { _ in "The daily limits of \(account) are changed." }
    }

    /// ENROL (an administrator's): a one-time enrolment code for a member of staff without a second
    /// factor, shown here once to hand over; for one who has a factor it is a reset, held for a second
    /// administrator (the switch asks for a reason).
    func enrolStaff() async throws {
        guard let typed = await self.io.ask("User name to enrol:"), let user = Self.entered(typed) else { return }
        guard let answer = try await self.perform(DeskRequest(.enrol, [(.userName, user)])) else { return }
        guard answer[39] == "00" else {
            self.report(answer) { _ in "" }
            return
        }
        self.showEnrolmentCode(answer, for: user)
    }

    /// STAFF (an administrator's): a new teller, administrator or compliance officer with a first password; always held.
    func newStaff() async throws {
        guard let userTyped = await self.io.ask("User name of the new member of staff:"),
            let user = Self.entered(userTyped),
            let nameTyped = await self.io.ask("Full name:"), let name = Self.entered(nameTyped),
            let roleTyped = await self.io.ask("Role (teller, admin or compliance):")
        else { return }
        let role = roleTyped.trimmingCharacters(in: .whitespaces).lowercased()
        guard ["teller", "admin", "compliance"].contains(role) else {
            self.io.show("The role is teller, admin or compliance.")
            return
        }
        guard let password = await self.io.askSecret("First password:"),
            let again = await self.io.askSecret("The same password again:")
        else { return }
        guard password == again, !password.isEmpty else {
            self.io.show("The two passwords differ (or are empty); nothing was asked for.")
            return
        }
        guard let reason = await self.askReason() else { return }
        let answer = try await self.perform(
            DeskRequest(
                .createStaff,
                [(.userName, user), (.customerName, name), (.role, role)],
                secrets: [(.password, password)],
                reason: reason
            )
        )
        self.report(answer) { _ in "\(user) created as \(role); an administrator enrols their second factor next." }
    }

    /// ROLE (an administrator's): a user's role; always held.
    func changeRole() async throws {
        guard let userTyped = await self.io.ask("User name:"), let user = Self.entered(userTyped),
            let roleTyped = await self.io.ask("New role (customer, teller, admin or compliance):")
        else { return }
        let role = roleTyped.trimmingCharacters(in: .whitespaces).lowercased()
        guard ["customer", "teller", "admin", "compliance"].contains(role) else {
            self.io.show("The role is customer, teller, admin or compliance.")
            return
        }
        guard let reason = await self.askReason() else { return }
        let answer = try await self.perform(DeskRequest(.setRole, [(.userName, user), (.role, role)], reason: reason))
        self.report(answer) { _ in "\(user) is now \(role)." }
    }

    /// The enrolment code of an ENROL's 0610 (or of an approved factor reset), deciphered and shown
    /// once for the administrator to hand over.
    func showEnrolmentCode(_ answer: ATM87Message, for user: String?) {
        let code: String?
        do {
            code = try self.session.reveal(.enrolmentCode, in: answer)
        } catch {
            self.io.show("The enrolment code could not be read (\(error)).")
            return
        }
        guard let code else {
            if user != nil { self.io.show("The switch sent no enrolment code.") }
            return
        }
        self.io.show(
            """
            ---- ENROLMENT CODE\(user.map { " for \($0)" } ?? "") (shown once) ----
              \(code)
            Hand it to the user; valid 24 hours, once. They sign on with it and their password.
            """
        )
    }
}

/// The desk's texts that are pure functions of an answer: held changes as lines, a change's details,
/// readable refusals, a secret grouped for reading.
enum DeskText {
    /// One held change: `CG` `id|state|operation|target|maker|requested|expires|checker|reason`.
    struct Change: Hashable {
        var id: String
        var state: String
        var operation: String
        var target: String
        var maker: String
        var requested: String
        var expires: String
        var checker: String
        var reason: String

        init?(_ entry: String) {
            // The reason is free text and comes last: it may hold `|`.
            let parts = entry.split(separator: "|", maxSplits: 8, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 9 else { return nil }
            (self.id, self.state, self.operation, self.target, self.maker) = (
                parts[0], parts[1], parts[2], parts[3], parts[4]
            )
            (self.requested, self.expires, self.checker, self.reason) = (parts[5], parts[6], parts[7], parts[8])
        }

        var line: String {
            var text =
                "#\(self.id) \(self.operation) \(self.target), asked by \(self.maker) \(DeskText.time(self.requested))"
            if self.state == "pending" {
                text += " (expires \(DeskText.time(self.expires)))"
            } else {
                text += ": \(self.state)" + (self.checker.isEmpty ? "" : " by \(self.checker)")
            }
            return text + "; reason: \(self.reason)"
        }
    }

    /// The changes listed in a PENDING answer, as the switch sent them (newest first).
    static func changes(_ answer: ATM87Message) -> [Change] {
        let tlv = answer[48].flatMap { try? ATM87TLV(parsing: $0) } ?? ATM87TLV()
        return tlv.all(AdminTag.changeEntry.rawValue).compactMap(Change.init)
    }

    /// A CHANGE answer: the change, its state before -> after, the maker's and the checker's reasons.
    static func details(_ answer: ATM87Message) -> String {
        let tlv = answer[48].flatMap { try? ATM87TLV(parsing: $0) } ?? ATM87TLV()
        guard let change = tlv[.changeEntry].flatMap(Change.init) else { return "The switch sent no change." }
        var lines = [
            "Change #\(change.id): \(change.operation) of \(change.target), \(change.state)",
            "  asked by \(change.maker) \(DeskText.time(change.requested)); expires \(DeskText.time(change.expires))",
            "  before: \(tlv[.before] ?? "?")",
            "  after:  \(tlv[.after] ?? "?")",
            "  reason: \(tlv[.reason] ?? change.reason)",
        ]
        if !change.checker.isEmpty { lines.append("  checked by \(change.checker)") }
        if let decision = tlv[.decisionReason], !decision.isEmpty { lines.append("  checker's reason: \(decision)") }
        return lines.joined(separator: "\n")
    }

    /// `YYYYMMDDhhmmss` (UTC) as `2026-12-07 10:00 UTC`; anything else as it is.
    static func time(_ text: String) -> String {
        let digits = Array(text)
        guard digits.count == 14, digits.allSatisfy(\.isNumber) else { return text }
        let part = { (range: Range<Int>) in String(digits[range]) }
        return "\(part(0..<4))-\(part(4..<6))-\(part(6..<8)) \(part(8..<10)):\(part(10..<12)) UTC"
    }

    /// A secret in groups of four, as authenticator apps show one to type.
    static func grouped(_ text: String) -> String {
        var groups: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            groups.append(String(rest.prefix(4)))
            rest = rest.dropFirst(4)
        }
        return groups.joined(separator: " ")
    }

    /// A full stop, unless the text ends in a shortened reason's dots.
    static func sentence(_ text: String) -> String { text.hasSuffix("...") ? text : text + "." }

    /// A refusal in words: the switch's reason (field 44) where it gave one. `checking`: the answer
    /// to an APPROVE or REJECT, whose 58 means this member of staff may not check that change.
    static func refusal(_ answer: ATM87Message, checking: Bool = false) -> String {
        // Field 44 holds 25 characters: a reason that fills it was shortened by the switch.
        let reason = answer.trimmed(44).flatMap { $0.isEmpty ? nil : $0.count >= 25 ? $0 + "..." : $0 }
        let tlv = answer[48].flatMap { try? ATM87TLV(parsing: $0) } ?? ATM87TLV()
        switch answer[39] {
        case "58" where checking:
            return Self.sentence("You may not check this change: \(reason ?? "not permitted")")
        case "58":
            return "Your role may not do this." + (reason.map { " (\($0))" } ?? "")
        case "94" where tlv[.change] != nil:
            return "The same change already waits for approval as change \(tlv[.change] ?? "?")."
        case "12" where reason != nil:
            return Self.sentence("Not done: \(reason ?? "")")
        case "63":
            return "Security check failed (your session or code was refused). Sign on again if it persists."
        case "1K":
            return "The customer is not verified yet (know your customer): no money out until a compliance "
                + "officer verifies them; deposits are taken."
        default:
            var text = ScreenText.refusal(answer[39])
            if let reason { text += " (\(reason))" }
            return text
        }
    }
}
