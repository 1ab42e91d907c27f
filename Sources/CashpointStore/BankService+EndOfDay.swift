public import ATM87
public import CashpointBank

extension BankService {
    /// A replenishment the ATM itself reports (0600 REPLENISH): `unloaded` taken out, `loaded` put in,
    /// posted between its own cash account and the vault. Idempotent by the message's key.
    public func replenish(key: IdempotencyKey, unloaded: Int64, loaded: Int64, ip: String?) async throws
        -> ReplenishmentResult
    {
        guard key.isWellFormed else {
            return ReplenishmentResult(code: .formatError, transactionID: nil, cashHeld: nil, replayed: false)
        }
        return try await self.store.replenish(
            actor: Self.terminalActor(key, ip: ip),
            key: key,
            digest: RequestDigest.of(["replenish", String(unloaded), String(loaded)]),
            unloaded: unloaded,
            loaded: loaded
        )
    }

    /// A terminal's reconciliation request (0500): its figures since its last cutover against the
    /// ledger's; the period is closed either way. Idempotent by the message's key.
    public func reconcile(
        key: IdempotencyKey,
        settlementDate: String,
        totals: ReconciliationTotals,
        ip: String?
    ) async throws -> ReconciliationResult {
        guard key.isWellFormed else {
            return ReconciliationResult(
                code: .formatError,
                switchTotals: nil,
                cashHeld: nil,
                cutoverID: nil,
                replayed: false
            )
        }
        return try await self.store.reconcile(
            actor: Self.terminalActor(key, ip: ip),
            key: key,
            digest: RequestDigest.of(["reconciliation", settlementDate, totals.canonical]),
            settlementDate: settlementDate,
            terminalTotals: totals
        )
    }

    static func terminalActor(_ key: IdempotencyKey, ip: String?) -> ActorContext {
        ActorContext(role: .system, userID: nil, name: "terminal:\(key.terminal)", device: key.terminal, ip: ip)
    }
}
