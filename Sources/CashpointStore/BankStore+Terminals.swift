public import Foundation
import NIOCore
import PostgresNIO

/// What the switch stores about a terminal's keys: sealed under the switch key, never in the clear.
public struct TerminalKeyRecord: Sendable, Hashable {
    public var kind: String
    public var enabled: Bool
    public var masterKeySealed: [UInt8]?
    public var sessionKeysSealed: [UInt8]?
    public var sessionGeneration: Int

    public init(
        kind: String,
        enabled: Bool,
        masterKeySealed: [UInt8]?,
        sessionKeysSealed: [UInt8]?,
        sessionGeneration: Int
    ) {
        self.kind = kind
        self.enabled = enabled
        self.masterKeySealed = masterKeySealed
        self.sessionKeysSealed = sessionKeysSealed
        self.sessionGeneration = sessionGeneration
    }
}

extension BankStore {
    /// A terminal's kind, state and sealed keys; nil for an unknown terminal.
    public func terminalKeys(_ terminal: String) async throws -> TerminalKeyRecord? {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT kind, enabled, master_key_sealed, session_keys_sealed, session_generation
                FROM bank.terminal_keys(\(terminal))
                """,
                logger: self.logger
            )
            for try await (kind, enabled, master, session, generation) in rows.decode(
                (String, Bool, ByteBuffer?, ByteBuffer?, Int).self
            ) {
                return TerminalKeyRecord(
                    kind: kind,
                    enabled: enabled,
                    masterKeySealed: master.map { Array($0.readableBytesView) },
                    sessionKeysSealed: session.map { Array($0.readableBytesView) },
                    sessionGeneration: generation
                )
            }
            return nil
        }
    }

    /// Stores a terminal's sealed master key and its check value; false for an unknown terminal.
    public func setTerminalMasterKey(
        actor: ActorContext,
        terminal: String,
        sealed: [UInt8],
        checkValue: String
    ) async throws -> Bool {
        try await self.scalar(
            """
            SELECT bank.set_terminal_master_key(\(actor.name), \(terminal), \(ByteBuffer(bytes: sealed)), \(checkValue))
            """
        )
    }

    public func setTerminalEnabled(actor: ActorContext, terminal: String, enabled: Bool) async throws -> Bool {
        try await self.scalar("SELECT bank.set_terminal_enabled(\(actor.name), \(terminal), \(enabled))")
    }

    /// Sign-on or key change: stores the new sealed session keys; their generation, or nil when the
    /// terminal is unknown, disabled or has no master key (the refusal is audited).
    public func startTerminalSession(
        terminal: String,
        sealed: [UInt8],
        keyChange: Bool,
        stan: String,
        ip: String?
    ) async throws -> Int? {
        let action = keyChange ? "terminal.keychange" : "terminal.signon"
        return try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT bank.start_terminal_session(\(terminal), \(ByteBuffer(bytes: sealed)), \(action), \(stan), \(ip))
                """,
                logger: self.logger
            )
            for try await generation in rows.decode(Int?.self) { return generation }
            return nil
        }
    }

    /// An authenticated sign-on: the new keys' generation, or nil when the terminal is disabled or the
    /// sign-on's (STAN, transmission time) was seen before (a replay). Audited.
    public func signOnTerminal(
        terminal: String,
        sealed: [UInt8],
        stan: String,
        transmitted: String,
        ip: String?
    )
        async throws -> Int?
    {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT bank.sign_on_terminal(\(terminal), \(ByteBuffer(bytes: sealed)), \(stan), \(transmitted), \(ip))
                """,
                logger: self.logger
            )
            for try await generation in rows.decode(Int?.self) { return generation }
            return nil
        }
    }

    /// Sign-off: forgets the session keys.
    public func endTerminalSession(terminal: String, stan: String, ip: String?) async throws {
        let _: Bool = try await self.scalar("SELECT bank.end_terminal_session(\(terminal), \(stan), \(ip))")
    }
}

extension BankStore {
    /// Ends a session (its token is refused by every switch from now on) and audits it.
    public func endSession(actor: ActorContext, sessionID: String, expires: Date, role: String) async throws {
        try await self.retrying {
            try await self.execute(
                """
                SELECT bank.end_session(\(actor.name), \(sessionID), \(expires), \(role), \(actor.ip), \(actor.device))
                """,
                logger: self.logger
            )
        }
    }

    public func sessionEnded(_ sessionID: String) async throws -> Bool {
        try await self.scalar("SELECT bank.session_ended(\(sessionID))")
    }
}
