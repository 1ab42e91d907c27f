import ATM87
import CashpointSecurity
public import Foundation

/// The operator's commands on a terminal's data folder: read the journal, verify its chain, show the
/// totals, the queue and the cassettes, replenish, reconcile. `atm-terminal` calls these.
public enum TerminalOperations {
    /// Why an operator's command could not be done; the sentence says what to do.
    public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    // MARK: Reading

    /// The journal's records, as text (one line each) or JSON (one object each, a JSON array).
    public static func journal(
        _ journal: ElectronicJournal,
        session: Int64? = nil,
        since: Int64? = nil,
        json: Bool = false
    ) throws -> String {
        let records = try journal.records(session: session, since: since)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(records), as: UTF8.self)
        }
        return records.map { record in
            var line = "\(String(record.seq).leftPadded(6, " ")) \(record.time) "
            line += (record.session.map { "s\($0)" } ?? "-").padding(toLength: 7, withPad: " ", startingAt: 0)
            line += (record.stan ?? "-").padding(toLength: 7, withPad: " ", startingAt: 0)
            line += record.kind.padding(toLength: 20, withPad: " ", startingAt: 0)
            line += record.detail.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value.replacingOccurrences(of: "\n", with: " / "))" }
                .joined(separator: " ")
            return line
        }.joined(separator: "\n")
    }

    /// `journal verify`: the chain, with every problem named; `ok` false when any.
    public static func verify(_ journal: ElectronicJournal) throws -> (text: String, ok: Bool) {
        let result = try journal.verify()
        if result.isIntact {
            return ("journal verify: OK, \(result.records) records, the chain intact", true)
        }
        return ((["journal verify: \(result.problems.count) problem(s) in \(result.records) records"] + result.problems.map { "  " + $0 })
            .joined(separator: "\n"), false)
    }

    /// The totals since the last cutover, and the cassettes.
    public static func totals(_ journal: ElectronicJournal, currency: String) throws -> String {
        let records = try journal.records()
        let totals = TerminalTotals.since(lastCutoverIn: records)
        let since = records.last { $0.kind == "cutover" }.map { "since the cutover at \($0.time)" } ?? "since the journal began"
        return (["Totals \(since):"] + totals.lines(currency: currency) + [""] + (try Self.cassettes(journal)))
            .joined(separator: "\n")
    }

    /// The store-and-forward queue: every entry not settled, newest last.
    public static func saf(_ journal: ElectronicJournal) throws -> String {
        let entries = try journal.safEntries(states: [.queued, .operator, .armed, .done])
        guard !entries.isEmpty else { return "The store-and-forward queue is empty." }
        return (["  id  state     original  card              amount  dispensed  attempts  last  reason"]
            + entries.map { entry in
                [
                    String(entry.id).leftPadded(4, " "), entry.state.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0),
                    entry.originalSTAN.padding(toLength: 9, withPad: " ", startingAt: 0),
                    entry.maskedPAN.padding(toLength: 16, withPad: " ", startingAt: 0),
                    ScreenText.money(entry.amount).leftPadded(8, " "), ScreenText.money(entry.dispensed).leftPadded(10, " "),
                    String(entry.attempts).leftPadded(9, " "), (entry.lastCode ?? "-").leftPadded(5, " "),
                    entry.reason ?? "",
                ].joined(separator: " ")
            } + [
                "",
                "operator: an entry the switch refused, or tried as often as forwarding.maxAttempts allows; settle it with the bank.",
            ]).joined(separator: "\n")
    }

    public static func cassettes(_ journal: ElectronicJournal) throws -> [String] {
        guard let cassettes = try journal.cassettes() else { return ["No cassette counts recorded yet."] }
        let held = MachineCash(cassettes: cassettes, since: try journal.records())
        return ["Cassettes:"]
            + cassettes.enumerated().map { index, cassette in
                "  \(index + 1): \(ScreenText.cash(cassette.denomination, currency: cassette.currency)) x \(cassette.count) (\(cassette.state.rawValue))"
            } + [
                "  deposit bin: \(ScreenText.money(held.depositBin))",
                "  retract bin: \(ScreenText.money(held.retractBin))",
                "  cash in the machine: \(ScreenText.money(held.total))",
            ]
    }

    // MARK: With the switch

    /// Signs on and runs `body` with the terminal's session (`TerminalSession.withSignedOn`).
    static func withSession<T: Sendable>(
        _ configuration: TerminalConfiguration,
        _ body: (TerminalSession) async throws -> T
    ) async throws -> T {
        do {
            return try await TerminalSession.withSignedOn(configuration, body)
        } catch let error as SignOnRefused {
            throw Failure(error.description)
        } catch let error as LinkError {
            throw Failure("\(configuration.switchesText) cannot be reached (\(error)); nothing changed")
        }
    }

    /// New cassettes: the cash taken out and the cash put in go to the switch (0600 REPLENISH), so the
    /// ledger moves them between the vault and the terminal's cash account; then the new counts are
    /// journalled. Needs the terminal out of service (its lock).
    public static func replenish(
        _ configuration: TerminalConfiguration,
        journal: ElectronicJournal,
        counts: [Int]
    ) async throws -> String {
        // A terminal never replenished is empty as far as the ledger knows: its first replenishment loads it.
        let old = try journal.cassettes() ?? configuration.cassettes.map { cassette in
            var empty = cassette
            empty.count = 0
            return empty
        }
        guard counts.count == old.count else {
            throw Failure("give one count per cassette: \(old.count) cassettes, \(counts.count) counts")
        }
        guard counts.allSatisfy({ (0...10_000).contains($0) }) else {
            throw Failure("a count is 0 to 10000 notes")
        }
        var new = old
        for index in new.indices { new[index].count = counts[index] }
        // Out: what was left in the cassettes and the bins; in: the new cassettes.
        let unloaded = MachineCash(cassettes: old, since: try journal.records()).total
        let loaded = MachineCash.total(new)
        let answer = try await Self.withSession(configuration) { session in
            try await session.administrative(.replenish, [(.unloaded, String(unloaded)), (.loaded, String(loaded))])
        }
        let code = answer[39] ?? ""
        let tlv = answer[48].flatMap { try? ATM87TLV(parsing: $0) }
        guard code == "00" else {
            try journal.append(
                JournalEntry("operator.replenish.refused", stan: answer[11], ["code": code, "reason": answer[44] ?? ""])
            )
            throw Failure("the switch refused the replenishment (\(code)\(answer[44].map { ": \($0)" } ?? "")); the counts are unchanged")
        }
        try journal.write { journal in
            try journal.saveCassettes(new)
            try journal.append(
                JournalEntry(
                    "operator.replenish",
                    stan: answer[11],
                    [
                        "before": ElectronicJournal.counts(old), "after": ElectronicJournal.counts(new),
                        "unloaded": String(unloaded), "loaded": String(loaded), "ledgerCash": tlv?[.cashHeld] ?? "",
                    ]
                )
            )
        }
        return (["Replenished: \(ScreenText.money(unloaded)) taken out, \(ScreenText.money(loaded)) put in."]
            + (tlv?[.cashHeld].map { ["The ledger's cash for \(configuration.terminal): \(Self.signed($0))"] } ?? [])
            + (try Self.cassettes(journal))).joined(separator: "\n")
    }

    /// End of day: the totals since the last cutover go to the switch (0500), which answers with its
    /// own from the ledger (0510: 00 in balance, 95 not); both close the period. The comparison and the
    /// ledger's cash against the cassettes are journalled and returned; `balanced` false on a difference.
    public static func reconcile(
        _ configuration: TerminalConfiguration,
        journal: ElectronicJournal,
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> (text: String, balanced: Bool) {
        let waiting = try journal.safEntries(states: [.armed, .queued])
        guard waiting.isEmpty else {
            throw Failure(
                "\(waiting.count) reversal advice(s) still wait in the queue (atm-terminal saf): start the ATM so it sends them, then reconcile, so each reversal falls in its original's period"
            )
        }
        let totals = TerminalTotals.since(lastCutoverIn: try journal.records())
        let answer = try await Self.withSession(configuration) { session in
            var request = try session.header(.reconciliationRequest)
            let date = CivilDate(unixSeconds: Int(now().timeIntervalSince1970))
            try request.set(15, String(date.month).leftPadded(2) + String(date.day).leftPadded(2))
            try request.set(50, configuration.currency)
            try totals.reconciliation.write(into: &request)
            return try await session.send(request)
        }
        let code = answer[39] ?? ""
        guard code == "00" || code == "95", let figures = try? ReconciliationTotals(message: answer) else {
            try journal.append(JournalEntry("reconcile.refused", stan: answer[11], ["code": code, "reason": answer[44] ?? ""]))
            throw Failure("the switch did not reconcile (\(code)\(answer[44].map { ": \($0)" } ?? "")); the period stays open")
        }
        let theirs = TerminalTotals(figures)
        let differences = totals.differences(from: theirs)
        let tlv = answer[48].flatMap { try? ATM87TLV(parsing: $0) }
        let ledgerCash = tlv?[.cashHeld]
        let held = MachineCash(cassettes: try journal.cassettes() ?? [], since: try journal.records())
        let counted = held.total
        let parts = held.retractBin == 0 ? "cassettes and deposit bin" : "cassettes, deposit and retract bins"
        var cashLine: String?
        if let ledgerCash, let ledger = try? SignedAmount.decode(Substring(ledgerCash), field: 48) {
            cashLine =
                ledger == counted
                ? "Cash: the ledger and the machine (\(parts)) agree on \(ScreenText.money(counted))."
                : "Cash: the ledger says \(ScreenText.money(ledger)), the machine (\(parts)) holds \(ScreenText.money(counted)) (difference \(ScreenText.money(counted - ledger)))."
        }
        try journal.append(
            JournalEntry(
                "cutover",
                stan: answer[11],
                [
                    "code": code, "balanced": differences.isEmpty ? "yes" : "no",
                    "terminal": Self.figures(totals), "switch": Self.figures(theirs),
                    "differences": differences.joined(separator: "; "), "ledgerCash": ledgerCash ?? "",
                    "cassetteCash": String(counted),
                ]
            )
        )
        var lines = ["Reconciliation of \(configuration.terminal): \(differences.isEmpty ? "in balance (00)" : "DIFFERENCE (\(code))")"]
        lines += ["", "This terminal:"] + totals.lines(currency: configuration.currency)
        lines += ["", "The switch:"] + theirs.lines(currency: configuration.currency)
        if !differences.isEmpty { lines += [""] + differences.map { "differs: " + $0 } }
        if let cashLine { lines += ["", cashLine] }
        lines += ["", "The period is closed on both sides (cutover)."]
        return (lines.joined(separator: "\n"), differences.isEmpty)
    }

    static func figures(_ totals: TerminalTotals) -> String {
        "W \(totals.withdrawals.count)/\(totals.withdrawals.amount) WR \(totals.withdrawalReversals.count)/\(totals.withdrawalReversals.amount) "
            + "D \(totals.deposits.count)/\(totals.deposits.amount) DR \(totals.depositReversals.count)/\(totals.depositReversals.amount) "
            + "T \(totals.transfers.count)/\(totals.transfers.amount)"
    }

    static func signed(_ value: String) -> String {
        (try? SignedAmount.decode(Substring(value), field: 48)).map { ScreenText.money($0) } ?? value
    }
}

extension ElectronicJournal {
    static func counts(_ cassettes: [Cassette]) -> String {
        cassettes.map { "\($0.count) x \(ScreenText.money($0.denomination)) \($0.currency)" }.joined(separator: ", ")
    }
}

/// The cash an ATM holds, as its journal knows it: the cassettes, the deposit bin (deposits approved
/// since the last replenishment) and the retract bin (cash presented, not taken, and drawn back in
/// since then). The one count of it: the totals, the replenishment's "taken out" and the end of day's
/// comparison with the ledger all use it.
public struct MachineCash: Sendable, Hashable {
    public var cassettes: Int64
    public var depositBin: Int64
    public var retractBin: Int64

    public var total: Int64 { self.cassettes + self.depositBin + self.retractBin }

    public init(cassettes: [Cassette], since records: [JournalRecord]) {
        let start = records.lastIndex { $0.kind == "operator.replenish" }.map { $0 + 1 } ?? 0
        let period = records[start...]
        self.cassettes = Self.total(cassettes)
        self.depositBin = period.filter {
            $0.kind == "answer.received" && $0.detail["code"] == "00"
                && ($0.detail["processingCode"] ?? "").hasPrefix(ProcessingCode.TransactionType.deposit.rawValue)
        }.reduce(Int64(0)) { $0 + (Int64($1.detail["amount"] ?? "") ?? 0) }
        self.retractBin = period.filter { $0.kind == "cash.retracted" }
            .reduce(Int64(0)) { $0 + (Int64($1.detail["amount"] ?? "") ?? 0) }
    }

    public static func total(_ cassettes: [Cassette]) -> Int64 {
        cassettes.reduce(Int64(0)) { $0 + $1.denomination * Int64($1.count) }
    }
}
