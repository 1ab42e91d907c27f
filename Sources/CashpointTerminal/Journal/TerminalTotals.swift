public import ATM87
import Foundation

/// A terminal's counts and amounts over a period, as a 0500 carries them (fields 74-77, 86-89, 97 and
/// transfers in 48) and a 0510 answers them. Amounts in minor units.
public struct TerminalTotals: Sendable, Hashable, Codable {
    /// Credits: deposits (cash into the terminal).
    public var deposits = Tally()
    /// Debits: withdrawals (cash out of it).
    public var withdrawals = Tally()
    /// Reversed deposits: the amount given back.
    public var depositReversals = Tally()
    /// Reversed withdrawals: the amount put back on the customers' accounts.
    public var withdrawalReversals = Tally()
    public var transfers = Tally()

    public struct Tally: Sendable, Hashable, Codable {
        public var count: Int = 0
        public var amount: Int64 = 0

        public init(count: Int = 0, amount: Int64 = 0) {
            self.count = count
            self.amount = amount
        }

        mutating func add(_ amount: Int64) {
            self.count += 1
            self.amount += amount
        }
    }

    public init() {}

    /// Cash into the terminal less cash out, over the period (field 97).
    public var net: Int64 {
        (self.deposits.amount - self.depositReversals.amount) - (self.withdrawals.amount - self.withdrawalReversals.amount)
    }

    /// The totals since the last cutover, from the journal's records: approved withdrawals, deposits
    /// and transfers (their answers), and accepted reversals (the part put back: amount less dispensed).
    public static func since(lastCutoverIn records: [JournalRecord]) -> TerminalTotals {
        let start = records.lastIndex { $0.kind == "cutover" }.map { $0 + 1 } ?? 0
        var totals = TerminalTotals()
        for record in records[start...] {
            switch record.kind {
            case "answer.received" where record.detail["code"] == "00":
                let amount = Int64(record.detail["amount"] ?? "") ?? 0
                switch record.detail["processingCode"].flatMap({ try? ProcessingCode(field: $0) })?.transaction {
                case .withdrawal: totals.withdrawals.add(amount)
                case .deposit: totals.deposits.add(amount)
                case .transfer: totals.transfers.add(amount)
                default: break
                }
            case "reversal.answered" where record.detail["code"] == "00":
                // The amount put back: the switch's own figure when its 0430 gives one (field 48 `RV`),
                // else, for an approved original, what was not dispensed. A reversal of an original whose
                // answer never came counts that original too, when the switch says it had posted it.
                guard let reversed = Int64(record.detail["reversed"] ?? ""), reversed > 0 else { continue }
                let original = Int64(record.detail["amount"] ?? "") ?? 0
                let unanswered = (record.detail["originalAnswer"] ?? "").isEmpty
                switch record.detail["processingCode"].flatMap({ try? ProcessingCode(field: $0) })?.transaction {
                case .withdrawal:
                    if unanswered { totals.withdrawals.add(original) }
                    totals.withdrawalReversals.add(reversed)
                case .deposit:
                    if unanswered { totals.deposits.add(original) }
                    totals.depositReversals.add(reversed)
                default: break
                }
            default:
                break
            }
        }
        return totals
    }

    // MARK: On the wire

    /// Sets the 0500's (or 0510's) reconciliation fields.
    public func set(on message: inout ATM87Message) throws {
        try message.set(74, Self.digits(Int64(self.deposits.count), 10))
        try message.set(75, Self.digits(Int64(self.depositReversals.count), 10))
        try message.set(76, Self.digits(Int64(self.withdrawals.count), 10))
        try message.set(77, Self.digits(Int64(self.withdrawalReversals.count), 10))
        try message.set(86, Self.digits(self.deposits.amount, 16))
        try message.set(87, Self.digits(self.depositReversals.amount, 16))
        try message.set(88, Self.digits(self.withdrawals.amount, 16))
        try message.set(89, Self.digits(self.withdrawalReversals.amount, 16))
        try message.set(97, (self.net < 0 ? "D" : "C") + Self.digits(abs(self.net), 16))
        var tlv = ATM87TLV()
        tlv.append(Self.transferCountTag, String(self.transfers.count))
        tlv.append(Self.transferAmountTag, String(self.transfers.amount))
        try message.set(48, tlv.encoded)
    }

    /// The figures of a 0510 (nil where a field is missing or not a number).
    public init?(from message: ATM87Message) {
        func count(_ field: Int) -> Int? { message[field].flatMap { Int($0) } }
        func amount(_ field: Int) -> Int64? { message[field].flatMap { Int64($0) } }
        guard let creditCount = count(74), let debitCount = count(76), let creditAmount = amount(86),
            let debitAmount = amount(88)
        else { return nil }
        self.deposits = Tally(count: creditCount, amount: creditAmount)
        self.withdrawals = Tally(count: debitCount, amount: debitAmount)
        self.depositReversals = Tally(count: count(75) ?? 0, amount: amount(87) ?? 0)
        self.withdrawalReversals = Tally(count: count(77) ?? 0, amount: amount(89) ?? 0)
        if let field = message[48], let tlv = try? ATM87TLV(parsing: field) {
            self.transfers = Tally(
                count: tlv[Self.transferCountTag].flatMap { Int($0) } ?? 0,
                amount: tlv[Self.transferAmountTag].flatMap { Int64($0) } ?? 0
            )
        }
    }

    /// Each figure that differs, in words: `withdrawals: 3 for 120.00 here, 4 for 170.00 at the switch`.
    public func differences(from other: TerminalTotals) -> [String] {
        let pairs: [(String, Tally, Tally)] = [
            ("withdrawals", self.withdrawals, other.withdrawals),
            ("withdrawal reversals", self.withdrawalReversals, other.withdrawalReversals),
            ("deposits", self.deposits, other.deposits),
            ("deposit reversals", self.depositReversals, other.depositReversals),
            ("transfers", self.transfers, other.transfers),
        ]
        return pairs.filter { $0.1 != $0.2 }.map { name, mine, theirs in
            "\(name): \(mine.count) for \(ScreenText.money(mine.amount)) here, \(theirs.count) for \(ScreenText.money(theirs.amount)) at the switch"
        }
    }

    /// A table of the figures.
    public func lines(currency: String) -> [String] {
        [
            ("Withdrawals", self.withdrawals), ("Withdrawal reversals", self.withdrawalReversals),
            ("Deposits", self.deposits), ("Deposit reversals", self.depositReversals), ("Transfers", self.transfers),
        ].map { name, tally in
            name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(tally.count).leftPadded(5, " ")
                + ScreenText.cash(tally.amount, currency: currency).leftPadded(18, " ")
        } + ["Net cash in (out)".padding(toLength: 27, withPad: " ", startingAt: 0) + ScreenText.cash(self.net, currency: currency).leftPadded(18, " ")]
    }

    static func digits(_ value: Int64, _ width: Int) -> String { String(value).leftPadded(width) }

    /// Field 48 of a 0500 and its 0510: transfers' number and amount (minor units), and the cash the
    /// ledger says the terminal holds (`CB`, `C`/`D` and 12 digits, 0510 only).
    public static let transferCountTag = "TN"
    public static let transferAmountTag = "TA"
}

extension String {
    func leftPadded(_ width: Int, _ pad: Character) -> String {
        self.count >= width ? self : String(repeating: pad, count: width - self.count) + self
    }
}
