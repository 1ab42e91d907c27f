import ATM87
import CashpointSecurity
public import CashpointStore
public import Crypto
import Foundation

/// The bank behind the simulated switch: the terminals' master keys, the cards (PIN, accounts) and the
/// accounts' balances, from a bank fixture (the script's `balances` over its openings), and what the
/// simulated switch posted, by the request's key (terminal, STAN, transmission time). Pure.
public struct SimulatedBank: Sendable {
    public struct Card: Sendable, Hashable {
        public var pin: String
        /// Default first.
        public var accounts: [String]

        public init(pin: String, accounts: [String]) {
            self.pin = pin
            self.accounts = accounts
        }
    }

    /// A posting: the accounts it moved and by how much; a withdrawal's reversal puts back what was not
    /// dispensed.
    struct Posting: Sendable, Hashable {
        var lines: [String: Int64]
        var withdrawal: Bool
        var amount: Int64
        var reversed = false
    }

    public var currency: String
    public var masterKeys: [String: SymmetricKey]
    public var cards: [String: Card]
    public var balances: [String: Int64]
    var postings: [String: Posting] = [:]
    /// Originals whose reversal came first: their key is taken, and they are answered 68.
    var claimed: Set<String> = []

    public init(
        currency: String = "978",
        masterKeys: [String: SymmetricKey],
        cards: [String: Card],
        balances: [String: Int64]
    ) {
        self.currency = currency
        self.masterKeys = masterKeys
        self.cards = cards
        self.balances = balances
    }

    /// A bank fixture's terminals (those with a test master key), cards and opening balances, with
    /// `balances` over them.
    public init(fixture: BankFixture, balances overrides: [String: Int64] = [:]) throws(HostScriptError) {
        var keys: [String: SymmetricKey] = [:]
        for terminal in fixture.terminals {
            guard let hex = terminal.masterKey else { continue }
            do {
                keys[terminal.id] = try SecretKey(hex: hex, name: "master key of \(terminal.id)").key
            } catch {
                throw HostScriptError(.badValue, "fixture", error.description)
            }
        }
        var cards: [String: Card] = [:]
        var balances: [String: Int64] = [:]
        for customer in fixture.customers {
            for account in customer.accounts { balances[account.accountNo] = account.opening }
            for card in customer.cards { cards[card.pan] = Card(pin: card.pin, accounts: card.accounts) }
        }
        for (account, balance) in overrides { balances[account] = balance }
        self.init(currency: fixture.currency, masterKeys: keys, cards: cards, balances: balances)
    }

    /// A bank fixture file, with `balances` over its openings.
    public static func load(_ path: String, balances: [String: Int64] = [:]) throws(HostScriptError) -> SimulatedBank {
        let fixture: BankFixture
        do {
            fixture = try BankFixture.load(path)
        } catch {
            throw HostScriptError(.unreadable, path, "is not a bank fixture: \(error)")
        }
        return try SimulatedBank(fixture: fixture, balances: balances)
    }

    /// The decision on an authorised 0200 (PIN or token already checked): its response code and the
    /// account whose balance the answer shows. Posts what it approves under `key`.
    mutating func decide(_ request: ATM87Message, card: Card, key: String) -> (code: String, account: String?) {
        if self.claimed.contains(key) { return ("68", nil) }
        if let posted = self.postings[key] {
            // A repeat of a request already posted: the same decision, nothing moved again.
            return (posted.reversed ? "68" : "00", request[102] ?? card.accounts.first)
        }
        guard request[49] == self.currency else { return ("12", nil) }
        let from = request[102] ?? card.accounts.first
        guard let from, card.accounts.contains(from), self.balances[from] != nil else { return ("76", nil) }
        let amount = Int64(request[4] ?? "") ?? 0
        let balance = self.balances[from] ?? 0
        switch String((request[3] ?? "").prefix(2)) {
        case "31", "38", "92":
            return ("00", from)
        case "01":
            guard amount > 0 else { return ("13", nil) }
            guard balance >= amount else { return ("51", from) }
            self.post(key, [from: -amount], withdrawal: true, amount: amount)
            return ("00", from)
        case "21":
            guard amount > 0 else { return ("13", nil) }
            let to = request[103] ?? from
            guard self.balances[to] != nil else { return ("77", nil) }
            self.post(key, [to: amount], withdrawal: false, amount: amount)
            return ("00", to)
        case "40":
            guard amount > 0 else { return ("13", nil) }
            guard let to = request[103], to != from, self.balances[to] != nil else { return ("77", nil) }
            guard balance >= amount else { return ("51", from) }
            self.post(key, [from: -amount, to: amount], withdrawal: false, amount: amount)
            return ("00", from)
        default:
            return ("12", nil)
        }
    }

    mutating func post(_ key: String, _ lines: [String: Int64], withdrawal: Bool, amount: Int64) {
        for (account, delta) in lines { self.balances[account, default: 0] += delta }
        self.postings[key] = Posting(lines: lines, withdrawal: withdrawal, amount: amount)
    }

    /// A reversal of the original under `key`: a posted original is put back (a withdrawal less what
    /// was `dispensed`), once; an original not seen yet has its key claimed. 51 when it would take an
    /// account below zero (a deposit spent since).
    mutating func reverse(_ key: String, dispensed: Int64) -> String {
        guard var posting = self.postings[key] else {
            self.claimed.insert(key)
            return "00"
        }
        guard !posting.reversed else { return "00" }
        var lines: [String: Int64] = [:]
        if posting.withdrawal {
            for (account, _) in posting.lines { lines[account] = max(0, posting.amount - dispensed) }
        } else {
            for (account, delta) in posting.lines { lines[account] = -delta }
        }
        if lines.contains(where: { (self.balances[$0.key] ?? 0) + $0.value < 0 }) { return "51" }
        for (account, delta) in lines { self.balances[account, default: 0] += delta }
        posting.reversed = true
        self.postings[key] = posting
        return "00"
    }

    /// The balance field (54) of an account.
    func balanceField(_ account: String) -> String {
        AdditionalAmount(amount: self.balances[account] ?? 0, currency: self.currency).field
    }
}
