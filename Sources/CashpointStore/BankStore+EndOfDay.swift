public import ATM87
public import CashpointBank
import Foundation
import PostgresNIO

/// The answer to a replenishment (0600 REPLENISH).
public struct ReplenishmentResult: Sendable, Hashable {
    public var code: ResponseCode
    public var transactionID: Int64?
    /// The cash the ledger says the terminal holds after it (minus its cash account's balance).
    public var cashHeld: Int64?
    public var replayed: Bool
}

/// The answer to a reconciliation request (0500).
public struct ReconciliationResult: Sendable, Hashable {
    /// 00 when every figure agrees, 95 when one differs, 94 for a reused key with other content.
    public var code: ResponseCode
    /// The switch's figures for the period (nil for a 94).
    public var switchTotals: ReconciliationTotals?
    /// The cash the ledger says the terminal holds at the cutover.
    public var cashHeld: Int64?
    public var cutoverID: Int64?
    public var replayed: Bool
}

extension ReconciliationTotals {
    /// The keys `bank.period_figures` uses, each with its figure.
    static var databaseKeys: [(key: String, path: WritableKeyPath<ReconciliationTotals, Int64>)] {
        [
            ("credits", \.credits), ("credits_amount", \.creditsAmount),
            ("credit_reversals", \.creditReversals), ("credit_reversals_amount", \.creditReversalsAmount),
            ("debits", \.debits), ("debits_amount", \.debitsAmount),
            ("debit_reversals", \.debitReversals), ("debit_reversals_amount", \.debitReversalsAmount),
            ("transfers", \.transfers), ("transfers_amount", \.transfersAmount), ("net", \.net),
        ]
    }

    /// The figures as a JSON object, as `bank.period_figures` writes them (compared as jsonb).
    var databaseJSON: String {
        "{" + Self.databaseKeys.map { "\"\($0.key)\": \(self[keyPath: $0.path])" }.joined(separator: ", ") + "}"
    }

    init(databaseJSON text: String) throws {
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
    var canonical: String { self.databaseJSON }
}

extension BankStore {
    /// A replenishment of `key.terminal`'s cash from the vault: `bank.replenish`.
    public func replenish(
        actor: ActorContext,
        key: IdempotencyKey,
        digest: [UInt8],
        unloaded: Int64,
        loaded: Int64
    ) async throws -> ReplenishmentResult {
        try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT response_code, transaction_id, cash_held, replayed FROM bank.replenish(
                    \(actor.name), \(actor.ip), \(actor.device), \(key.terminal), \(key.stan), \(key.transmitted),
                    \(ByteBuffer(bytes: digest)), \(unloaded), \(loaded))
                """,
                logger: self.logger
            )
            for try await (code, txn, cash, replayed) in rows.decode((String, Int64?, Int64?, Bool).self) {
                return ReplenishmentResult(
                    code: ResponseCode(rawValue: code),
                    transactionID: txn,
                    cashHeld: cash,
                    replayed: replayed
                )
            }
            throw StoreError(kind: .unavailable, detail: "bank.replenish returned no row")
        }
    }

    /// A terminal's end of day: `bank.reconcile` computes the switch's figures for the period since the
    /// terminal's last cutover, compares them with the terminal's and records the cutover.
    public func reconcile(
        actor: ActorContext,
        key: IdempotencyKey,
        digest: [UInt8],
        settlementDate: String,
        terminalTotals: ReconciliationTotals
    ) async throws -> ReconciliationResult {
        let figures = terminalTotals.databaseJSON
        return try await self.retrying {
            let rows = try await self.client.query(
                """
                SELECT response_code, switch_figures::text, cash_held, cutover_id, replayed FROM bank.reconcile(
                    \(actor.name), \(actor.ip), \(actor.device), \(key.terminal), \(key.stan), \(key.transmitted),
                    \(ByteBuffer(bytes: digest)), \(settlementDate), \(figures)::jsonb)
                """,
                logger: self.logger
            )
            for try await (code, switchFigures, cash, cutover, replayed) in rows.decode(
                (String, String?, Int64?, Int64?, Bool).self
            ) {
                return ReconciliationResult(
                    code: ResponseCode(rawValue: code),
                    switchTotals: try switchFigures.map(ReconciliationTotals.init(databaseJSON:)),
                    cashHeld: cash,
                    cutoverID: cutover,
                    replayed: replayed
                )
            }
            throw StoreError(kind: .unavailable, detail: "bank.reconcile returned no row")
        }
    }

    /// The bank's vault (made once; later calls return it), with its opening cash from equity.
    @discardableResult
    public func openVault(actor: ActorContext, accountNo: String, opening: Int64) async throws -> Int64 {
        try await self.scalar("SELECT bank.open_vault(\(actor.name), \(accountNo), \(opening))")
    }
}
