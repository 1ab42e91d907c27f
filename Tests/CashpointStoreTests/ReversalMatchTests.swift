import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// A reversal advice is matched against its original in one place, bank.reverse (through
/// bank.reversal_original), in the transaction that reverses it: one round trip, one recipe. The bank
/// only maps the field that differs to 12 and `not the original: field N` (docs/protocol.md).
@Suite("reversals: matched against the original where they are posted", .serialized, .enabled(if: databaseTestsEnabled))
struct ReversalMatchTests {
    struct Change: Sendable, CustomTestStringConvertible {
        var field: Int
        var kind: PostingKind?
        var amount: Int64
        var pan: String?
        var testDescription: String { "field \(self.field): \(self.kind?.rawValue ?? "no type"), \(self.amount), \(self.pan ?? "no PAN")" }
    }

    static let changes = [
        Change(field: 2, kind: .withdrawal, amount: 10_000, pan: bobPAN),
        Change(field: 2, kind: .withdrawal, amount: 10_000, pan: nil),
        Change(field: 3, kind: .deposit, amount: 10_000, pan: alicePAN),
        Change(field: 3, kind: nil, amount: 10_000, pan: alicePAN),
        Change(field: 4, kind: .withdrawal, amount: 20_000, pan: alicePAN),
        Change(field: 4, kind: .withdrawal, amount: 5_000, pan: alicePAN),
    ]

    static func alice(_ service: Bank) async throws -> CardHolder {
        let result = try await service.authenticateCard(service.present(pan: alicePAN), pin: "1234", terminal: "ATM00001", ip: nil)
        guard case .approved(let holder) = result else { throw TestFailure("alice's PIN was refused: \(result)") }
        return holder
    }

    @Test("an advice that differs in card, type or amount is refused 12 naming the field; nothing is done or recorded", arguments: Self.changes)
    func mismatch(_ change: Change) async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await Self.alice(service)
            let keys = KeyMaker()
            let original = keys.next(time: "1125093112")
            let cash = try await service.perform(
                .withdrawal(amount: 10_000, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: original,
                ip: nil
            )
            #expect(cash.code == .approved)
            let refused = try await service.reverse(
                key: keys.next(time: "1125093205"),
                originalSTAN: original.stan,
                originalTransmitted: original.transmitted,
                kind: change.kind,
                originalAmount: change.amount,
                card: change.pan.map { service.present(pan: $0) },
                dispensed: nil,
                ip: nil
            )
            #expect(refused.code == .invalidTransaction)
            let mismatch = try #require(refused.mismatch)
            #expect(mismatch.field == change.field)
            #expect(mismatch.description.hasPrefix("not the original: field \(change.field)"))
            #expect(refused.transactionID == nil && refused.reversedAmount == 0)
            #expect(try await bank.balance("CP0000000001") == 240_000)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.transactions WHERE kind = 'reversal'") == 0)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'reversal'") == 0)
            // The advice as it should be is reversed.
            let right = try await service.reverse(
                key: keys.next(time: "1125093300"),
                originalSTAN: original.stan,
                originalTransmitted: original.transmitted,
                kind: .withdrawal,
                originalAmount: 10_000,
                card: service.present(pan: alicePAN),
                dispensed: nil,
                ip: nil
            )
            #expect(right.code == .approved && right.mismatch == nil && right.reversedAmount == 10_000)
            #expect(try await bank.balance("CP0000000001") == 250_000)
        }
    }

    @Test("a staff posting matches no card's advice (field 2); a refused original is matched by type and amount only")
    func staffAndRefusedOriginals() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await Self.alice(service)
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let desk = KeyMaker(terminal: "BRANCH01")
            let deposit = desk.next()
            let staff = try await service.perform(.deposit(account: "CP0000000001", amount: 1_000), by: teller, key: deposit, ip: nil)
            #expect(staff.code == .approved)
            let advice = try await service.reverse(
                key: desk.next(),
                originalSTAN: deposit.stan,
                originalTransmitted: deposit.transmitted,
                kind: .deposit,
                originalAmount: 1_000,
                card: service.present(pan: alicePAN),
                dispensed: nil,
                ip: nil
            )
            #expect(advice.mismatch?.field == 2)
            // A refused original moved nothing: any card's advice with its type and amount is acknowledged.
            let keys = KeyMaker()
            let tooMuch = keys.next()
            let refused = try await service.perform(
                .withdrawal(amount: 99_999_900, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: tooMuch,
                ip: nil
            )
            #expect(refused.code == .insufficientFunds)
            let acknowledged = try await service.reverse(
                key: keys.next(),
                originalSTAN: tooMuch.stan,
                originalTransmitted: tooMuch.transmitted,
                kind: .withdrawal,
                originalAmount: 99_999_900,
                card: service.present(pan: bobPAN),
                dispensed: nil,
                ip: nil
            )
            #expect(acknowledged.code == .approved && acknowledged.mismatch == nil && acknowledged.reversedAmount == 0)
            #expect(try await bank.balance("CP0000000001") == 251_000)
        }
    }

    /// With the match made before the reversal's own call (a second round trip), an original still being
    /// posted was not there to compare with, and the reversal then reversed it whatever its card.
    @Test("the match holds for an original that commits while the advice waits for its key")
    func originalInFlight() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await Self.alice(service)
            let keys = KeyMaker()
            try await bank.asSwitchRole { first in
                try await first.query("BEGIN", logger: quietLogger)
                let rows = try await first.query(
                    """
                    SELECT response_code FROM bank.post('customer', \(holder.userID), \(holder.cardID), 'card:alice', NULL,
                        'ATM00001', 'ATM00001', '000777', '1125093112', '\\x01'::bytea, 'withdrawal', 1000,
                        'CP0000000001', NULL)
                    """,
                    logger: quietLogger
                )
                for try await code in rows.decode(String.self) { #expect(code == "00") }
                // Bob's card names Alice's withdrawal: the advice waits for the original's key.
                let advice = Task {
                    try await service.reverse(
                        key: keys.next(time: "1125093205"),
                        originalSTAN: "000777",
                        originalTransmitted: "1125093112",
                        kind: .withdrawal,
                        originalAmount: 1_000,
                        card: service.present(pan: bobPAN),
                        dispensed: nil,
                        ip: nil
                    )
                }
                var waiting = 0
                for _ in 0..<500 where waiting == 0 {
                    waiting = try await bank.count(
                        "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%bank.reverse_committed(%'"
                    )
                    if waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(waiting == 1)
                try await first.query("COMMIT", logger: quietLogger)
                let refused = try await advice.value
                #expect(refused.code == .invalidTransaction)
                #expect(refused.mismatch?.field == 2)
            }
            #expect(try await bank.balance("CP0000000001") == 249_000)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.transactions WHERE kind IN ('reversal', 'voided')") == 0)
            let right = try await service.reverse(
                key: keys.next(time: "1125093300"),
                originalSTAN: "000777",
                originalTransmitted: "1125093112",
                kind: .withdrawal,
                originalAmount: 1_000,
                card: service.present(pan: alicePAN),
                dispensed: nil,
                ip: nil
            )
            #expect(right.code == .approved && right.reversedAmount == 1_000)
            #expect(try await bank.balance("CP0000000001") == 250_000)
        }
    }

    @Test("the switch's role cannot read an original on its own: the match is bank.reverse's")
    func noOriginalForTheSwitch() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            try await bank.asSwitchRole { connection in
                let state = await connection.sqlState(
                    of: "SELECT * FROM bank.reversal_original('ATM00001', '000001', '1125093112', 'withdrawal', 1, NULL)"
                )
                #expect(state == "42501")
            }
        }
    }

    /// Migration 0020 gives the postings made before it their card, from their request digest: the card
    /// must be the one bank.post records now, for withdrawals, deposits and transfers alike, and none for a
    /// staff posting or a refused one.
    @Test("0020's backfill finds each approved card posting's card from its request digest, as bank.post records it")
    func backfill() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await Self.alice(service)
            let card = service.present(pan: alicePAN)
            let keys = KeyMaker()
            for operation: CardOperation in [
                .withdrawal(amount: 100, account: nil), .deposit(amount: 200, account: "CP0000000002"),
                .transfer(amount: 300, from: "CP0000000002", to: "CP0000000001"),
                .withdrawal(amount: 99_999_900, account: nil),
            ] {
                _ = try await service.perform(operation, for: holder, card: card, key: keys.next(), ip: nil)
            }
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            _ = try await service.perform(
                .deposit(account: "CP0000000001", amount: 400),
                by: teller,
                key: KeyMaker(terminal: "BRANCH01").next(),
                ip: nil
            )
            let recorded = "SELECT count(*)::int FROM bank.transactions WHERE card_id = \(holder.cardID)"
            #expect(try await bank.count(recorded) == 4)
            let migration = try #require(try Migration.bundled().first { $0.version == 20 })
            let backfill = try SQLScript.statements(migration.sql).filter { statement in
                !statement.contains("ADD COLUMN") && !statement.hasPrefix("COMMENT") && !statement.contains("DROP FUNCTION")
                    && !statement.contains("SET LOCAL ROLE")
            }
            #expect(backfill.contains { $0.hasPrefix("UPDATE bank.transactions") })
            try await bank.asSuperuser { connection in
                try await connection.query("BEGIN", logger: quietLogger)
                for statement in [
                    "ALTER TABLE bank.transactions DISABLE TRIGGER transactions_append_only",
                    "UPDATE bank.transactions SET card_id = NULL",
                    "ALTER TABLE bank.transactions ENABLE TRIGGER transactions_append_only",
                ] + backfill {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: quietLogger)
                }
                try await connection.query("COMMIT", logger: quietLogger)
            }
            // The three approved ones get Alice's card back; the refused one and the teller's none.
            #expect(try await bank.count(recorded) == 3)
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.transactions WHERE card_id IS NOT NULL AND response_code <> '00'"
                ) == 0
            )
            #expect(
                try await bank.count(
                    "SELECT count(DISTINCT kind)::int FROM bank.transactions WHERE card_id = \(holder.cardID)"
                ) == 3
            )
        }
    }
}
