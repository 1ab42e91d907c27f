import CashpointSecurity
import Foundation
import Synchronization

/// The one-time codes of a run's `totp:` steps. The switch accepts a code once: the time step of each
/// accepted code is stored with its user, and a code of that step or an earlier one is refused (63).
/// So a script that signs one member of staff on twice within 30 seconds sends, the second time, the
/// code of the next step, which the switch's window (one step either side) accepts. A third within the
/// same step would need a step the switch does not accept yet: the harness waits for the next step
/// instead, and says so in the step's notes. The steps used are kept per secret for the whole run
/// (every script of one `atm-harness run`); another process that uses the same secret meanwhile (a
/// desk, another run) is not known here, and its codes may make the switch answer 63.
public final class OneTimeCodeSteps: Sendable {
    let used = Mutex<[String: Int64]>([:])

    public init() {}

    /// What to send for `secret` at `unixSeconds`: the time step (the current one, or the one after the
    /// last this run used), and how long to wait first (zero unless the step is two or more ahead).
    public struct Plan: Sendable, Hashable {
        public var step: Int64
        /// Seconds.
        public var wait: Int

        public init(step: Int64, wait: Int) {
            self.step = step
            self.wait = wait
        }
    }

    /// The step to use now, given the last one used for the secret (pure: no memory, no clock).
    public static func plan(now unixSeconds: Int64, lastUsed: Int64?, period: Int = 30) -> Plan {
        let current = OneTimePassword.step(at: unixSeconds, period: period)
        let step = max(current, (lastUsed ?? .min) + 1)
        // A step more than one ahead is outside the switch's window until time catches up with it.
        let wait = step > current + 1 ? Int((step - 1) * Int64(period) - unixSeconds) : 0
        return Plan(step: step, wait: max(wait, 0))
    }

    /// The plan for `secret` now; the step is recorded as used (by the caller's sending it next).
    public func take(_ secret: [UInt8], now unixSeconds: Int64) -> Plan {
        let key = Base32.encode(secret)
        return self.used.withLock { used in
            let plan = Self.plan(now: unixSeconds, lastUsed: used[key])
            used[key] = plan.step
            return plan
        }
    }

    /// The code of a step (6 digits, HMAC-SHA-1, 30-second steps: the switch's defaults).
    public static func code(_ secret: [UInt8], step: Int64) -> String {
        OneTimePassword.code(secret: secret, at: step * 30)
    }
}
