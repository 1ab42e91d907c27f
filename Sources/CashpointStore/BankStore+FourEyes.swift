public import CashpointBank
public import CashpointSecurity
import CashpointDatabase
import Foundation
import NIOCore
import PostgresNIO

// The second factor and the four-eyes changes: one SQL function each (Migrations/functions).
extension BankStore {
    public func staffFactor(userID: Int64) async throws -> StaffFactorRecord? {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT sealed_secret, algorithm, digits, confirmed, last_step FROM bank.staff_factor(\(userID))",
                logger: self.logger
            )
            for try await (sealed, algorithm, digits, confirmed, step) in rows.decode(
                (ByteBuffer, String, Int, Bool, Int64?).self
            ) {
                guard let algorithm = OTPAlgorithm(rawValue: algorithm),
                    let parameters = OTPParameters(algorithm: algorithm, digits: digits, period: 30)
                else {
                    throw StoreError(kind: .invalidValue, detail: "staff factor: \(algorithm) with \(digits) digits")
                }
                return StaffFactorRecord(
                    sealedSecret: Array(buffer: sealed),
                    parameters: parameters,
                    confirmed: confirmed,
                    lastStep: step
                )
            }
            return nil
        }
    }

    public func recoveryCodes(userID: Int64) async throws -> [(id: Int64, hash: String)] {
        try await self.retrying {
            let rows = try await self.client.query(
                "SELECT code_id, code_hash FROM bank.staff_recovery_codes(\(userID))",
                logger: self.logger
            )
            var codes: [(id: Int64, hash: String)] = []
            for try await (id, hash) in rows.decode((Int64, String).self) { codes.append((id, hash)) }
            return codes
        }
    }

    public func recordStaffLogin(
        userID: Int64,
        passwordOK: Bool?,
        factor: FactorOutcome,
        actor: ActorContext
    ) async throws -> ResponseCode {
        let (outcome, step, recovery): (String, Int64?, Int64?) =
            switch factor {
            case .missing: ("missing", nil, nil)
            case .right(let step): ("right", step, nil)
            case .recovery(let id): ("recovery", nil, id)
            case .wrong: ("wrong", nil, nil)
            }
        return try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.record_staff_login_committed(\(userID), \(passwordOK), \(outcome), \(step),
                    \(recovery), \(actor.name), \(actor.ip), \(actor.device))
                """,
                logger: self.logger
            )
            for try await code in rows.decode(String.self) { return ResponseCode(rawValue: code) }
            throw StoreError(kind: .unavailable, detail: "CALL bank.record_staff_login_committed returned no row")
        }
    }

    public func startEnrolment(
        userID: Int64,
        codeDigest: [UInt8],
        sealedSecret: [UInt8],
        parameters: OTPParameters,
        recoveryHashes: [String],
        actor: ActorContext
    ) async throws -> Bool {
        try await self.scalar(
            """
            CALL bank.start_enrolment_committed(\(userID), \(ByteBuffer(bytes: codeDigest)),
                \(ByteBuffer(bytes: sealedSecret)),
                \(parameters.algorithm.rawValue), \(parameters.digits)::int, \(recoveryHashes)::text[],
                \(actor.name), \(actor.ip), \(actor.device))
            """
        )
    }

    public func issueEnrolmentCode(
        actor: ActorContext,
        userName: String,
        codeDigest: [UInt8]
    ) async throws -> (ResponseCode, String?) {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.issue_enrolment_code_committed(\(actor.role.rawValue), \(actor.userID),
                    \(actor.name), \(actor.ip), \(actor.device), \(userName), \(ByteBuffer(bytes: codeDigest)))
                """,
                logger: self.logger
            )
            for try await (code, detail) in rows.decode((String, String?).self) {
                return (ResponseCode(rawValue: code), detail)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.issue_enrolment_code_committed returned no row")
        }
    }

    public func seedStaffFactor(
        userName: String,
        sealedSecret: [UInt8],
        parameters: OTPParameters,
        recoveryHashes: [String]
    ) async throws {
        let _: Int64 = try await self.scalar(
            """
            SELECT bank.seed_staff_factor(\(userName), \(ByteBuffer(bytes: sealedSecret)), \(parameters.algorithm.rawValue),
                \(parameters.digits)::int, \(recoveryHashes)::text[])
            """
        )
    }

    public func requestChange(actor: ActorContext, change: ChangeRequest, reason: String) async throws -> ChangeAnswer {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.request_change_committed(\(actor.role.rawValue), \(actor.userID),
                    \(actor.name), \(actor.ip), \(actor.device), \(change.operation), \(change.target),
                    \(change.payload)::jsonb, \(reason))
                """,
                logger: self.logger
            )
            for try await (code, id, detail) in rows.decode((String, Int64?, String?).self) {
                return ChangeAnswer(code: ResponseCode(rawValue: code), changeID: id, detail: detail)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.request_change_committed returned no row")
        }
    }

    public func approveChange(actor: ActorContext, id: Int64, enrolmentDigest: [UInt8]) async throws -> ChangeApproval {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.approve_change_committed(
                    \(actor.role.rawValue), \(actor.userID), \(actor.name), \(actor.ip), \(actor.device), \(id),
                    \(ByteBuffer(bytes: enrolmentDigest)))
                """,
                logger: self.logger
            )
            for try await (code, detail, operation, balance, auth) in rows.decode(
                (String, String?, String?, Int64?, String?).self
            ) {
                return ChangeApproval(
                    code: ResponseCode(rawValue: code),
                    detail: detail,
                    operation: operation,
                    balance: balance,
                    authCode: auth
                )
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.approve_change_committed returned no row")
        }
    }

    public func rejectChange(actor: ActorContext, id: Int64, reason: String) async throws -> ChangeAnswer {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                CALL bank.reject_change_committed(\(actor.role.rawValue), \(actor.userID),
                    \(actor.name), \(actor.ip), \(actor.device), \(id), \(reason))
                """,
                logger: self.logger
            )
            for try await (code, detail) in rows.decode((String, String?).self) {
                return ChangeAnswer(code: ResponseCode(rawValue: code), changeID: id, detail: detail)
            }
            throw StoreError(kind: .unavailable, detail: "CALL bank.reject_change_committed returned no row")
        }
    }

    public func listChanges(actor: ActorContext, state: String, beforeID: Int64?, limit: Int) async throws -> [ChangeRecord] {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT change_id, status, operation, subject, maker, requested_at, expires_at, checker, reason,
                    state_before, state_after, decision_reason
                FROM bank.list_changes(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device), \(state),
                    \(beforeID), \(limit)::int)
                """,
                logger: self.logger
            )
            var changes: [ChangeRecord] = []
            for try await (id, status, operation, subject, maker, requested, expires, checker, reason, before, after, decision)
                in rows.decode(
                    (Int64, String, String, String, String, Date, Date, String?, String, String, String, String?).self
                )
            {
                changes.append(
                    ChangeRecord(
                        id: id, state: status, operation: operation, subject: subject, maker: maker,
                        requestedAt: requested, expiresAt: expires, checker: checker, reason: reason,
                        before: before, after: after, decisionReason: decision
                    )
                )
            }
            return changes
        }
    }

    public func setAccountLimits(actor: ActorContext, account: String, dailyLimit: Int64?, dailyCount: Int?) async throws -> Bool {
        try await self.scalar(
            """
            CALL bank.set_account_limits_committed(\(actor.role.rawValue), \(actor.name), \(actor.ip), \(actor.device),
                \(account), \(dailyLimit), \(dailyCount)::int)
            """
        )
    }
}
