public import CashpointBank
public import CashpointSecurity
public import Foundation
import CashpointDatabase
import NIOCore
import PostgresNIO

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
                CALL bank.start_terminal_session_committed(
                    \(terminal), \(ByteBuffer(bytes: sealed)), \(action), \(stan), \(ip))
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
                CALL bank.sign_on_terminal_committed(
                    \(terminal), \(ByteBuffer(bytes: sealed)), \(stan), \(transmitted), \(ip))
                """,
                logger: self.logger
            )
            for try await generation in rows.decode(Int?.self) { return generation }
            return nil
        }
    }

    /// Sign-off: forgets the session keys.
    public func endTerminalSession(terminal: String, stan: String, ip: String?) async throws {
        let _: Bool = try await self.scalar("CALL bank.end_terminal_session_committed(\(terminal), \(stan), \(ip))")
    }
}

/// A terminal to register: its id (field 41), kind and location. Its internal cash account is named
/// after it: CASH and the id for an ATM, DRAWER and the id for a branch desk.
public struct NewTerminal: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case atm, branch
    }

    public var id: String
    public var kind: Kind
    public var location: String

    /// Refuses an id that is not 1-8 capital letters or digits.
    public init(id: String, kind: Kind, location: String = "") throws(TerminalRegistrationError) {
        guard (1...8).contains(id.utf8.count),
            id.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) })
        else {
            throw TerminalRegistrationError(.invalidID, terminal: id)
        }
        self.id = id
        self.kind = kind
        self.location = location
    }

    public var cashAccountNo: String { (self.kind == .atm ? "CASH" : "DRAWER") + self.id }
    var cashAccountName: String { "Cash of \(self.id)" }
}

/// Why a terminal was not registered (nothing of it was stored).
public struct TerminalRegistrationError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The id is not 1-8 capital letters or digits.
        case invalidID
        /// A terminal with this id is registered already.
        case terminalExists
        /// The cash account the terminal would get exists already (made by hand, or by an older tool).
        case cashAccountExists
    }

    public var code: Code
    public var terminal: String

    public init(_ code: Code, terminal: String) {
        self.code = code
        self.terminal = terminal
    }

    public var description: String {
        switch self.code {
        case .invalidID: return "a terminal id is 1-8 capital letters or digits, not '\(self.terminal)'"
        case .terminalExists:
            return "terminal \(self.terminal) exists already; give it a new master key with: atm-switch terminal rekey "
                + self.terminal
        case .cashAccountExists:
            return "the cash account of terminal \(self.terminal) exists already (CASH or DRAWER and the id); "
                + "nothing was registered: choose another id"
        }
    }
}

extension BankStore {
    /// Registers a terminal with its cash account and a new master key, sealed under the switch key,
    /// in one SQL function (`bank.add_terminal`), so one transaction: when it fails nothing of the
    /// terminal is stored. Returns the master key, for the caller to show once.
    public func addTerminal(
        _ terminal: NewTerminal,
        switchKey: SwitchKey,
        actor: ActorContext
    ) async throws -> SecretKey {
        let master = SecretKey.generate()
        let sealed = try switchKey.sealMasterKey(master.key, terminal: terminal.id)
        do {
            try await self.retrying {
                try await self.execute(
                    """
                    SELECT bank.add_terminal(\(actor.name), \(terminal.id), \(terminal.kind.rawValue), \(terminal.location),
                        \(terminal.cashAccountNo), \(terminal.cashAccountName), \(ByteBuffer(bytes: sealed)),
                        \(KeyCheckValue.of(master.key)))
                    """,
                    logger: self.logger
                )
            }
        } catch let error as StoreError where error.kind == .alreadyExists {
            switch error.taken {
            case .terminalID: throw TerminalRegistrationError(.terminalExists, terminal: terminal.id)
            case .accountNumber: throw TerminalRegistrationError(.cashAccountExists, terminal: terminal.id)
            default: throw error
            }
        }
        return master
    }
}

extension BankStore {
    /// Ends a session (its token is refused by every switch from now on) and audits it.
    public func endSession(actor: ActorContext, sessionID: String, expires: Date, role: String) async throws {
        try await self.retrying {
            try await self.execute(
                """
                CALL bank.end_session_committed(
                    \(actor.name), \(sessionID), \(expires), \(role), \(actor.ip), \(actor.device))
                """,
                logger: self.logger
            )
        }
    }

    public func sessionEnded(_ sessionID: String) async throws -> Bool {
        try await self.scalar("SELECT bank.session_ended(\(sessionID))")
    }
}
