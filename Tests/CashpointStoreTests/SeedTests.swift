import CashpointBank
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// A bad fixture is refused whole: nothing of it reaches the bank (issue 13, section 5).
@Suite("seeding is all or nothing", .serialized, .enabled(if: databaseTestsEnabled))
struct SeedTests {
    static let tables = [
        "bank.users", "bank.accounts", "bank.terminals", "bank.cards", "bank.card_accounts", "bank.transactions",
        "bank.history", "bank.audit_logs",
    ]

    /// Each table's row count and the settings, to compare before and after.
    static func snapshot(_ bank: TestBank) async throws -> [String] {
        var rows: [String] = []
        for table in Self.tables {
            rows.append("\(table): \(try await bank.count("SELECT count(*)::int FROM \(table)"))")
        }
        rows.append(
            "settings: "
                + String(try await bank.count("SELECT count(*)::int FROM bank.settings"))
        )
        return rows
    }

    static func broken(_ change: (inout BankFixture) -> Void) throws -> BankFixture {
        var fixture = try demoFixture()
        change(&fixture)
        return fixture
    }

    static let cases: [(String, String, @Sendable (inout BankFixture) -> Void)] = [
        ("a negative opening balance", "account CP0000000006: opening balance -5 is negative", {
            $0.customers[$0.customers.count - 1].accounts[0].opening = -5
        }),
        ("a bad PIN on the last card", "a PIN is 4-12 digits", {
            let last = $0.customers.count - 1
            $0.customers[last].cards[$0.customers[last].cards.count - 1].pin = "12a"
        }),
        ("a duplicate account number", "account number CP0000000001 appears twice", {
            $0.customers[$0.customers.count - 1].accounts[0].accountNo = "CP0000000001"
            $0.customers[$0.customers.count - 1].cards = []
        }),
        ("an identity with a nationality that is not ISO 3166 alpha-2", "customer hugo, identity: nationality", {
            $0.customers[$0.customers.count - 1].identity?.nationality = "Iran"
        }),
        ("a short master key", "terminal ATM00002: the master key must be 64 hex characters", {
            $0.terminals[1].masterKey = "0123456789ABCDEF"
        }),
        // Not caught by the check: the database refuses the last card's date, after everything else
        // has been written in the transaction.
        ("a date the database refuses on the last card", "customer hugo, card 476173******0663", {
            let last = $0.customers.count - 1
            $0.customers[last].cards[$0.customers[last].cards.count - 1].expiry = "2031-02-30"
        }),
    ]

    @Test("a bad fixture is refused naming the entry, and the bank is left exactly as it was", arguments: 0..<6)
    func refusedWhole(_ index: Int) async throws {
        let (_, expected, change) = Self.cases[index]
        let fixture = try Self.broken(change)
        try await TestBank.with { (bank: TestBank, service: Bank) async throws in
            let before = try await Self.snapshot(bank)
            let error = try await #require(throws: Seeder.SeedError.self) {
                try await Seeder.seed(fixture, store: service.store, hasher: testHasher, switchKey: testSwitchKey)
            }
            #expect(error.description.contains(expected), "\(error)")
            #expect(error.description.contains("nothing"), "\(error)")
            #expect(try await Self.snapshot(bank) == before)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.users") == 0)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.accounts") == 0)
            // The bank is still empty, so the good fixture loads after the bad one.
            _ = try await Seeder.seed(try demoFixture(), store: service.store, hasher: testHasher, switchKey: testSwitchKey)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.cards") == 6)
        }
    }
}
