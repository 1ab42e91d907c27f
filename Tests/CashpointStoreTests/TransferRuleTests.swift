import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// One rule for a card's money movements, in both layers: both accounts of a card transfer (and the
/// account a withdrawal or deposit uses) are accounts linked to that card. The permission table
/// (`Permissions`, the API layer) refuses any other with 57 before the database is asked; bank.post (the
/// SQL layer, the backstop) refuses the same requests with the same code when called directly as the
/// switch's role, the permission table bypassed.
@Suite("a card moves money only between its own accounts, in both layers", .serialized, .enabled(if: databaseTestsEnabled))
struct TransferRuleTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var kind: PostingKind
        var from: String?
        var to: String?
        var code: String
        var why: String
        var testDescription: String { "\(self.kind.rawValue) \(self.from ?? "-") → \(self.to ?? "-"): \(self.code), \(self.why)" }
    }

    /// Alice's card has CP0000000001 and CP0000000002; CP0000000099 is hers too but not on the card;
    /// CP0000000003 is Bob's.
    static let cases = [
        Case(kind: .transfer, from: "CP0000000001", to: "CP0000000002", code: "00", why: "both on the card"),
        Case(kind: .transfer, from: "CP0000000001", to: "CP0000000099", code: "57", why: "hers, not the card's"),
        Case(kind: .transfer, from: "CP0000000099", to: "CP0000000001", code: "57", why: "from hers, not the card's"),
        Case(kind: .transfer, from: "CP0000000001", to: "CP0000000003", code: "57", why: "another customer's"),
        Case(kind: .transfer, from: "CP0000000001", to: "CP0000009999", code: "57", why: "no such account"),
        Case(kind: .transfer, from: "CP0000000001", to: "CASHATM00001", code: "57", why: "the bank's own"),
        Case(kind: .withdrawal, from: "CP0000000099", to: nil, code: "57", why: "hers, not the card's"),
        Case(kind: .deposit, from: nil, to: "CP0000000099", code: "57", why: "hers, not the card's"),
    ]

    @Test("the permission table and bank.post give the same answer", arguments: Self.cases)
    func bothLayers(_ rule: Case) async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let teller = try await service.signedOnStaff("tina.teller", "teller-test-password")
            let card = service.present(pan: alicePAN)
            let opened = try await service.authenticateCard(card, pin: "1234", terminal: "ATM00001", ip: nil)
            guard case .approved(let holder) = opened else { throw TestFailure("alice's PIN was refused: \(opened)") }
            let account = try await service.perform(
                .openAccount(customerID: holder.userID, accountNo: "CP0000000099", name: "Alice extra", dailyLimit: nil, dailyCount: nil),
                by: teller,
                key: KeyMaker(terminal: "BRANCH01").next(),
                ip: nil
            )
            #expect(account.code == .approved)
            let total = "SELECT sum(balance)::int FROM bank.accounts WHERE kind = 'customer'"
            let before = try await bank.count(total)
            let tableRefusals = "SELECT count(*)::int FROM bank.audit_logs WHERE details->>'refused_by' = 'permission table'"

            // The API layer: the bank, as the switch calls it.
            let keys = KeyMaker()
            let operation: CardOperation =
                switch rule.kind {
                case .transfer: .transfer(amount: 100, from: rule.from, to: rule.to ?? "")
                case .withdrawal: .withdrawal(amount: 100, account: rule.from)
                case .deposit: .deposit(amount: 100, account: rule.to)
                }
            let api = try await service.perform(operation, for: holder, card: card, key: keys.next(), ip: nil)
            #expect(api.code.rawValue == rule.code)
            // Refused by the permission table itself, before the database was asked.
            #expect(try await bank.count(tableRefusals) == (rule.code == "00" ? 0 : 1))

            // The SQL layer: bank.post called directly as the switch's role, in the card's customer context.
            let sql = try await bank.asSwitchRole { connection in
                let key = keys.next()
                let rows = try await connection.query(
                    """
                    SELECT response_code FROM bank.post('customer', \(holder.userID), \(holder.cardID), \(holder.actorName),
                        NULL, 'ATM00001', 'ATM00001', \(key.stan), \(key.transmitted), '\\x01'::bytea,
                        \(rule.kind.rawValue), 100, \(rule.from), \(rule.to))
                    """,
                    logger: quietLogger
                )
                for try await code in rows.decode(String.self) { return code }
                throw TestFailure("bank.post returned no row")
            }
            #expect(sql == rule.code)
            if rule.code != "00" {
                #expect(try await bank.count(total) == before)
            }
        }
    }

    @Test("a customer context moves no money without a card, even between the customer's own accounts")
    func noCardNoMoney() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let opened = try await service.authenticateCard(service.present(pan: alicePAN), pin: "1234", terminal: "ATM00001", ip: nil)
            guard case .approved(let holder) = opened else { throw TestFailure("alice's PIN was refused: \(opened)") }
            let code = try await bank.asSwitchRole { connection in
                let rows = try await connection.query(
                    """
                    SELECT response_code FROM bank.post('customer', \(holder.userID), NULL, 'card:alice', NULL, 'ATM00001',
                        'ATM00001', '000901', '1125093112', '\\x01'::bytea, 'transfer', 100, 'CP0000000001', 'CP0000000002')
                    """,
                    logger: quietLogger
                )
                for try await code in rows.decode(String.self) { return code }
                throw TestFailure("bank.post returned no row")
            }
            #expect(code == "57")
            #expect(try await bank.balance("CP0000000001") == 250_000)
        }
    }
}
