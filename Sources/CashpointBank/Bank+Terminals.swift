public import ATM87
public import Foundation
import Synchronization

/// What the switch itself decides and the bank records: refusals before the bank was asked (a bad MAC,
/// a refused token, a sign-on out of time), sessions; and what the bank hands out: reference numbers,
/// its currency.
extension Bank {
    /// Audits a request the switch refused on its own (`action`, e.g. `mac.refused`), as the terminal.
    public func recordRefusal(
        _ action: String,
        code: ResponseCode,
        terminal: String,
        ip: String?,
        details: [String: String]
    ) async throws {
        try await self.records.audit(
            actor: .terminal(terminal, ip: ip),
            action: action,
            outcome: code.rawValue,
            details: details
        )
    }

    /// Ends a signed-on session (a staff logout): its token is refused by every switch from now on.
    public func endSession(
        id: String,
        of subject: String,
        role: String,
        expires: Date,
        terminal: String,
        ip: String?
    ) async throws {
        try await self.records.endSession(
            actor: ActorContext(role: .system, userID: nil, name: subject, device: terminal, ip: ip),
            sessionID: id,
            expires: expires,
            role: role
        )
    }

    /// Whether the session with this token id was ended (by any switch, before or after a restart).
    public func sessionEnded(_ id: String) async throws -> Bool {
        try await self.records.sessionEnded(id)
    }

    /// A retrieval reference number for an answer that posted nothing: unique across switches, from
    /// blocks of 1,000 the store hands out.
    public func nextReference() async throws -> Int64 {
        let next: Int64? = self.cached.references.withLock { block in
            guard block.next < block.end else { return nil }
            defer { block.next += 1 }
            return block.next
        }
        if let next { return next }
        let start = try await self.records.reserveReferences()
        self.cached.references.withLock { $0 = (start + 1, start + 1000) }
        return start
    }

    /// The bank's currency (ISO 4217 numeric), read from the store once; nil when none is configured.
    /// Every account is held in it, and there are no exchange rates: a request in another currency is
    /// refused.
    public func currency() async throws -> String? {
        if let known = self.cached.currency.withLock({ $0 }) { return known }
        guard let read = try await self.records.bankCurrency() else { return nil }
        self.cached.currency.withLock { $0 = read }
        return read
    }
}
