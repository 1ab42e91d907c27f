public import CashpointSecurity
import Foundation
import NIOPosix

// MARK: Staff sign-on with a second factor

extension Bank {
    /// A teller's or administrator's sign-on: the password, then the second factor (a TOTP code or a
    /// recovery code in `oneTimeCode`), or for a user without one an enrolment code. Wrong passwords and
    /// wrong codes count together: five in a row (bank.settings) lock the user; only a second person
    /// unlocks (four eyes). The code's time step is stored in the statement that accepts it
    /// (bank.record_staff_login), so a code is used once on every switch instance.
    public func loginStaff(
        userName: String,
        password: String,
        oneTimeCode: String? = nil,
        enrolmentCode: String? = nil,
        device: String,
        ip: String?
    ) async throws -> StaffLogin {
        let actor = ActorContext(role: .system, userID: nil, name: userName, device: device, ip: ip)
        guard let staff = try await self.records.staff(userName: userName) else {
            try await self.records.audit(
                actor: actor,
                action: "login.unknown",
                outcome: ResponseCode.wrongPIN.rawValue,
                details: [:]
            )
            return .refused(.wrongPIN)
        }
        if staff.locked {
            try await self.records.audit(
                actor: actor,
                action: "login.locked",
                outcome: ResponseCode.restricted.rawValue,
                details: [:]
            )
            return .refused(.restricted)
        }
        let hash = staff.hash
        let ok = try await self.threadPool.runIfActive { [hasher] in
            hasher.verifyPassword(userName: userName, password: password, against: hash)
        }
        guard ok else {
            return .refused(
                try await self.records.recordStaffLogin(
                    userID: staff.userID,
                    passwordOK: false,
                    factor: .missing,
                    actor: actor
                )
            )
        }
        let member = StaffMember(userID: staff.userID, userName: userName, role: staff.role)
        let factor = try await self.records.staffFactor(userID: staff.userID)
        if factor?.confirmed != true, oneTimeCode == nil, let enrolmentCode {
            return try await self.startEnrolment(member, enrolmentCode: enrolmentCode, actor: actor)
        }
        guard let factor, let oneTimeCode else {
            let code = try await self.records.recordStaffLogin(
                userID: staff.userID,
                passwordOK: true,
                factor: .missing,
                actor: actor
            )
            guard code == .additionalAuthenticationRequired else { return .refused(code) }
            // A user whose enrolment has begun has the secret; one without needs an enrolment code.
            return .needs(factor == nil ? .enrolmentCode : .code)
        }
        let outcome = try await self.factorOutcome(of: oneTimeCode, factor: factor, staff: member)
        let code = try await self.records.recordStaffLogin(
            userID: staff.userID,
            passwordOK: true,
            factor: outcome,
            actor: actor
        )
        return code.isApproved ? .approved(member) : .refused(code)
    }

    /// Step-up: a signed-on member of staff's fresh one-time code, checked as at sign-on (used once; a
    /// wrong one counts toward the lockout). 00, or the refusal's code.
    public func stepUp(_ staff: StaffMember, oneTimeCode: String, device: String, ip: String?) async throws -> ResponseCode {
        let actor = ActorContext(role: .system, userID: nil, name: staff.userName, device: device, ip: ip)
        guard let factor = try await self.records.staffFactor(userID: staff.userID), factor.confirmed else {
            try await self.records.audit(
                actor: actor,
                action: "factor.refused",
                outcome: ResponseCode.securityViolation.rawValue,
                details: ["reason": "no second factor enrolled"]
            )
            return .securityViolation
        }
        let outcome = try await self.factorOutcome(of: oneTimeCode, factor: factor, staff: staff)
        return try await self.records.recordStaffLogin(userID: staff.userID, passwordOK: nil, factor: outcome, actor: actor)
    }

    /// What a typed code is: a recovery code (matched by bcrypt against the unused ones) or a TOTP code
    /// (its time step within one step either side of now, on the injected clock).
    func factorOutcome(of typed: String, factor: StaffFactorRecord, staff: StaffMember) async throws -> FactorOutcome {
        if factor.confirmed, let recovery = RecoveryCodes.normalize(typed) {
            let codes = try await self.records.recoveryCodes(userID: staff.userID)
            let userName = staff.userName
            let match = try await self.threadPool.runIfActive { [hasher] in
                codes.first { hasher.verifyRecoveryCode(userName: userName, code: recovery, against: $0.hash) }?.id
            }
            return match.map { .recovery(id: $0) } ?? .wrong
        }
        let secret = try self.factorKey().openFactorSecret(factor.sealedSecret, userID: staff.userID)
        let now = Int64(self.now().timeIntervalSince1970.rounded(.down))
        guard let step = OneTimePassword.matchingStep(typed, secret: secret, at: now, parameters: factor.parameters)
        else { return .wrong }
        return .right(step: step)
    }

    /// A right password and enrolment code: a new secret and ten recovery codes, stored (the secret
    /// sealed, the codes as bcrypt hashes) unconfirmed; a wrong or spent enrolment code is a wrong try.
    func startEnrolment(_ staff: StaffMember, enrolmentCode: String, actor: ActorContext) async throws -> StaffLogin {
        guard let typed = RecoveryCodes.normalize(enrolmentCode) else {
            return .refused(
                try await self.records.recordStaffLogin(userID: staff.userID, passwordOK: true, factor: .wrong, actor: actor)
            )
        }
        var generator = SystemRandomNumberGenerator()
        let secret = OneTimePassword.newSecret(using: &generator)
        let recovery = RecoveryCodes.generate(count: 10, using: &generator)
        let userName = staff.userName
        let hashes = try await self.threadPool.runIfActive { [hasher] in
            try recovery.map { try hasher.hashRecoveryCode(userName: userName, code: $0) }
        }
        let started = try await self.records.startEnrolment(
            userID: staff.userID,
            codeDigest: self.hasher.enrolmentCodeDigest(typed),
            sealedSecret: try self.factorKey().sealFactorSecret(secret, userID: staff.userID),
            parameters: .standard,
            recoveryHashes: hashes,
            actor: actor
        )
        guard started else {
            return .refused(
                try await self.records.recordStaffLogin(userID: staff.userID, passwordOK: true, factor: .wrong, actor: actor)
            )
        }
        return .enrolment(secret: secret, parameters: .standard, recoveryCodes: recovery)
    }

    /// ENROL: a one-time enrolment code for a member of staff, to hand to them. For one who has a
    /// confirmed second factor the database refuses it unless a `factor.reset` change is approved:
    /// `perform` then holds it.
    func issueEnrolmentCode(for userName: String, by staff: StaffMember, actor: ActorContext) async throws -> BankAnswer {
        var generator = SystemRandomNumberGenerator()
        let code = RecoveryCodes.generate(count: 1, using: &generator)[0]
        var withUser = actor
        withUser.userID = staff.userID
        let (answer, detail) = try await self.records.issueEnrolmentCode(
            actor: withUser,
            userName: userName,
            codeDigest: self.hasher.enrolmentCodeDigest(code)
        )
        var result = BankAnswer(code: answer, reason: detail)
        if answer.isApproved { result.enrolmentCode = code }
        return result
    }

    /// Seeds a member of staff's second factor with a known secret (the demo bank's fixtures):
    /// confirmed at once, with the given recovery codes.
    public func seedStaffFactor(userName: String, secret: [UInt8], parameters: OTPParameters, recoveryCodes: [String])
        async throws
    {
        guard let staff = try await self.records.staff(userName: userName) else {
            throw StoreError(kind: .notFound, detail: "no member of staff \(userName)")
        }
        let hashes = try await self.threadPool.runIfActive { [hasher] in
            try recoveryCodes.map { try hasher.hashRecoveryCode(userName: userName, code: $0) }
        }
        try await self.records.seedStaffFactor(
            userName: userName,
            sealedSecret: try self.factorKey().sealFactorSecret(secret, userID: staff.userID),
            parameters: parameters,
            recoveryHashes: hashes
        )
    }

    func factorKey() throws -> SwitchKey {
        guard let switchKey = self.switchKey else {
            throw StoreError(kind: .unavailable, detail: "the bank was started without the switch key: no second factor")
        }
        return switchKey
    }
}
