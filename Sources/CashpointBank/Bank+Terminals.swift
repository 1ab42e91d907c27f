public import ATM87
public import Foundation

/// What the switch itself decides and the bank records: refusals before the bank was asked (a bad MAC,
/// a refused token, a sign-on out of time), sessions, terminal keys, reference numbers. Each is one
/// call of the store; the switch never reaches the store but through here.
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
            actor: Self.terminalActor(terminal: terminal, ip: ip),
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

    /// The first of 1,000 retrieval reference numbers reserved for this switch.
    public func reserveReferences() async throws -> Int64 {
        try await self.records.reserveReferences()
    }

    /// The bank's currency (ISO 4217 numeric), nil when none is configured.
    public func currency() async throws -> String? {
        try await self.records.bankCurrency()
    }

    // MARK: Terminals

    /// A terminal's kind, state and sealed keys; nil for an unknown terminal.
    public func terminalKeys(_ terminal: String) async throws -> TerminalKeyRecord? {
        try await self.records.terminalKeys(terminal)
    }

    /// Stores a sign-on's sealed session keys; nil when the terminal is disabled or the sign-on's
    /// (STAN, transmission time) was seen before (a replay). Returns the new session generation.
    public func signOn(
        terminal: String,
        sealedKeys: [UInt8],
        stan: String,
        transmitted: String,
        ip: String?
    ) async throws -> Int? {
        try await self.records.signOnTerminal(
            terminal: terminal,
            sealed: sealedKeys,
            stan: stan,
            transmitted: transmitted,
            ip: ip
        )
    }

    /// Stores a key change's sealed session keys; nil when the terminal is disabled.
    public func changeKeys(terminal: String, sealedKeys: [UInt8], stan: String, ip: String?) async throws -> Int? {
        try await self.records.startTerminalSession(
            terminal: terminal,
            sealed: sealedKeys,
            keyChange: true,
            stan: stan,
            ip: ip
        )
    }

    /// Sign-off: the terminal's session keys are forgotten.
    public func signOff(terminal: String, stan: String, ip: String?) async throws {
        try await self.records.endTerminalSession(terminal: terminal, stan: stan, ip: ip)
    }

    static func terminalActor(terminal: String, ip: String?) -> ActorContext {
        ActorContext(role: .system, userID: nil, name: "terminal:\(terminal)", device: terminal, ip: ip)
    }
}
