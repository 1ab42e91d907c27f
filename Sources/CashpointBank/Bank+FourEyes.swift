import ATM87
import CashpointSecurity
import Foundation
import NIOPosix

/// What a staff request brings for four eyes: the maker's reason (`RS`) and whether their second
/// factor was checked within the step-up window (the token's `fa`, or a code in the request).
public struct FourEyesRequest: Sendable, Hashable {
    public var reason: String?
    public var factorIsFresh: Bool

    public init(reason: String?, factorIsFresh: Bool) {
        self.reason = reason
        self.factorIsFresh = factorIsFresh
    }

    /// A reason is 1-200 printable characters.
    public static func isValidReason(_ text: String) -> Bool {
        (1...200).contains(text.count) && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F }
    }
}

// MARK: Four eyes (maker-checker)

extension Bank {
    /// Holds a high-risk operation the database refused without an approved change: a fresh second
    /// factor and a reason first (1A / 30 with `NF`), then `bank.request_change` (09 and its id; 94 for
    /// a duplicate; 58 for the maker's own user).
    func hold(
        _ operation: StaffOperation,
        by staff: StaffMember,
        key: IdempotencyKey,
        ip: String?,
        fourEyes: FourEyesRequest
    ) async throws -> BankAnswer {
        guard let change = try await self.changeRequest(for: operation, by: staff, key: key) else {
            return .refused(.notPermittedToTerminal)
        }
        guard fourEyes.factorIsFresh else {
            return .needs(.code, .additionalAuthenticationRequired, reason: "step-up: one-time code")
        }
        guard let reason = fourEyes.reason else {
            return .needs(.reason, .formatError, reason: "held: reason (RS) needed")
        }
        guard FourEyesRequest.isValidReason(reason) else {
            return .refused(.formatError)
        }
        let answer = try await self.records.requestChange(
            actor: self.checkerContext(staff, device: key.terminal, ip: ip),
            change: change,
            reason: reason
        )
        var result = BankAnswer(code: answer.code, reason: answer.detail)
        result.changeID = answer.changeID
        return result
    }

    /// The change a held operation becomes: the four-eyes table's name, the target and the values.
    func changeRequest(for operation: StaffOperation, by staff: StaffMember, key: IdempotencyKey) async throws
        -> ChangeRequest?
    {
        switch operation {
        case .unlockUser(let name): return ChangeRequest(operation: "user.unlock", target: name, payload: [:])
        case .unlockAccount(let account): return ChangeRequest(operation: "account.unlock", target: account, payload: [:])
        case .unlockCard(let pan):
            return ChangeRequest(
                operation: "card.unlock",
                target: Hex.lowercase(self.hasher.panDigest(pan)),
                payload: ["masked_pan": ATM87PrettyPrinter.maskPAN(pan)]
            )
        case .changeRole(let name, let role):
            return ChangeRequest(operation: "user.role", target: name, payload: ["role": role.rawValue])
        case .setLimits(let account, let limit, let count):
            return ChangeRequest(
                operation: "account.limits",
                target: account,
                payload: ["daily_limit": limit.map(String.init), "daily_count": count.map(String.init)]
            )
        case .enrolStaff(let name): return ChangeRequest(operation: "factor.reset", target: name, payload: [:])
        case .createStaff(let name, let fullName, let role, let password):
            let hash = try await self.threadPool.runIfActive { [hasher] in
                try hasher.hashPassword(userName: name, password: password)
            }
            return ChangeRequest(
                operation: "staff.create",
                target: name,
                payload: ["full_name": fullName, "role": role.rawValue, "password_hash": hash]
            )
        case .withdrawal(let account, let amount), .deposit(let account, let amount):
            let kind: PostingKind = if case .deposit = operation { .deposit } else { .withdrawal }
            let digest = Self.requestDigest(
                kind,
                amount: amount,
                subject: "staff:\(staff.userName)",
                from: kind == .withdrawal ? account : nil,
                to: kind == .deposit ? account : nil
            )
            return ChangeRequest(
                operation: "desk.\(kind.rawValue)",
                target: "\(account)|\(amount)",
                payload: [
                    "amount": String(amount), "terminal": key.terminal, "stan": key.stan,
                    "transmitted": key.transmitted, "digest": Hex.lowercase(digest),
                ]
            )
        case .decideKYC(let customerID, .verified, let reason):
            return try await self.kycChange(
                customerID,
                reason: reason,
                actor: self.checkerContext(staff, device: key.terminal, ip: nil)
            )
        default:
            return nil
        }
    }

    /// APPROVE: a second member of staff applies a held change (`bank.approve_change`, one transaction).
    /// A factor reset's answer carries the new enrolment code, once.
    public func approveChange(_ id: Int64, by staff: StaffMember, device: String, ip: String?, factorIsFresh: Bool)
        async throws -> BankAnswer
    {
        if let refusal = try await self.mayReview(staff, action: "change.approve", device: device, ip: ip) {
            return refusal
        }
        guard factorIsFresh else {
            return .needs(.code, .additionalAuthenticationRequired, reason: "step-up: one-time code")
        }
        var generator = SystemRandomNumberGenerator()
        let enrolmentCode = RecoveryCodes.generate(count: 1, using: &generator)[0]
        let approval = try await self.records.approveChange(
            actor: self.checkerContext(staff, device: device, ip: ip),
            id: id,
            enrolmentDigest: self.hasher.enrolmentCodeDigest(enrolmentCode)
        )
        var answer = BankAnswer(code: approval.code, balance: approval.balance, authCode: approval.authCode)
        answer.reason = approval.detail
        answer.changeID = id
        if approval.code.isApproved, approval.operation == "factor.reset" { answer.enrolmentCode = enrolmentCode }
        return answer
    }

    /// REJECT: a second member of staff refuses a held change, with a reason.
    public func rejectChange(_ id: Int64, reason: String, by staff: StaffMember, device: String, ip: String?, factorIsFresh: Bool)
        async throws -> BankAnswer
    {
        if let refusal = try await self.mayReview(staff, action: "change.reject", device: device, ip: ip) {
            return refusal
        }
        guard factorIsFresh else {
            return .needs(.code, .additionalAuthenticationRequired, reason: "step-up: one-time code")
        }
        guard FourEyesRequest.isValidReason(reason) else {
            return .needs(.reason, .formatError, reason: "reason (RS) needed")
        }
        let answer = try await self.records.rejectChange(
            actor: self.checkerContext(staff, device: device, ip: ip),
            id: id,
            reason: reason
        )
        var result = BankAnswer(code: answer.code, reason: answer.detail)
        result.changeID = id
        return result
    }

    /// PENDING / CHANGE: held changes in one state (`all`: every state), newest first.
    public func listChanges(
        state: String,
        beforeID: Int64?,
        limit: Int,
        by staff: StaffMember,
        device: String,
        ip: String?
    ) async throws -> BankAnswer {
        if let refusal = try await self.mayReview(staff, action: "changes.list", device: device, ip: ip) {
            return refusal
        }
        let states: Set<String> = ["pending", "approved", "applied", "rejected", "expired", "failed", "all"]
        guard states.contains(state) else { return .refused(.formatError) }
        var answer = BankAnswer(code: .approved)
        answer.changes = try await self.records.listChanges(
            actor: self.checkerContext(staff, device: device, ip: ip),
            state: state,
            beforeID: beforeID,
            limit: limit
        )
        return answer
    }

    /// The permission table's word on reviewing changes (teller and admin; a refusal is audited).
    func mayReview(_ staff: StaffMember, action: String, device: String, ip: String?) async throws -> BankAnswer? {
        guard case .deny(let code) = Permissions.decide(role: staff.role, operation: .reviewChanges, ownership: .notApplicable)
        else { return nil }
        return try await self.refuse(
            code,
            operation: action,
            actor: .staff(staff.role, name: staff.userName, device: device, ip: ip),
            details: [:]
        )
    }

    /// A staff actor with their user id: the four-eyes functions tell the maker from the checker by it.
    func checkerContext(_ staff: StaffMember, device: String?, ip: String?) -> ActorContext {
        var actor = ActorContext.staff(staff.role, name: staff.userName, device: device, ip: ip)
        actor.userID = staff.userID
        return actor
    }
}
