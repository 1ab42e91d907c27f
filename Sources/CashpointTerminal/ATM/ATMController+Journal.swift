import ATM87
import Foundation

/// The controller's journal and store-and-forward: what it records, what it does after a restart,
/// and how it drains the queue of reversal advices.
extension ATMController {
    func millisecondsNow() -> Int64 { Int64((self.now().timeIntervalSince1970 * 1_000).rounded()) }

    /// A record of the current card session, with the STAN of its last request.
    func entry(_ kind: String, _ detail: [String: String] = [:]) -> JournalEntry {
        JournalEntry(kind, session: self.cardSession, stan: self.cardSession == nil ? nil : self.lastSTAN, detail)
    }

    /// Appends a record (and, for an answer, keeps its code with the armed queue entry, settling a
    /// refused request). A journal that cannot be written is shown; the machine goes on.
    @discardableResult
    func record(_ entry: JournalEntry, answered code: String? = nil) -> Int64? {
        do {
            return try self.journal.write { journal in
                let seq = try journal.append(entry)
                if let code, let armed = self.armed {
                    try journal.answered(armed, code: code)
                }
                return seq
            }
        } catch {
            self.frontEnd.device("the journal could not be written: \(error)")
            return nil
        }
    }

    /// Key classes only: never which digits (a PIN's, a card number's).
    func recordKeys(_ input: ATMInput) {
        let keys: String
        switch input {
        case .key(.digit): keys = "digit"
        case .key(.enter): keys = "enter"
        case .key(.clear): keys = "clear"
        case .key(.cancel): keys = "cancel"
        case .key(.function(let key)): keys = "function \(key.rawValue)"
        case .typed(let digits): keys = "\(digits.count) digits, enter"
        case .insertCard: keys = "card reader"
        case .take: keys = "take"
        case .quit: keys = "quit"
        }
        self.record(self.entry("keys", ["keys": keys]))
    }

    func recordEvent(_ event: ATMJournalEvent) {
        switch event {
        case .cardInserted, .requestSent, .answerReceived, .dispensed, .reversalOrdered:
            // Recorded where they happen, with what the session does not know (the STAN, the PAN's mask,
            // the queue entry).
            break
        case .outcomeInDoubt(let reason):
            self.record(self.entry("doubt", ["reason": reason.rawValue]))
        case .dispensePlanned(let plan):
            self.record(self.entry("dispense.planned", ["notes": Self.notes(plan, self.session.cassettes)]))
        case .cashPresented(let amount):
            self.record(self.entry("cash.presented", ["amount": String(amount)]))
        case .cashTaken:
            self.record(self.entry("cash.taken"))
        case .cashRetracted:
            self.record(self.entry("cash.retracted"))
        case .cardReturned:
            self.record(self.entry("card.returned"))
        case .cardTaken:
            self.record(self.entry("card.taken"))
        case .cardCaptured(let reason):
            self.record(self.entry("card.captured", ["reason": reason]))
        case .receiptPrinted:
            break
        case .timedOut(let timer):
            self.record(self.entry("timeout", ["timer": "\(timer)"]))
        case .transactionCompleted:
            guard let armed = self.armed else { return }
            self.armed = nil
            do {
                try self.journal.write { journal in
                    try journal.settle(armed)
                    try journal.append(self.entry("transaction.completed", ["queue": String(armed)]))
                }
            } catch {
                self.frontEnd.device("the journal could not be written: \(error)")
            }
        }
    }

    /// The dispense and the cassette counts after it, in one transaction, before the cash is presented.
    func recordDispense(planned: DispensePlan, given: DispensePlan, complete: Bool) {
        let cassettes = self.session.cassettes
        var after = cassettes
        for (index, notes) in given.notes.enumerated() where index < after.count {
            after[index].count = max(0, after[index].count - notes)
        }
        let amount = given.amount(of: cassettes)
        do {
            try self.journal.write { journal in
                try journal.append(
                    self.entry(
                        complete ? "dispensed" : "dispense.failed",
                        ["notes": Self.notes(given, cassettes), "amount": String(amount), "planned": Self.notes(planned, cassettes)]
                    )
                )
                try journal.saveCassettes(after)
                if let armed = self.armed { try journal.dispensed(armed, amount: amount) }
            }
        } catch {
            self.frontEnd.device("the journal could not be written: \(error)")
        }
    }

    static func notes(_ plan: DispensePlan, _ cassettes: [Cassette]) -> String {
        zip(plan.notes, cassettes).filter { $0.0 > 0 }
            .map { "\($0.0) x \(ScreenText.money($0.1.denomination))" }
            .joined(separator: ", ")
    }

    /// At start: the journal says what was in flight when the terminal last stopped. A request sent
    /// with no answer recorded, or a withdrawal approved whose cash was not all given and taken,
    /// becomes a queued reversal (for the amount not given); anything else is settled.
    func recover() {
        do {
            let counted = try self.journal.cassettes() != nil
            try self.journal.write { journal in
                try journal.append(JournalEntry("terminal.start", ["terminal": self.configuration.terminal]))
                if !counted {
                    try journal.saveCassettes(self.session.cassettes)
                    try journal.append(
                        JournalEntry("cassettes.loaded", ["from": "configuration", "counts": ElectronicJournal.counts(self.session.cassettes)])
                    )
                }
                for entry in try journal.armed() {
                    let withdrawal = entry.processingCode.hasPrefix(ProcessingCode.TransactionType.withdrawal.rawValue)
                    switch entry.answerCode {
                    case nil:
                        try journal.queue(entry.id, dispensed: entry.dispensed, reason: "noAnswerBeforeStop", due: self.millisecondsNow())
                        try journal.append(
                            JournalEntry(
                                "doubt",
                                stan: entry.originalSTAN,
                                ["reason": "the terminal stopped after sending, before an answer", "queue": String(entry.id)]
                            )
                        )
                    case "00" where withdrawal && entry.dispensed < entry.amount:
                        try journal.queue(entry.id, dispensed: entry.dispensed, reason: "stoppedDuringDispense", due: self.millisecondsNow())
                        try journal.append(
                            JournalEntry(
                                "doubt",
                                stan: entry.originalSTAN,
                                [
                                    "reason": "the terminal stopped before all the cash was given",
                                    "dispensed": String(entry.dispensed), "queue": String(entry.id),
                                ]
                            )
                        )
                    default:
                        try journal.settle(entry.id)
                        try journal.append(
                            JournalEntry("transaction.completed", stan: entry.originalSTAN, ["queue": String(entry.id), "atStart": "yes"])
                        )
                    }
                }
            }
        } catch {
            self.frontEnd.device("the journal could not be read at start: \(error)")
        }
    }

    /// Sends due queue entries, oldest first, one at a time, while the link is up: each attempt and
    /// each answer is journalled; an entry not done is tried again after its backoff (a timer on the
    /// injected clock).
    func forward() async {
        while let link = self.link {
            let entries: [SAFEntry]
            do {
                entries = try self.journal.safEntries(states: [.queued])
            } catch {
                self.frontEnd.device("the queue could not be read: \(error)")
                return
            }
            let now = self.millisecondsNow()
            guard let entry = StoreAndForward.next(entries, now: now) else {
                if let due = StoreAndForward.due(entries) { self.scheduleForward(at: due) }
                return
            }
            var attempt = entry
            let advice: ATM87Message
            do {
                let pan = try self.journal.open(pan: entry.sealedPAN)
                advice = try link.reversalAdvice(for: entry, pan: pan)
                attempt.adviceSTAN = advice[11]
                attempt.adviceTime = advice[7]
                try self.journal.write { journal in
                    try journal.update(attempt)
                    try journal.append(
                        JournalEntry(
                            "reversal.sent",
                            stan: advice[11],
                            [
                                "mti": advice.mti.description, "queue": String(entry.id), "attempt": String(entry.attempts + 1),
                                "original": entry.originalSTAN, "amount": String(entry.amount),
                                "dispensed": String(entry.dispensed), "pan": entry.maskedPAN,
                            ]
                        )
                    )
                }
            } catch {
                self.frontEnd.device("the reversal advice could not be built: \(error)")
                return
            }
            let outcome: StoreAndForward.Outcome
            var answerCode: String?
            var reversed = ""
            do {
                let answer = try await link.send(advice, timeout: self.configuration.timeouts.response)
                answerCode = answer[39]
                outcome = .answered(answer[39] ?? "")
                reversed = Self.reversedAmount(answer, entry)
            } catch {
                self.link = nil
                outcome = .noAnswer
            }
            let after = self.forwarder.attempted(attempt, outcome, now: self.millisecondsNow())
            do {
                try self.journal.write { journal in
                    try journal.update(after)
                    try journal.append(
                        JournalEntry(
                            answerCode == nil ? "reversal.unanswered" : "reversal.answered",
                            stan: attempt.adviceSTAN,
                            [
                                "queue": String(entry.id), "code": answerCode ?? "", "state": after.state.rawValue,
                                "original": entry.originalSTAN, "processingCode": entry.processingCode,
                                "amount": String(entry.amount), "dispensed": String(entry.dispensed),
                                "originalAnswer": entry.answerCode ?? "", "reversed": reversed,
                            ]
                        )
                    )
                }
            } catch {
                self.frontEnd.device("the journal could not be written: \(error)")
            }
            self.frontEnd.device(
                "reversal sent (\(entry.reason ?? "")): "
                    + (answerCode.map { "answered \($0)" } ?? "no answer") + "; \(after.state.rawValue)"
            )
        }
    }

    /// What the switch put back for a reversal: its 0430's `RV` (field 48) when given; else, for an
    /// original answered 00, the amount less the cash dispensed; else unknown (empty).
    static func reversedAmount(_ answer: ATM87Message, _ entry: SAFEntry) -> String {
        if let field = answer[48], let tlv = try? ATM87TLV(parsing: field), let value = tlv["RV"], Int64(value) != nil {
            return value
        }
        return entry.answerCode == "00" ? String(entry.amount - entry.dispensed) : ""
    }

    /// Wakes the sender when the oldest queued entry is due.
    func scheduleForward(at due: Int64) {
        self.forwardTimer?.cancel()
        self.forwardGeneration += 1
        self.forwardTimer = self.after(
            .milliseconds(max(0, due - self.millisecondsNow())),
            .forward(generation: self.forwardGeneration)
        )
    }
}
