public import ATM87
import Foundation

extension Bank {
    /// A replenishment the ATM itself reports (0600 REPLENISH): `unloaded` taken out, `loaded` put in,
    /// posted between its own cash account and the vault. Idempotent by the message's key.
    public func replenish(
        key: IdempotencyKey,
        unloaded: Int64,
        loaded: Int64,
        ip: String?
    ) async throws
        -> ReplenishmentResult
    {
        guard key.isWellFormed else {
            return ReplenishmentResult(code: .formatError, transactionID: nil, cashHeld: nil, replayed: false)
        }
        return try await self.records.replenish(
            actor: .terminal(key.terminal, ip: ip),
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
        return try await self.records.reconcile(
            actor: .terminal(key.terminal, ip: ip),
            key: key,
            digest: RequestDigest.of(["reconciliation", settlementDate, totals.canonical]),
            settlementDate: settlementDate,
            terminalTotals: totals
        )
    }
}

/// The figures as the store keeps them (a JSON object) and as a request digest covers them.
extension ReconciliationTotals {
    /// The keys `bank.period_figures` uses, each with its figure.
    public static var databaseKeys: [(key: String, path: WritableKeyPath<ReconciliationTotals, Int64>)] {
        [
            ("credits", \.credits), ("credits_amount", \.creditsAmount),
            ("credit_reversals", \.creditReversals), ("credit_reversals_amount", \.creditReversalsAmount),
            ("debits", \.debits), ("debits_amount", \.debitsAmount),
            ("debit_reversals", \.debitReversals), ("debit_reversals_amount", \.debitReversalsAmount),
            ("transfers", \.transfers), ("transfers_amount", \.transfersAmount), ("net", \.net),
        ]
    }

    /// The figures as a JSON object, as `bank.period_figures` writes them (compared as jsonb).
    public var databaseJSON: String {
        "{" + Self.databaseKeys.map { "\"\($0.key)\": \(self[keyPath: $0.path])" }.joined(separator: ", ") + "}"
    }

    public init(databaseJSON text: String) throws {
        let object: [String: Int64]
        do {
            object = try JSONDecoder().decode([String: Int64].self, from: Data(text.utf8))
        } catch {
            throw StoreError(kind: .invalidValue, detail: "reconciliation figures are not a JSON object of integers")
        }
        self.init()
        for (key, path) in Self.databaseKeys {
            guard let value = object[key] else {
                throw StoreError(kind: .invalidValue, detail: "reconciliation figure \(key) is missing")
            }
            self[keyPath: path] = value
        }
    }

    /// The figures in a fixed order, for a request digest.
    public var canonical: String { self.databaseJSON }
}
