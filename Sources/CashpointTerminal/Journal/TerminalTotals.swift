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

    /// The totals since the last cutover, from the journal's records, counted as docs/protocol.md says
    /// both sides count: approved withdrawals, deposits and transfers (their answers); a reversal that
    /// gave money back under its original's type; an original reversed in full in the same period, and
    /// its reversal, nowhere; a full reversal of an original approved in an earlier period as a
    /// reversal; an original never answered and reversed in full nowhere.
    public static func since(lastCutoverIn records: [JournalRecord]) -> TerminalTotals {
        let start = records.lastIndex { $0.kind == "cutover" }.map { $0 + 1 } ?? 0
        let period = records[start...]
        typealias Original = (type: ProcessingCode.TransactionType, amount: Int64)
        var approved: [String: Original] = [:]
        var order: [String] = []
        var reversals: [(type: ProcessingCode.TransactionType, amount: Int64)] = []
        for record in period {
            let type = record.detail["processingCode"].flatMap { try? ProcessingCode(field: $0) }?.transaction
            let amount = Int64(record.detail["amount"] ?? "") ?? 0
            switch record.kind {
            case "answer.received" where record.detail["code"] == "00":
                guard let type, type.movesMoney, let stan = record.stan else { continue }
                approved[stan] = (type, amount)
                order.append(stan)
            case "reversal.answered" where record.detail["code"] == "00":
                guard let type, type != .transfer else { continue }
                let dispensed = Int64(record.detail["dispensed"] ?? "") ?? 0
                let original = record.detail["original"] ?? ""
                if dispensed > 0 {
                    reversals.append((type, amount - dispensed))
                } else if approved.removeValue(forKey: original) != nil {
                    // Reversed in full within the period: neither it nor its original counts.
                } else if record.detail["originalAnswer"] == "00" {
                    reversals.append((type, amount))
                }
            default:
                break
            }
        }
        var totals = TerminalTotals()
        for stan in order {
            guard let original = approved[stan] else { continue }
            switch original.type {
            case .withdrawal: totals.withdrawals.add(original.amount)
            case .deposit: totals.deposits.add(original.amount)
            case .transfer: totals.transfers.add(original.amount)
            default: break
            }
        }
        for reversal in reversals {
            switch reversal.type {
            case .withdrawal: totals.withdrawalReversals.add(reversal.amount)
            case .deposit: totals.depositReversals.add(reversal.amount)
            default: break
            }
        }
        return totals
    }

    // MARK: On the wire

    /// The figures as the 0500 carries them.
    public var reconciliation: ReconciliationTotals {
        ReconciliationTotals(
            credits: Int64(self.deposits.count),
            creditsAmount: self.deposits.amount,
            creditReversals: Int64(self.depositReversals.count),
            creditReversalsAmount: self.depositReversals.amount,
            debits: Int64(self.withdrawals.count),
            debitsAmount: self.withdrawals.amount,
            debitReversals: Int64(self.withdrawalReversals.count),
            debitReversalsAmount: self.withdrawalReversals.amount,
            transfers: Int64(self.transfers.count),
            transfersAmount: self.transfers.amount
        )
    }

    /// The figures of a 0510.
    public init(_ figures: ReconciliationTotals) {
        self.deposits = Tally(count: Int(figures.credits), amount: figures.creditsAmount)
        self.depositReversals = Tally(count: Int(figures.creditReversals), amount: figures.creditReversalsAmount)
        self.withdrawals = Tally(count: Int(figures.debits), amount: figures.debitsAmount)
        self.withdrawalReversals = Tally(count: Int(figures.debitReversals), amount: figures.debitReversalsAmount)
        self.transfers = Tally(count: Int(figures.transfers), amount: figures.transfersAmount)
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


}

extension String {
    func leftPadded(_ width: Int, _ pad: Character) -> String {
        self.count >= width ? self : String(repeating: pad, count: width - self.count) + self
    }
}
