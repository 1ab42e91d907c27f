import ATM87
import CashpointSecurity
import CashpointTerminal
import Foundation

/// The branch desk's side of the fake switch, as docs/protocol.md says ("Staff second factor (one-time
/// codes) and four-eyes approval"), in memory: members of staff with passwords and TOTP secrets,
/// enrolment, tokens that remember when their second factor was last checked (step-up after 5 minutes),
/// and the held changes a second person approves or rejects.
struct FakeDesk {
    struct Staff {
        var password: String
        var role: String
        var secret: [UInt8]?
        var confirmed = false
        var lastStep: Int64?
        var enrolmentCode: String?
        var recovery: [String] = []
        var failed = 0
        var locked = false

        init(password: String, role: String, secret: [UInt8]? = nil, enrolmentCode: String? = nil) {
            self.password = password
            self.role = role
            self.secret = secret
            self.confirmed = secret != nil
            self.enrolmentCode = enrolmentCode
        }
    }

    struct Change {
        var id: Int
        var operation: String
        var target: String
        var maker: String
        var reason: String
        var state = "pending"
        var checker = ""
        var decision: String?
    }

    var staff: [String: Staff] = [:]
    /// The switch's clock for codes and step-up, Unix seconds.
    var now: Int64 = 1_800_000_015
    /// Staff tokens: whose, and when their second factor was last checked.
    var tokens: [String: (user: String, checked: Int64)] = [:]
    var issued = 0
    var changes: [Change] = []
    var lockedAccounts: Set<String> = []
    var balance: Int64 = 100_000
    /// What an enrolment hands out.
    var newSecret: [UInt8] = Array("12345678901234567890".utf8)
    var newRecovery = Array("23456789BC").map { "RECVR-KEYS\($0)" }
    var enrolmentCodeToIssue = "NEWST-AFF99"
    /// The first passwords of new members of staff, as the fake deciphered them.
    var staffPasswords: [String: String] = [:]
    /// The case desk's cases (FakeSwitch+Cases.swift).
    var cases: [FakeCase] = []

    static let heldNames: [AdminOperation: String] = [
        .unlockUser: "user.unlock", .unlockAccount: "account.unlock", .unlockCard: "card.unlock",
        .withdraw: "desk.withdrawal", .deposit: "desk.deposit", .setLimits: "account.limits",
        .createStaff: "staff.create", .setRole: "user.role", .enrol: "factor.reset",
    ]

    mutating func answer(_ request: ATM87Message, keys: SessionKeys, terminal: String) -> ATM87Message {
        var answer = FakeSwitch.answer(to: request, .administrativeResponse, "00")
        func finish(_ code: String, _ elements: [(AdminTag, String)] = [], reason: String? = nil) -> ATM87Message {
            try! answer.set(39, code)
            var tlv = ATM87TLV()
            for (tag, value) in elements { tlv.append(tag, value) }
            if !tlv.elements.isEmpty { try! answer.set(48, tlv.encoded) }
            // Field 44 holds 25 characters: the switch shortens its reasons so.
            if let reason { try! answer.set(44, String(reason.prefix(25))) }
            return answer
        }
        guard let tlv = request[48].flatMap({ try? ATM87TLV(parsing: $0) }), let operation = tlv.operation,
            let stan = request[11], let time = request[7]
        else { return finish("30") }
        func clear(_ tag: AdminTag) -> String?? {
            guard let hex = tlv[tag] else { return .some(nil) }
            return try? MessageBlock.decipher(
                hex,
                purpose: tag.blockPurpose!,
                key: keys.pin,
                terminal: terminal,
                stan: stan,
                transmitted: time
            )
        }
        func seal(_ text: String, _ tag: AdminTag) -> String {
            try! MessageBlock.encipher(
                text,
                purpose: tag.blockPurpose!,
                key: keys.pin,
                terminal: terminal,
                stan: stan,
                transmitted: time
            )
        }
        guard let code = clear(.oneTimeCode), let enrolment = clear(.enrolmentCode), let password = clear(.password)
        else { return finish("63", reason: "a code block does not decipher") }

        if operation == .login {
            guard let user = tlv[.userName], var member = self.staff[user] else { return finish("55") }
            defer { self.staff[user] = member }
            if member.locked { return finish("62") }
            guard password == member.password else { return finish(member.strike()) }
            if member.confirmed || (code != nil && member.secret != nil) {
                guard let code else { return finish("1A", [(.nextFactor, "OT")]) }
                let result = member.check(code, now: self.now)
                guard result == "00" else { return finish(result) }
                member.confirmed = true
                try! answer.set(62, self.issue(user))
                return finish("00", [(.role, member.role)])
            }
            guard let enrolment else { return finish("1A", [(.nextFactor, "EC")]) }
            guard enrolment == member.enrolmentCode else { return finish(member.strike()) }
            member.enrolmentCode = nil
            member.secret = self.newSecret
            member.recovery = self.newRecovery
            return finish(
                "1A",
                [
                    (.nextFactor, "OT"), (.secret, seal(Base32.encode(self.newSecret), .secret)),
                    (.recoveryCodes, seal(self.newRecovery.joined(separator: " "), .recoveryCodes)),
                ]
            )
        }

        guard let token = request[62], let session = self.tokens[token], var me = self.staff[session.user] else {
            return finish("63", reason: "token refused")
        }
        let user = session.user
        var checked = session.checked
        if let code {
            let result = me.check(code, now: self.now)
            self.staff[user] = me
            guard result == "00" else { return finish(result) }
            try! answer.set(62, self.issue(user))
            checked = self.now
        }
        let fresh = self.now - checked <= 300
        let reason = tlv[.reason]
        let admin = me.role == "admin"

        func hold(_ operation: AdminOperation, _ target: String) -> ATM87Message {
            guard fresh else { return finish("1A", [(.nextFactor, "OT")]) }
            guard let reason else { return finish("30", [(.nextFactor, "RS")]) }
            let name = Self.heldNames[operation]!
            if let pending = self.changes.first(where: {
                $0.operation == name && $0.target == target && $0.state == "pending"
            }) {
                return finish("94", [(.change, String(pending.id))], reason: "the same change is pending")
            }
            let id = self.changes.count + 1
            self.changes.append(Change(id: id, operation: name, target: target, maker: user, reason: reason))
            return finish("09", [(.change, String(id))])
        }
        func entry(_ change: Change) -> String {
            [
                String(change.id), change.state, change.operation, change.target, change.maker, "20270115080000",
                "20270116080000", change.checker, change.reason,
            ].joined(separator: "|")
        }

        switch operation {
        case .logout:
            self.tokens[token] = nil
            return finish("00")
        case .balance:
            return finish("00", [(.balance, SignedAmount.encode(self.balance))])
        case .deposit, .withdraw:
            let amount = Int64(request[4] ?? "") ?? 0
            if amount > (operation == .deposit ? 500_000 : 100_000) {
                return hold(operation, request.trimmed(102) ?? "")
            }
            self.balance += operation == .deposit ? amount : -amount
            return finish("00", [(.balance, SignedAmount.encode(self.balance)), (.authorization, "A1B2C3")])
        case .lockAccount:
            self.lockedAccounts.insert(request.trimmed(102) ?? "")
            return finish("00")
        case .unlockAccount, .setLimits:
            return hold(operation, request.trimmed(102) ?? "")
        case .unlockCard:
            return hold(operation, ATM87PrettyPrinter.maskPAN(request[2] ?? ""))
        case .unlockUser:
            return hold(operation, tlv[.userName] ?? "")
        case .createStaff, .setRole:
            guard admin else { return finish("58", reason: "an administrator's operation") }
            if operation == .createStaff, let name = tlv[.userName], let password {
                self.staffPasswords[name] = password
            }
            return hold(operation, tlv[.userName] ?? "")
        case .enrol:
            guard admin else { return finish("58", reason: "an administrator's operation") }
            guard let name = tlv[.userName], var member = self.staff[name] else {
                return finish("12", reason: "no such member of staff")
            }
            if member.confirmed { return hold(operation, name) }
            member.enrolmentCode = self.enrolmentCodeToIssue
            self.staff[name] = member
            return finish("00", [(.enrolmentCode, seal(self.enrolmentCodeToIssue, .enrolmentCode))])
        case .kyc:
            guard me.role == "compliance" || admin else { return finish("58", reason: "not permitted") }
            return finish(
                "00",
                [
                    (.customerID, tlv[.customerID] ?? "?"), (.userName, "pat"), (.customerName, "Pat Pending"),
                    (.birthDate, "20010530"), (.nationality, "GB"), (.address, "21 New Street"),
                    (.maskedDocument, "passport GB ****8452"), (.politicallyExposed, "N"), (.kycStatus, "pending"),
                    (.riskRating, "low"), (.screening, "not_screened"), (.riskReason, "no risk factor"),
                ]
            )
        case .verify:
            guard me.role == "compliance" else { return finish("58", reason: "not permitted") }
            guard fresh else { return finish("1A", [(.nextFactor, "OT")]) }
            guard reason != nil else { return finish("30", [(.nextFactor, "RS")]) }
            return finish("00")
        case .cases, .showCase, .assignCase, .escalateCase, .noteCase, .closeCase, .openCase:
            let (code, elements, why) = self.caseAnswer(operation, tlv, user: user, role: me.role, fresh: fresh)
            return finish(code, elements, reason: why)
        case .pendingChanges:
            let state = tlv[.state] ?? "pending"
            let listed = self.changes.reversed().filter { state == "all" || $0.state == state }
            return finish("00", listed.map { (.changeEntry, entry($0)) })
        case .showChange:
            guard let id = tlv[.change].flatMap(Int.init), let change = self.changes.first(where: { $0.id == id })
            else {
                return finish("12", reason: "no such change")
            }
            var elements: [(AdminTag, String)] = [
                (.changeEntry, entry(change)), (.before, "\(change.target): locked"),
                (.after, "\(change.target): open"),
                (.reason, change.reason),
            ]
            if let decision = change.decision { elements.append((.decisionReason, decision)) }
            return finish("00", elements)
        case .approveChange, .rejectChange:
            guard fresh else { return finish("1A", [(.nextFactor, "OT")]) }
            guard let id = tlv[.change].flatMap(Int.init), let index = self.changes.firstIndex(where: { $0.id == id })
            else { return finish("12", reason: "no such change") }
            let change = self.changes[index]
            guard change.state == "pending" else { return finish("12", reason: "the change is \(change.state)") }
            guard change.maker != user else { return finish("58", reason: "the maker cannot check their own change") }
            if operation == .rejectChange {
                guard let reason else { return finish("30", [(.nextFactor, "RS")]) }
                self.changes[index].state = "rejected"
                self.changes[index].checker = user
                self.changes[index].decision = reason
                return finish("00")
            }
            self.changes[index].state = "applied"
            self.changes[index].checker = user
            switch change.operation {
            case "account.unlock": self.lockedAccounts.remove(change.target)
            case "user.unlock": self.staff[change.target]?.locked = false
            case "factor.reset":
                self.staff[change.target]?.enrolmentCode = self.enrolmentCodeToIssue
                return finish("00", [(.enrolmentCode, seal(self.enrolmentCodeToIssue, .enrolmentCode))])
            default: break
            }
            return finish("00")
        default:
            return finish("00")
        }
    }

    mutating func issue(_ user: String) -> String {
        self.issued += 1
        let token = "staff-token-\(self.issued)"
        self.tokens[token] = (user, self.now)
        return token
    }
}

extension FakeDesk.Staff {
    /// A wrong password or code: one more try, locked at five.
    mutating func strike() -> String {
        self.failed += 1
        self.locked = self.failed >= 5
        return self.locked ? "62" : "55"
    }

    /// A one-time code (or a recovery code) checked as the switch does: once per time step, one step
    /// either side; a recovery code once.
    mutating func check(_ code: String, now: Int64) -> String {
        if let recovery = RecoveryCodes.normalize(code), let index = self.recovery.firstIndex(of: recovery) {
            self.recovery.remove(at: index)
            self.failed = 0
            return "00"
        }
        guard let secret = self.secret, let step = OneTimePassword.matchingStep(code, secret: secret, at: now) else {
            return self.strike()
        }
        guard step > (self.lastStep ?? -1) else { return "63" }
        self.lastStep = step
        self.failed = 0
        return "00"
    }
}
