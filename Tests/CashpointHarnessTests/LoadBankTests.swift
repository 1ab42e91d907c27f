import ATM87
import CashpointHarness
import CashpointSecurity
import CashpointStore
import Foundation
import Testing

@Suite("harness: the load's bank and terminals")
struct LoadBankTests {
    func fixture(terminals: Int) throws -> BankFixture {
        try JSONDecoder().decode(BankFixture.self, from: try LoadBank.fixtureJSON(terminals: terminals))
    }

    @Test("a load bank is a fixture the seeder takes: N ATMs with test keys, a two-account card each")
    func fixtureIsValid() throws {
        let bank = try self.fixture(terminals: 40)
        try Seeder.validate(bank, hasSwitchKey: true)
        #expect(bank.terminals.map(\.id).prefix(2) == ["LOAD0001", "LOAD0002"])
        #expect(bank.terminals.allSatisfy { $0.kind == "atm" && $0.masterKey != nil })
        #expect(Set(bank.terminals.compactMap(\.masterKey)).count == 40)
        let cards = bank.customers.flatMap(\.cards)
        #expect(cards.count == 40)
        #expect(Set(cards.map(\.pan)).count == 40)
        #expect(cards.allSatisfy { Luhn.isValidPAN($0.pan) && $0.accounts.count == 2 })
        // Money for any run: no 51 (insufficient funds), 61 or 65 (daily limits) from a load.
        for account in bank.customers.flatMap(\.accounts) {
            #expect(account.opening >= 10_000_000_000)
            #expect((account.dailyLimit ?? 0) >= 1_000_000_000_000)
            #expect((account.dailyCount ?? 0) >= 1_000_000_000)
        }
    }

    @Test("terminal i gets its own card, and the master key that the fixture seeds")
    func terminalsFromLoadBank() throws {
        let bank = try self.fixture(terminals: 3)
        let terminals = try SwitchLoad.terminals(3, from: bank)
        #expect(terminals.map(\.id) == ["LOAD0001", "LOAD0002", "LOAD0003"])
        #expect(terminals.map(\.pan) == (1...3).map(LoadBank.pan))
        #expect(terminals[1].accounts.first == "LC0000000002")
        #expect(terminals[1].accounts.second == "LS0000000002")
        let key = try SecretKey(hex: LoadBank.masterKeyHex(terminal: "LOAD0002"), name: "test")
        #expect(KeyCheckValue.of(terminals[1].masterKey) == KeyCheckValue.of(key.key))
    }

    @Test("more terminals than the fixture has ATMs is refused, saying how to make a bigger bank")
    func tooManyTerminals() throws {
        let error = try #require(throws: LoadFailure.self) {
            try SwitchLoad.terminals(4, from: try self.fixture(terminals: 3))
        }
        #expect(error.kind == .fixture)
        #expect(error.reason.contains("atm-harness load-bank --terminals 4"))
    }

    @Test("the demo bank drives its two ATMs with the card that names two accounts")
    func demoBank() throws {
        let bank = try BankFixture.load(repositoryFile("fixtures/bank.json"))
        let terminals = try SwitchLoad.terminals(2, from: bank)
        #expect(terminals.map(\.id) == ["ATM00001", "ATM00002"])
        #expect(terminals.allSatisfy { $0.pan == "4761739001010119" })
        #expect(throws: LoadFailure.self) { try SwitchLoad.terminals(3, from: bank) }
    }
}
