import CashpointBank
public import CashpointDatabase
public import Foundation
public import Logging
import PostgresNIO

/// The bank check's bank: the load bank's terminals and cards (`LoadBank`), with fewer customers than
/// terminals (two terminals share each card, so their requests contend for the same accounts) and
/// little money in each account, so that withdrawals and transfers are refused (51) as often as they
/// are approved and a balance that went below zero would show.
public enum BankCheckBank {
    /// The opening balance of every customer account, minor units (500.00).
    public static let opening: Int64 = 50_000

    /// The fixture as `fixtures/bank.json` has it, for `atm-switch seed`.
    public static func fixtureJSON(terminals: Int) throws -> Data {
        let data = try LoadBank.fixtureJSON(terminals: terminals)
        guard var fixture = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let customers = fixture["customers"] as? [[String: Any]]
        else { throw LoadFailure(.fixture, "the load bank's fixture is not a JSON object with customers") }
        fixture["customers"] = customers.prefix((terminals + 1) / 2).map { customer in
            var customer = customer
            customer["accounts"] = (customer["accounts"] as? [[String: Any]] ?? []).map { account in
                var account = account
                account["opening"] = Self.opening
                return account
            }
            return customer
        }
        return try JSONSerialization.data(withJSONObject: fixture, options: [.prettyPrinted, .sortedKeys])
    }
}

/// The thin shell that reads what the checker needs from PostgreSQL: every account's balance in one
/// statement (one snapshot), and the ledger rows of the check's terminals with their lines.
public enum BankCheckDatabase {
    public static func snapshot(_ url: DatabaseURL, logger: Logger) async throws -> BankCheckSnapshot {
        try await url.withConnection(logger: logger) { connection in
            var balances: [BankCheckBalance] = []
            let rows = try await connection.query(
                "SELECT account_no::text, kind::text = 'customer', balance FROM bank.accounts ORDER BY id",
                logger: logger
            )
            for try await (account, isCustomer, balance) in rows.decode((String, Bool, Int64).self) {
                balances.append(BankCheckBalance(account: account, isCustomer: isCustomer, balance: balance))
            }
            return BankCheckSnapshot(balances)
        }
    }

    public static func ledger(_ url: DatabaseURL, terminals: [String], logger: Logger) async throws
        -> [BankCheckLedgerRow]
    {
        try await url.withConnection(logger: logger) { connection in
            var ledger: [BankCheckLedgerRow] = []
            let rows = try await connection.query(
                """
                SELECT t.id, t.terminal_id, t.stan::text, t.transmitted::text, t.kind::text, t.amount::bigint,
                       t.response_code::text, t.original_id,
                       coalesce(array_agg(a.account_no::text ORDER BY h.line_no) FILTER (WHERE h.account_id IS NOT NULL),
                           '{}'::text[]),
                       coalesce(array_agg(h.amount::bigint ORDER BY h.line_no) FILTER (WHERE h.account_id IS NOT NULL),
                           '{}'::bigint[])
                FROM bank.transactions t
                LEFT JOIN bank.history h ON h.transaction_id = t.id
                LEFT JOIN bank.accounts a ON a.id = h.account_id
                WHERE t.terminal_id = ANY(\(terminals))
                GROUP BY t.id ORDER BY t.id
                """,
                logger: logger
            )
            for try await (id, terminal, stan, transmitted, kind, amount, code, original, accounts, amounts)
                in rows.decode((Int64, String, String, String, String, Int64, String, Int64?, [String], [Int64]).self)
            {
                ledger.append(
                    BankCheckLedgerRow(
                        id: id,
                        key: BankCheckKey(terminal: terminal, stan: stan, transmitted: transmitted),
                        kind: kind,
                        amount: amount,
                        responseCode: code,
                        originalID: original,
                        lines: zip(accounts, amounts).map { BankCheckLedgerRow.Line(account: $0, amount: $1) }
                    )
                )
            }
            return ledger
        }
    }
}
