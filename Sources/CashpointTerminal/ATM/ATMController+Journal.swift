import ATM87
import Foundation

/// The controller's actions, its journal and its store-and-forward sender: what it records, what it
/// does after a restart, and how it sends the queue of reversal advices.
extension ATMController {
    /// Performs the session's actions in order. None waits: what the world answers comes back later as
    /// an event of its own, so an action never runs inside another and never re-enters the session.
    func perform(_ actions: [ATMAction]) {
        for action in actions {
            switch action {
            case .show(let screen):
                let name = ATMDisplay(screen).title
                if name != self.lastScreen {
                    self.lastScreen = name
                    self.record(self.entry("screen", ["screen": name]))
                }
            case .startTimer(let timer, let duration):
                self.startTimer(timer, duration)
            case .stopTimer:
                self.stopTimer()
            case .send(let request):
                self.send(request)
            case .reverse(let order):
                self.reverse(order)
            case .endCardSession:
                self.endCardSession()
            case .dispense(let plan):
                let result = self.dispenser.dispense(plan)
                self.frontEnd.device(
                    result.complete
                        ? "dispensing \(plan.noteCount) note\(plan.noteCount == 1 ? "" : "s")"
                        : "the dispenser jammed after \(result.given.noteCount) of \(plan.noteCount) notes"
                )
                self.events.yield(.dispensed(result.given))
            case .presentCash(let amount):
                self.cashPresented = amount
                self.frontEnd.device("cash presented: \(ScreenText.cash(amount, currency: self.configuration.currency)) (T takes it)")
            case .retractCash:
                self.cashPresented = nil
                self.frontEnd.device("cash retracted")
            case .printReceipt(let data):
                let header = Receipt.Header(
                    bankName: self.configuration.bankName,
                    terminal: self.configuration.terminal,
                    location: self.configuration.location,
                    time: Int(self.now().timeIntervalSince1970)
                )
                let lines = Receipt.lines(data, header)
                self.record(self.entry("receipt", ["title": data.title, "lines": lines.joined(separator: "\n")]))
                self.receipt = lines
                self.frontEnd.printReceipt(lines)
            case .ejectCard:
                self.cardOut = true
                self.frontEnd.device("card ejected (T takes it)")
            case .captureCard:
                self.cardOut = false
                self.frontEnd.device("card captured")
            case .endCustomer:
                self.terminal?.cardToken = nil
                self.lastSTAN = nil
                self.receipt = []
                self.cardSession = nil
                self.armed = nil
            case .journal(let event):
                self.record(event)
            }
        }
    }

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

    /// Every journal event of the session, each as its record.
    func record(_ event: ATMJournalEvent) {
        switch event {
        case .cardInserted(let maskedPAN):
            self.terminal?.cardToken = nil
            self.cardSession = nil
            self.cardSession = self.record(JournalEntry("card.inserted", ["pan": maskedPAN]))
        case .cardUnreadable(let digits):
            self.record(self.entry("card.unreadable", ["digits": String(digits)]))
        case .answerReceived(let answer, let processingCode, let amount):
            self.record(
                self.entry(
                    "answer.received",
                    [
                        "mti": MTI.financialResponse.description, "code": answer.code, "rrn": answer.retrievalReference ?? "",
                        "auth": answer.authorization ?? "", "processingCode": processingCode.field, "amount": String(amount),
                    ]
                ),
                answered: answer.code
            )
        case .outcomeInDoubt(let reason):
            self.record(self.entry("doubt", ["reason": reason.rawValue]))
        case .dispensePlanned(let plan):
            self.record(self.entry("dispense.planned", ["notes": Self.notes(plan, self.session.cassettes)]))
        case .dispensed(let given, let planned, let amount, let complete, let cassettes):
            self.recordDispense(given: given, planned: planned, amount: amount, complete: complete, cassettes: cassettes)
        case .cashPresented(let amount):
            self.record(self.entry("cash.presented", ["amount": String(amount)]))
        case .cashTaken:
            self.cashPresented = nil
            self.frontEnd.device("cash taken")
            self.record(self.entry("cash.taken"))
        case .cashRetracted(let amount):
            self.record(self.entry("cash.retracted", ["amount": String(amount)]))
        case .cardReturned:
            self.record(self.entry("card.returned"))
        case .cardTaken:
            self.cardOut = false
            self.frontEnd.device("card taken")
            self.record(self.entry("card.taken"))
        case .cardCaptured(let reason):
            self.record(self.entry("card.captured", ["reason": reason]))
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

    /// The dispense and the cassette counts after it (the session's, which counted them down), in one
    /// transaction, before the cash is presented.
    func recordDispense(given: DispensePlan, planned: DispensePlan, amount: Int64, complete: Bool, cassettes: [Cassette]) {
        do {
            try self.journal.write { journal in
                try journal.append(
                    self.entry(
                        complete ? "dispensed" : "dispense.failed",
                        ["notes": Self.notes(given, cassettes), "amount": String(amount), "planned": Self.notes(planned, cassettes)]
                    )
                )
                try journal.saveCassettes(cassettes)
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

    // MARK: Requests

    /// Builds, signs, journals (and, for money, arms in the queue) a 0200 before it goes on the wire,
    /// and writes it; the answer comes back as an event. Nothing sent is an event too.
    func send(_ request: CardRequest) {
        guard self.phase == .serving, let terminal = self.terminal else {
            self.frontEnd.device("the request was not sent: the link to the switch is down")
            self.events.yield(.requestNotSent)
            return
        }
        do {
            let message = try terminal.build(request)
            let signed = try terminal.signed(message)
            self.lastSTAN = message[11]
            let moves = request.processingCode.transaction.movesMoney
            self.armed = try self.journal.write { journal in
                let seq = try journal.append(
                    self.entry(
                        "request.sent",
                        [
                            "mti": "0200", "processingCode": request.processingCode.field,
                            "amount": String(request.amount), "from": request.from ?? "", "to": request.to ?? "",
                            "pan": ATM87PrettyPrinter.maskPAN(request.pan), "pinBlock": request.pin == nil ? "no" : "yes",
                        ]
                    )
                )
                return moves ? try journal.arm(requestSeq: seq, request: message, pan: request.pan) : nil
            }
            self.exchange(message, signed: signed, .card(message))
        } catch {
            // Nothing went out: the journal could not record it, or it could not be built.
            self.frontEnd.device("the request was not sent: \(error)")
            self.record(self.entry("error", ["error": "request not sent: \(error)"]))
            self.events.yield(.requestNotSent)
        }
    }

    /// The card session ends at the switch: LOGOUT with the card's token (its answer changes nothing).
    func endCardSession() {
        guard self.phase == .serving, let terminal = self.terminal else { return }
        do {
            guard let request = try terminal.logoutRequest() else { return }
            self.exchange(request, signed: try terminal.signed(request), .logout)
        } catch {
            self.frontEnd.device("the card session could not be ended at the switch: \(error)")
        }
    }

    // MARK: Store and forward

    /// At start: what the journal shows in flight when the terminal last stopped becomes a queued
    /// reversal or is settled, as `StoreAndForward.recovery` rules.
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
                    switch StoreAndForward.recovery(of: entry) {
                    case .reverse(let reason, let dispensed):
                        try journal.queue(entry.id, dispensed: dispensed, reason: reason.rawValue, due: self.millisecondsNow())
                        try journal.append(
                            JournalEntry(
                                "doubt",
                                stan: entry.originalSTAN,
                                ["reason": reason.explanation, "queue": String(entry.id), "dispensed": String(dispensed)]
                            )
                        )
                    case .settle:
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

    /// Queues the reversal advice of the request in flight, in one transaction with its journal
    /// record, then lets the sender try it at once if the link is up.
    func reverse(_ order: ReversalOrder) {
        guard let armed = self.armed else { return }
        self.armed = nil
        do {
            try self.journal.write { journal in
                try journal.queue(armed, dispensed: order.dispensed, reason: order.reason.rawValue, due: self.millisecondsNow())
                try journal.append(
                    self.entry(
                        "reversal.queued",
                        [
                            "queue": String(armed), "reason": order.reason.rawValue, "amount": String(order.amount),
                            "dispensed": String(order.dispensed),
                        ]
                    )
                )
            }
        } catch {
            self.frontEnd.device("the reversal could not be queued: \(error)")
            return
        }
        self.forward()
    }

    /// Sends the oldest due queue entry while the link is up and no advice waits for its answer: the
    /// attempt is journalled before it goes; its answer (or none) comes back as an event. An entry not
    /// yet due wakes the sender when it is (a timer on the injected clock).
    func forward() {
        guard self.phase == .draining || self.phase == .serving, let terminal = self.terminal, self.adviceInFlight == nil else {
            return
        }
        let entries: [SAFEntry]
        do {
            entries = try self.journal.safEntries(states: [.queued])
        } catch {
            self.frontEnd.device("the queue could not be read: \(error)")
            self.queueIdle = true
            return
        }
        guard let entry = StoreAndForward.next(entries, now: self.millisecondsNow()) else {
            if let due = StoreAndForward.due(entries) { self.scheduleForward(at: due) }
            self.queueIdle = true
            return
        }
        self.queueIdle = false
        var attempt = entry
        do {
            let pan = try self.journal.open(pan: entry.sealedPAN)
            let advice = try terminal.reversalAdvice(for: entry, pan: pan)
            let signed = try terminal.signed(advice)
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
            self.adviceInFlight = advice[11]
            self.exchange(advice, signed: signed, .advice(attempt))
        } catch {
            self.frontEnd.device("the reversal advice could not be built: \(error)")
            self.queueIdle = true
        }
    }

    /// An advice's answer (nil: none in time, or the link went): the entry is done, due again after
    /// its backoff, or left for the operator, as the sender's core says.
    func adviceAnswered(_ entry: SAFEntry, answer: ATM87Message?) {
        self.adviceInFlight = nil
        let code = answer?[39]
        let outcome: StoreAndForward.Outcome = code.map { .answered($0) } ?? .noAnswer
        let after = self.forwarder.attempted(entry, outcome, now: self.millisecondsNow())
        do {
            try self.journal.write { journal in
                try journal.update(after)
                try journal.append(
                    JournalEntry(
                        code == nil ? "reversal.unanswered" : "reversal.answered",
                        stan: entry.adviceSTAN,
                        [
                            "queue": String(entry.id), "code": code ?? "", "state": after.state.rawValue,
                            "original": entry.originalSTAN, "processingCode": entry.processingCode,
                            "amount": String(entry.amount), "dispensed": String(entry.dispensed),
                            "originalAnswer": entry.answerCode ?? "",
                            "reversed": answer.map { Self.reversedAmount($0, entry) } ?? "",
                        ]
                    )
                )
            }
        } catch {
            self.frontEnd.device("the journal could not be written: \(error)")
        }
        self.frontEnd.device(
            "reversal sent (\(entry.reason ?? "")): " + (code.map { "answered \($0)" } ?? "no answer") + "; \(after.state.rawValue)"
        )
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
