public import CashpointBank
public import CashpointSecurity
public import Foundation
import Synchronization

/// One-time codes for the demo bank's staff (fixtures/bank.json's test secrets), as their
/// authenticator apps would show them. A code is accepted once per time step by a bank, so each
/// scope (one test bank: its database) gets a later step than any it was given before, within the
/// switch's window of one step ahead: two sign-ons of one user in one 30-second step.
public enum StaffCodes {
    public static let secrets: [String: String] = [
        "tina.teller": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        "ada.admin": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
        "tom.teller": "KRUGS4ZANFZSAYJAORSXG5BAONSWG4TF",
        "ari.admin": "MFZGSLTBMRWWS3RAORSXG5BAONSWG4TF",
        "cora.compliance": "MNXXEYJNMNXW24DMNFQW4Y3FFV2GK43U",
        "cid.compliance": "MNUWILJNMNXW24DMNFQW4Y3FFV2GK43U",
    ]

    static let used = Mutex<[String: Int64]>([:])

    /// A code for `user` at `date` that `scope`'s bank has not seen: nil when the user has no test
    /// secret or two codes of this step were handed out already.
    public static func next(_ user: String, scope: String, at date: Date = Date()) -> String? {
        guard let secret = Self.secrets[user].flatMap(Base32.decode) else { return nil }
        let now = Int64(date.timeIntervalSince1970.rounded(.down))
        let current = OneTimePassword.step(at: now)
        let step: Int64? = Self.used.withLock { used in
            let key = "\(scope)|\(user)"
            let step = max(current, (used[key] ?? .min) + 1)
            guard step <= current + 1 else { return nil }
            used[key] = step
            return step
        }
        guard let step else { return nil }
        return OneTimePassword.code(secret: secret, at: step * 30)
    }

    /// The code of any step, for tests that choose it (a replay, a code two steps off).
    public static func code(_ user: String, step: Int64) -> String? {
        guard let secret = Self.secrets[user].flatMap(Base32.decode) else { return nil }
        return OneTimePassword.code(secret: secret, at: step * 30)
    }
}

extension Bank {
    /// A high-risk operation made by `maker` (held, 09) and approved by `checker`: the approval's
    /// answer, or the maker's answer when it was not held.
    public func performApproved(
        _ operation: StaffOperation,
        by maker: StaffMember,
        checker: StaffMember,
        key: IdempotencyKey,
        reason: String = "asked for by a test"
    ) async throws -> BankAnswer {
        let held = try await self.perform(
            operation,
            by: maker,
            key: key,
            ip: nil,
            fourEyes: FourEyesRequest(reason: reason, factorIsFresh: true)
        )
        guard held.code == .held, let id = held.changeID else { return held }
        return try await self.approveChange(id, by: checker, device: "BRANCH01", ip: nil, factorIsFresh: true)
    }
}
