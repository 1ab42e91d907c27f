public import ATM87
public import CashpointSecurity
public import CashpointBank
import Logging
import Synchronization

/// The session keys of every terminal this switch serves, cached in memory over the sealed copies in
/// PostgreSQL: a restarted switch, or another switch instance, picks a session up from the database.
/// A class with a lock, not an actor: every request reads the keys, and a read from the cache must not
/// hop off the connection's event loop.
public final class TerminalSessions: Sendable {
    struct Entry: Sendable {
        var generation: Int
        var keys: SessionKeys
        var kind: String
    }

    public enum SignOn: Sendable {
        /// The keys and field 120 for the 0810.
        case started(keys: SessionKeys, material: String, generation: Int)
        /// Refused with this response code: 58 (unknown, disabled, no master key), 63 (the sign-on's MAC,
        /// its time, or a replay).
        case refused(code: String, reason: String)
    }

    /// Where the sealed keys are kept (the bank's store: the terminal's keys are the switch's own
    /// business, not a bank rule, so the bank API does not stand between).
    let records: any BankRecords
    let switchKey: SwitchKey
    let cache = Mutex<[String: Entry]>([:])

    public init(records: any BankRecords, switchKey: SwitchKey) {
        self.records = records
        self.switchKey = switchKey
    }

    /// The terminal's current session keys, or nil when it has no session (never signed on, signed
    /// off, disabled, unknown). `reload` reads the database even when keys are cached (another switch
    /// may have changed them).
    public func keys(for terminal: String, reload: Bool = false) async throws -> SessionKeys? {
        if !reload, let entry = self.cache.withLock({ $0[terminal] }) { return entry.keys }
        guard let record = try await self.records.terminalKeys(terminal), record.enabled,
            let sealed = record.sessionKeysSealed
        else {
            self.cache.withLock { _ = $0.removeValue(forKey: terminal) }
            return nil
        }
        let keys = try self.switchKey.openSessionKeys(sealed, terminal: terminal)
        self.cache.withLock { $0[terminal] = Entry(generation: record.sessionGeneration, keys: keys, kind: record.kind) }
        return keys
    }

    /// `atm` or `branch`, for a terminal with a session.
    public func kind(of terminal: String) -> String? {
        self.cache.withLock { $0[terminal]?.kind }
    }

    /// Sign-on (001) or key change (161): fresh session keys, wrapped under the terminal's master key.
    /// A sign-on must carry a MAC under the key derived from the master key (`SignOnKey`) and a
    /// (STAN, transmission time) not seen before; a key change is authenticated by the session MAC the
    /// caller has already checked.
    public func start(
        terminal: String,
        keyChange: Bool,
        stan: String,
        ip: String?,
        signOnRequest: ATM87Message? = nil
    ) async throws -> SignOn {
        let record = try await self.records.terminalKeys(terminal)
        let refusal: String? =
            switch record {
            case .none: "unknown terminal"
            case .some(let record) where !record.enabled: "terminal disabled"
            case .some(let record) where record.masterKeySealed == nil: "terminal has no master key"
            default: nil
            }
        if let refusal {
            try await self.records.audit(
                actor: .terminal(terminal, ip: ip),
                action: keyChange ? "terminal.keychange" : "terminal.signon",
                outcome: ResponseCode.notPermittedToTerminal.rawValue,
                details: ["reason": refusal, "stan": stan]
            )
            return .refused(code: "58", reason: refusal)
        }
        let master = try self.switchKey.openMasterKey(record!.masterKeySealed!, terminal: terminal)
        let keys = SessionKeys.generate()
        let material = try KeyMaterial.encode(keys, under: master)
        let sealed = try self.switchKey.sealSessionKeys(keys, terminal: terminal)
        let generation: Int?
        if keyChange {
            generation = try await self.records.startTerminalSession(
                terminal: terminal,
                sealed: sealed,
                keyChange: true,
                stan: stan,
                ip: ip
            )
        } else {
            guard let request = signOnRequest, let transmitted = request[7],
                MessageAuthentication.verify(request, key: SignOnKey.derive(from: master)) == nil
            else {
                try await self.records.audit(
                    actor: .terminal(terminal, ip: ip),
                    action: "terminal.signon",
                    outcome: ResponseCode.securityViolation.rawValue,
                    details: ["reason": "the sign-on's MAC does not verify under the master key", "stan": stan]
                )
                return .refused(code: "63", reason: "sign-on MAC")
            }
            generation = try await self.records.signOnTerminal(
                terminal: terminal,
                sealed: sealed,
                stan: stan,
                transmitted: transmitted,
                ip: ip
            )
        }
        guard let generation else {
            return .refused(
                code: keyChange ? "58" : "63",
                reason: keyChange ? "terminal disabled" : "replayed sign-on, or terminal disabled"
            )
        }
        self.cache.withLock { $0[terminal] = Entry(generation: generation, keys: keys, kind: record!.kind) }
        return .started(keys: keys, material: material, generation: generation)
    }

    /// Sign-off (002): the session keys are forgotten here and in the database.
    public func end(terminal: String, stan: String, ip: String?) async throws {
        self.cache.withLock { _ = $0.removeValue(forKey: terminal) }
        try await self.records.endTerminalSession(terminal: terminal, stan: stan, ip: ip)
    }

    /// Forgets the cached keys (a restart does the same).
    public func forget(_ terminal: String) {
        self.cache.withLock { _ = $0.removeValue(forKey: terminal) }
    }
}
