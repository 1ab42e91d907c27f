public import ATM87
public import CashpointBank
import Foundation
import CashpointDatabase
import PostgresNIO

extension BankStore {
    /// A replenishment of `key.terminal`'s cash from the vault: `bank.replenish`.
    public func replenish(
        actor: ActorContext,
        key: IdempotencyKey,
        digest: [UInt8],
        unloaded: Int64,
        loaded: Int64
    ) async throws -> ReplenishmentResult {
        try await self.recovering(key) {
            let rows = try await self.client.query(
                """
                CALL bank.replenish_committed(
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
            throw StoreError(kind: .unavailable, detail: "CALL bank.replenish_committed returned no row")
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
        return try await self.recovering(key) {
            let rows = try await self.client.query(
                """
                CALL bank.reconcile_committed(
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
            throw StoreError(kind: .unavailable, detail: "CALL bank.reconcile_committed returned no row")
        }
    }

    /// The bank's vault (made once; later calls return it), with its opening cash from equity.
    @discardableResult
    public func openVault(actor: ActorContext, accountNo: String, opening: Int64) async throws -> Int64 {
        try await self.scalar("SELECT bank.open_vault(\(actor.name), \(accountNo), \(opening))")
    }
}
