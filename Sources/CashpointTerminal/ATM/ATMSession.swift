public import ATM87

/// An ATM's card session as a state machine: events in, actions out; no I/O and no clock (timers are
/// actions, their expiry an event). The shell performs each action in order and returns; what the
/// world answers (the switch, the dispenser, a timer) comes back as the next event.
public struct ATMSession: Sendable {
    /// What a customer asked for, as far as it is known.
    struct Intent: Sendable, Hashable {
        var type: ProcessingCode.TransactionType
        var from: String?
        var to: String?
        var amount: Int64 = 0
        /// For a withdrawal: the notes planned.
        var plan: DispensePlan?
        /// For a PIN change: the PINs, held only until the request is built.
        var pins: PINChange = PINChange()

        var processingCode: ProcessingCode { ProcessingCode(self.type) }
    }

    struct PINChange: Sendable, Hashable {
        var current: [UInt8] = []
        var new: [UInt8] = []
    }

    enum Phase: Sendable {
        case pinEntry(digits: [UInt8], notice: String?)
        /// The first request, carrying the PIN: a balance inquiry whose answer lists the card's accounts.
        case verifyingPIN
        case menu(notice: String?)
        case fastCash(amounts: [Int64])
        /// One of the card's accounts: the one to take from, or (a transfer) the one to pay into.
        case chooseAccount(Intent, choosingTo: Bool)
        case amountEntry(Intent, amount: Int64, notice: String?)
        case pinChange(Intent, stage: PINChangeStage, digits: [UInt8], notice: String?)
        case awaiting(Intent)
        case dispensing(Intent, answer: CardAnswer)
        case presenting(Intent, answer: CardAnswer, dispensed: Int64)
        case result(title: String, lines: [String])
        /// Asked once per input screen; holds the screen to go back to.
        indirect case moreTime(Phase)
        case ejecting(lines: [String])
        case retained(lines: [String])
    }

    struct Card: Sendable, Hashable {
        var pan: String
        var accounts: [String] = []
        var verified = false
        /// Whether the "more time?" question was asked on the current input screen.
        var askedMoreTime = false
    }

    enum State: Sendable {
        case outOfService
        /// No customer, the link lost and another switch being tried: "one moment", not out of service.
        case moving
        case idle
        case card(Card, Phase)
    }

    public private(set) var cassettes: [Cassette]
    public let settings: ATMSettings
    var state: State = .outOfService
    /// Whether the link to the switch is up: a customer who leaves an offline machine leaves it out of
    /// service (or, while it moves to another switch, on "one moment").
    var online = false
    /// Whether the link is down and another switch is being tried (`linkMoving`).
    var moving = false

    public init(settings: ATMSettings, cassettes: [Cassette]) {
        self.settings = settings
        self.cassettes = cassettes
    }

    /// The screen the session is on, for a redraw.
    public var screen: ATMScreen {
        switch self.state {
        case .outOfService: return .outOfService
        case .moving: return .oneMoment
        case .idle: return .welcome
        case .card(let card, let phase): return self.screen(for: phase, card)
        }
    }

    public var isIdle: Bool {
        if case .idle = self.state { return true }
        return false
    }

    public var isOutOfService: Bool {
        if case .outOfService = self.state { return true }
        return false
    }

    /// Whether the machine shows "one moment" while it moves to another switch.
    public var isMoving: Bool {
        if case .moving = self.state { return true }
        return false
    }

    /// Whether the session waits on the switch or the dispenser (no key means anything until then).
    public var isWaiting: Bool {
        guard case .card(_, let phase) = self.state else { return false }
        switch phase {
        case .verifyingPIN, .awaiting, .dispensing: return true
        default: return false
        }
    }

    /// The card in the reader, masked, for the status beside the screen.
    public var cardInReader: String? {
        guard case .card(let card, let phase) = self.state else { return nil }
        if case .retained = phase { return nil }
        return ATM87PrettyPrinter.maskPAN(card.pan)
    }

    /// The card-reader rule: what it reads is a card number when it is 12 to 19 digits that pass the
    /// Luhn check (ISO/IEC 7812-1); anything else is given back unread.
    public static func isCardNumber(_ digits: String) -> Bool { Luhn.isValidPAN(digits) }

    // MARK: Events

    /// The link to the switch is up and signed on (and the store-and-forward queue has nothing due).
    public mutating func linkUp() -> [ATMAction] {
        self.online = true
        self.moving = false
        switch self.state {
        case .outOfService, .moving:
            self.state = .idle
            return [.show(.welcome)]
        case .idle, .card:
            return []
        }
    }

    /// The link is gone and no switch answers: out of service. A request in flight is in doubt; a
    /// customer at the menus is sent away.
    public mutating func linkLost() -> [ATMAction] {
        self.online = false
        self.moving = false
        switch self.state {
        case .outOfService:
            return []
        case .idle, .moving:
            self.state = .outOfService
            return [.stopTimer, .show(.outOfService)]
        case .card:
            return self.customerCut()
        }
    }

    /// The link is gone and the machine signs on to another switch: the screen says "one moment" (not
    /// out of service) until it answers (`linkUp`) or none does (`linkLost`). A customer in the middle
    /// of a session is treated as by `linkLost`: the money rules do not depend on where the link goes.
    /// A machine already out of service stays so until a switch answers.
    public mutating func linkMoving() -> [ATMAction] {
        self.online = false
        switch self.state {
        case .outOfService:
            return []
        case .moving:
            self.moving = true
            return []
        case .idle:
            self.moving = true
            self.state = .moving
            return [.stopTimer, .show(.oneMoment)]
        case .card:
            self.moving = true
            return self.customerCut()
        }
    }

    /// The link went during a card session. A request in flight is in doubt; a customer at the menus
    /// is sent away.
    mutating func customerCut() -> [ATMAction] {
        switch self.state {
        case .outOfService, .moving, .idle:
            return []
        case .card(let card, .awaiting(let intent)):
            return self.inDoubt(card, intent, reason: .linkLost)
        case .card(let card, .verifyingPIN):
            return self.returnCard(card, lines: ScreenText.refusalLines("91"))
        case .card(_, .dispensing), .card(_, .presenting), .card(_, .ejecting), .card(_, .retained):
            // The answer is in: the cash and the card are handled here, whatever the link does.
            return []
        case .card(let card, _):
            return self.returnCard(card, lines: ScreenText.refusalLines("91"))
        }
    }

    /// A card in the reader (its number as read). What is not a card number is given back at once.
    public mutating func cardInserted(pan: String) -> [ATMAction] {
        guard case .idle = self.state else { return [] }
        guard Self.isCardNumber(pan) else {
            let lines = ["This card cannot be read."]
            self.state = .card(Card(pan: ""), .ejecting(lines: lines))
            return [
                .journal(.cardUnreadable(digits: pan.count)), .ejectCard, .journal(.cardReturned),
                .show(.takeCard(lines: lines)), .startTimer(.cardTake, self.settings.timeouts.cardTake),
            ]
        }
        let card = Card(pan: pan)
        self.state = .card(card, .pinEntry(digits: [], notice: nil))
        return [
            .journal(.cardInserted(maskedPAN: ATM87PrettyPrinter.maskPAN(pan))),
            .show(.pinEntry(entered: 0, notice: nil)),
            .startTimer(.input, self.settings.timeouts.input),
        ]
    }

    public mutating func key(_ key: ATMKey) -> [ATMAction] {
        guard case .card(var card, let phase) = self.state else { return [] }
        switch phase {
        case .pinEntry(let digits, let notice):
            return self.pinEntryKey(key, card, digits, notice)
        case .menu:
            return self.menuKey(key, card)
        case .fastCash(let amounts):
            switch key {
            case .function(.h), .cancel: return self.menu(card)
            case .function(let f):
                guard let index = FunctionKey.allCases.firstIndex(of: f), index < amounts.count, index < 7 else {
                    return []
                }
                return self.chooseAccountOrGo(card, Intent(type: .withdrawal, amount: amounts[index]))
            default: return []
            }
        case .chooseAccount(var intent, let choosingTo):
            let shown = Array(self.accountsOffered(card, intent, choosingTo: choosingTo).prefix(7))
            switch key {
            case .function(.h), .cancel: return self.menu(card)
            case .function(let f):
                guard let index = FunctionKey.allCases.firstIndex(of: f), index < shown.count else { return [] }
                if choosingTo {
                    intent.to = shown[index]
                    return self.afterAccounts(card, intent)
                }
                intent.from = shown[index]
                return self.afterFromAccount(card, intent)
            default: return []
            }
        case .amountEntry(var intent, let amount, _):
            let whole = intent.type == .withdrawal
            let step: Int64 = whole ? 100 : 1
            switch key {
            case .digit(let d):
                let next = amount / step * 10 * step + Int64(d) * step
                guard next <= 99_999_900 else { return [] }
                return self.enter(card, .amountEntry(intent, amount: next, notice: nil), restart: false)
            case .clear:
                return self.enter(card, .amountEntry(intent, amount: amount / step / 10 * step, notice: nil), restart: false)
            case .cancel, .function(.h): return self.menu(card)
            case .enter:
                guard amount > 0 else {
                    return self.enter(card, .amountEntry(intent, amount: 0, notice: "Please type an amount."), restart: false)
                }
                if whole, self.settings.planner.plan(amount, from: self.cashCassettes) == nil {
                    return self.enter(card, .amountEntry(intent, amount: 0, notice: self.cashNotice()), restart: false)
                }
                intent.amount = amount
                return self.send(card, intent)
            default: return []
            }
        case .pinChange(var intent, let stage, let digits, _):
            switch key {
            case .digit(let d) where digits.count < 12:
                return self.enter(card, .pinChange(intent, stage: stage, digits: digits + [d], notice: nil), restart: false)
            case .clear:
                return self.enter(card, .pinChange(intent, stage: stage, digits: [], notice: nil), restart: false)
            case .cancel, .function(.h):
                return self.menu(card)
            case .enter:
                guard (4...12).contains(digits.count) else {
                    return self.enter(card, .pinChange(intent, stage: stage, digits: [], notice: "A PIN is 4 to 12 digits."), restart: false)
                }
                switch stage {
                case .current:
                    intent.pins.current = digits
                    return self.enter(card, .pinChange(intent, stage: .new, digits: [], notice: nil))
                case .new:
                    intent.pins.new = digits
                    return self.enter(card, .pinChange(intent, stage: .confirm, digits: [], notice: nil))
                case .confirm:
                    guard digits == intent.pins.new else {
                        intent.pins.new = []
                        return self.enter(
                            card,
                            .pinChange(intent, stage: .new, digits: [], notice: "The PINs differ. Please start again.")
                        )
                    }
                    return self.send(card, intent)
                }
            default: return []
            }
        case .result:
            switch key {
            case .function(.a), .enter: return self.menu(card)
            case .function(.h), .cancel: return self.returnCard(card, lines: [])
            default: return []
            }
        case .moreTime(let previous):
            switch key {
            case .function(.a), .enter:
                card.askedMoreTime = true
                self.state = .card(card, previous)
                return [.show(self.screen(for: previous, card)), .startTimer(.input, self.settings.timeouts.input)]
            case .function(.h), .cancel:
                return self.returnCard(card, lines: [])
            default: return []
            }
        case .verifyingPIN, .awaiting, .dispensing, .presenting, .ejecting, .retained:
            return []
        }
    }

    /// The customer takes what the machine holds out: the cash when it is presented, else the card in
    /// the reader's mouth. One key does both, as at a real machine's single "take" slot.
    public mutating func take() -> [ATMAction] {
        guard case .card(_, let phase) = self.state else { return [] }
        switch phase {
        case .presenting: return self.cashTaken()
        case .ejecting: return self.cardTaken()
        default: return []
        }
    }

    /// The switch's answer to the request in flight (its MAC already checked by the shell).
    public mutating func answerReceived(_ answer: CardAnswer) -> [ATMAction] {
        guard case .card(var card, let phase) = self.state else { return [] }
        let intent: Intent
        switch phase {
        case .verifyingPIN: intent = Intent(type: .balanceInquiry)
        case .awaiting(let awaited): intent = awaited
        default: return []
        }
        let code = answer.code
        var actions: [ATMAction] = [
            .stopTimer, .journal(.answerReceived(answer, intent.processingCode, amount: intent.amount)),
        ]
        if case .awaiting = phase, code != "00" || intent.type != .withdrawal {
            actions.append(.journal(.transactionCompleted))
        }
        if Self.capturesCard(answer) {
            return actions + (card.verified ? [.endCardSession] : [])
                + [.captureCard, .journal(.cardCaptured(reason: "response code \(code)"))]
                + self.retained(card, ScreenText.refusalLines(code))
        }
        if case .verifyingPIN = phase {
            switch code {
            case "00":
                card.verified = true
                card.accounts = answer.accounts ?? []
                return actions + self.menu(card)
            case "55":
                self.state = .card(card, .pinEntry(digits: [], notice: "Incorrect PIN. Please try again."))
                return actions + [
                    .show(.pinEntry(entered: 0, notice: "Incorrect PIN. Please try again.")),
                    .startTimer(.input, self.settings.timeouts.input),
                ]
            default:
                return actions + self.returnCard(card, lines: ScreenText.refusalLines(code))
            }
        }
        guard code == "00" else {
            if code == "55", intent.type == .pinChange {
                return actions + self.enter(
                    card,
                    .pinChange(Intent(type: .pinChange), stage: .current, digits: [], notice: "Incorrect PIN. Please try again.")
                )
            }
            if code == "91" || code == "96", intent.type.movesMoney {
                // The switch could not finish: the request is in doubt, as if there were no answer.
                return actions + self.inDoubt(card, intent, reason: .switchFailed)
            }
            if code == "63" || code == "91" || code == "96" {
                // The session cannot go on (keys or token refused, or the bank unreachable).
                return actions + self.returnCard(card, lines: ScreenText.refusalLines(code))
            }
            return actions + self.result(card, intent.type, ScreenText.refusalLines(code))
        }
        if intent.type == .withdrawal, let plan = intent.plan {
            self.state = .card(card, .dispensing(intent, answer: answer))
            return actions + [.journal(.dispensePlanned(plan)), .dispense(plan)]
        }
        var receipt: ReceiptData? = self.receipt(card, intent, answer)
        var lines: [String] = []
        switch intent.type {
        case .deposit:
            lines = ["Deposited \(ScreenText.cash(intent.amount, currency: self.settings.currency))."]
        case .transfer:
            lines = ["Transferred \(ScreenText.cash(intent.amount, currency: self.settings.currency))", "to \(intent.to ?? "")."]
        case .pinChange:
            lines = ["Your PIN has been changed."]
            receipt = nil
        case .miniStatement:
            lines = answer.statement.prefix(6).map {
                "\($0.printedDate) \($0.kind.prefix(10)) \(ScreenText.money($0.amount))"
            }
            if lines.isEmpty { lines = ["No transactions yet."] }
        case .balanceInquiry, .withdrawal:
            break
        }
        if let balance = receipt?.balance {
            lines.append("Balance: \(ScreenText.cash(balance, currency: self.settings.currency))")
        }
        var out = actions
        if let receipt { out.append(.printReceipt(receipt)) }
        return out + self.result(card, intent.type, lines)
    }

    /// The request the session asked for could not go out (the journal could not record it, or it
    /// could not be built): nothing was sent, so nothing is in doubt; the customer is told.
    public mutating func requestNotSent() -> [ATMAction] {
        guard case .card(let card, let phase) = self.state else { return [] }
        switch phase {
        case .verifyingPIN, .awaiting:
            return self.returnCard(card, lines: ["Sorry, your transaction could", "not be completed."])
        default:
            return []
        }
    }

    /// The dispenser stopped, having given `given`: all of the plan, or (after a jam) part of it. The
    /// cassettes count down here, and only here; then the cash is presented (or, when nothing came
    /// out, the whole amount reversed).
    public mutating func dispenseEnded(given: DispensePlan) -> [ATMAction] {
        guard case .card(let card, .dispensing(let intent, let answer)) = self.state else { return [] }
        let before = self.cassettes
        for (index, notes) in given.notes.enumerated() where index < self.cassettes.count {
            self.cassettes[index].count = max(0, self.cassettes[index].count - notes)
        }
        let amount = given.amount(of: before)
        let planned = intent.plan ?? given
        var actions: [ATMAction] = [
            .journal(
                .dispensed(given: given, planned: planned, amount: amount, complete: amount == intent.amount, cassettes: self.cassettes)
            )
        ]
        guard amount > 0 else {
            let order = ReversalOrder(amount: intent.amount, dispensed: 0, reason: .dispenseFailed)
            actions.append(.reverse(order))
            return actions + self.result(card, .withdrawal, ["Sorry, no cash could be given.", "Your account will not be charged."])
        }
        self.state = .card(card, .presenting(intent, answer: answer, dispensed: amount))
        return actions + [
            .presentCash(amount), .journal(.cashPresented(amount)),
            .show(.takeCash(amount: amount, currency: self.settings.currency, requested: intent.amount)),
            .startTimer(.cashTake, self.settings.timeouts.cashTake),
        ]
    }

    public mutating func timerFired(_ timer: ATMTimer) -> [ATMAction] {
        guard case .card(var card, let phase) = self.state else { return [] }
        switch (timer, phase) {
        case (.input, .pinEntry), (.input, .menu), (.input, .fastCash), (.input, .chooseAccount),
            (.input, .amountEntry), (.input, .pinChange), (.input, .result):
            if card.askedMoreTime || Self.isResult(phase) {
                return [.journal(.timedOut(timer))] + self.returnCard(card, lines: ["Your session has timed out."])
            }
            card.askedMoreTime = true
            // Keys typed into a PIN are not kept while the question is asked.
            let back: Phase
            switch phase {
            case .pinEntry(_, let notice): back = .pinEntry(digits: [], notice: notice)
            case .pinChange(let intent, let stage, _, let notice): back = .pinChange(intent, stage: stage, digits: [], notice: notice)
            default: back = phase
            }
            self.state = .card(card, .moreTime(back))
            return [.journal(.timedOut(timer)), .show(.moreTime), .startTimer(.moreTime, self.settings.timeouts.moreTime)]
        case (.moreTime, .moreTime):
            return [.journal(.timedOut(timer))] + self.returnCard(card, lines: ["Your session has timed out."])
        case (.response, .awaiting(let intent)):
            return [.journal(.timedOut(timer))] + self.inDoubt(card, intent, reason: .timeout)
        case (.response, .verifyingPIN):
            return [.journal(.timedOut(timer))] + self.returnCard(card, lines: ScreenText.refusalLines("91"))
        case (.cashTake, .presenting(let intent, _, let dispensed)):
            let order = ReversalOrder(amount: intent.amount, dispensed: 0, reason: .cashNotTaken)
            return [
                .journal(.timedOut(timer)), .retractCash, .journal(.cashRetracted(dispensed)), .reverse(order),
            ]
                + self.returnCard(
                    card,
                    lines: [
                        "Your cash (\(ScreenText.cash(dispensed, currency: self.settings.currency))) was not",
                        "taken and has been retracted.", "Your account will not be charged.",
                    ]
                )
        case (.cardTake, .ejecting):
            return [.journal(.timedOut(timer)), .captureCard, .journal(.cardCaptured(reason: "card not taken"))]
                + self.retained(card, ["Your card was not taken", "and has been retained."])
        case (.message, .retained):
            return self.customerGone()
        default:
            return []
        }
    }

    // MARK: Steps

    mutating func cashTaken() -> [ATMAction] {
        guard case .card(let card, .presenting(let intent, let answer, let dispensed)) = self.state else { return [] }
        var actions: [ATMAction] = [.stopTimer, .journal(.cashTaken)]
        if dispensed < intent.amount {
            actions.append(.reverse(ReversalOrder(amount: intent.amount, dispensed: dispensed, reason: .partialDispense)))
        } else {
            actions.append(.journal(.transactionCompleted))
        }
        var receipt = self.receipt(card, intent, answer)
        receipt.dispensed = dispensed
        var lines = ["Please take your receipt."]
        if let balance = receipt.balance, dispensed == intent.amount {
            lines.append("Balance: \(ScreenText.cash(balance, currency: self.settings.currency))")
        }
        return actions + [.printReceipt(receipt)] + self.result(card, .withdrawal, lines)
    }

    mutating func cardTaken() -> [ATMAction] {
        guard case .card(_, .ejecting) = self.state else { return [] }
        return [.stopTimer, .journal(.cardTaken)] + self.customerGone()
    }

    /// The customer has gone: the welcome screen when the link is up, "one moment" while the machine
    /// moves to another switch, else out of service.
    mutating func customerGone() -> [ATMAction] {
        if self.online {
            self.state = .idle
            return [.endCustomer, .show(.welcome)]
        }
        self.state = self.moving ? .moving : .outOfService
        return [.endCustomer, .show(self.moving ? .oneMoment : .outOfService)]
    }

    mutating func pinEntryKey(_ key: ATMKey, _ card: Card, _ digits: [UInt8], _ notice: String?) -> [ATMAction] {
        switch key {
        case .digit(let d):
            guard digits.count < 12 else { return [] }
            self.state = .card(card, .pinEntry(digits: digits + [d], notice: notice))
            return [.show(.pinEntry(entered: digits.count + 1, notice: notice))]
        case .clear:
            self.state = .card(card, .pinEntry(digits: [], notice: notice))
            return [.show(.pinEntry(entered: 0, notice: notice))]
        case .cancel:
            return self.returnCard(card, lines: [])
        case .enter:
            guard (4...12).contains(digits.count) else {
                let notice = "A PIN is 4 to 12 digits."
                self.state = .card(card, .pinEntry(digits: [], notice: notice))
                return [.show(.pinEntry(entered: 0, notice: notice))]
            }
            self.state = .card(card, .verifyingPIN)
            let request = CardRequest(ProcessingCode(.balanceInquiry), pan: card.pan, pin: Self.text(digits))
            return [.stopTimer, .show(.pleaseWait), .send(request), .startTimer(.response, self.settings.timeouts.response)]
        case .function:
            return []
        }
    }

    mutating func menuKey(_ key: ATMKey, _ card: Card) -> [ATMAction] {
        let menu = self.currentMenu(card)
        let choice: ATMMenu.Choice?
        switch key {
        case .function(let f): choice = menu.keys[f]
        case .cancel: choice = .returnCard
        default: choice = nil
        }
        switch choice {
        case nil: return []
        case .fastCash:
            let amounts = self.payableFastCash()
            return self.enter(card, .fastCash(amounts: amounts))
        case .otherAmount:
            return self.chooseAccountOrGo(card, Intent(type: .withdrawal))
        case .balance:
            return self.chooseAccountOrGo(card, Intent(type: .balanceInquiry))
        case .statement:
            return self.chooseAccountOrGo(card, Intent(type: .miniStatement))
        case .deposit:
            return self.chooseAccountOrGo(card, Intent(type: .deposit))
        case .transfer:
            return self.chooseAccountOrGo(card, Intent(type: .transfer))
        case .pinChange:
            return self.enter(card, .pinChange(Intent(type: .pinChange), stage: .current, digits: [], notice: nil))
        case .returnCard:
            return self.returnCard(card, lines: [])
        }
    }

    /// The account choice when the card has more than one account, else the next step.
    mutating func chooseAccountOrGo(_ card: Card, _ intent: Intent) -> [ATMAction] {
        if card.accounts.count > 1 {
            return self.enter(card, .chooseAccount(intent, choosingTo: false))
        }
        var intent = intent
        intent.from = card.accounts.first
        return self.afterFromAccount(card, intent)
    }

    mutating func afterFromAccount(_ card: Card, _ intent: Intent) -> [ATMAction] {
        if intent.type == .transfer {
            var intent = intent
            let payees = self.accountsOffered(card, intent, choosingTo: true)
            // A transfer goes between the card's own accounts (the bank's rule): with one other
            // account there is nothing to choose.
            if payees.count == 1 {
                intent.to = payees[0]
                return self.afterAccounts(card, intent)
            }
            return self.enter(card, .chooseAccount(intent, choosingTo: true))
        }
        return self.afterAccounts(card, intent)
    }

    mutating func afterAccounts(_ card: Card, _ intent: Intent) -> [ATMAction] {
        switch intent.type {
        case .withdrawal where intent.amount > 0:
            return self.send(card, intent)
        case .withdrawal, .deposit, .transfer:
            return self.enter(card, .amountEntry(intent, amount: 0, notice: nil))
        case .balanceInquiry, .miniStatement, .pinChange:
            return self.send(card, intent)
        }
    }

    /// The accounts a customer may pick: the card's, and for a transfer's payee the card's others.
    /// The switch allows a transfer only between two accounts of the card (docs/protocol.md, 57), so the
    /// machine offers nothing else.
    func accountsOffered(_ card: Card, _ intent: Intent, choosingTo: Bool) -> [String] {
        choosingTo ? card.accounts.filter { $0 != intent.from } : card.accounts
    }

    /// Builds the request, forgets any PIN, and waits for the answer.
    mutating func send(_ card: Card, _ intent: Intent) -> [ATMAction] {
        var intent = intent
        var request = CardRequest(intent.processingCode, pan: card.pan, amount: intent.amount, from: intent.from, to: intent.to)
        if intent.type == .withdrawal {
            guard let plan = self.settings.planner.plan(intent.amount, from: self.cashCassettes) else {
                return self.enter(card, .menu(notice: self.cashNotice()))
            }
            intent.plan = plan
        }
        if intent.type == .pinChange {
            request.pin = Self.text(intent.pins.current)
            request.newPIN = Self.text(intent.pins.new)
            intent.pins = PINChange()
        }
        var card = card
        card.askedMoreTime = false
        self.state = .card(card, .awaiting(intent))
        return [.stopTimer, .show(.pleaseWait), .send(request), .startTimer(.response, self.settings.timeouts.response)]
    }

    /// No answer, or the link went down: the customer is told, the card comes back, and a money
    /// movement is reversed in full (nothing was dispensed).
    mutating func inDoubt(_ card: Card, _ intent: Intent, reason: ReversalOrder.Reason) -> [ATMAction] {
        var actions: [ATMAction] = [.journal(.outcomeInDoubt(reason))]
        if intent.type.movesMoney {
            actions.append(.reverse(ReversalOrder(amount: intent.amount, dispensed: 0, reason: reason)))
        }
        let lines =
            intent.type.movesMoney
            ? ["Sorry, your transaction could", "not be completed.", "Your account will not be charged."]
            : ["Sorry, your transaction could", "not be completed."]
        return actions + self.returnCard(card, lines: lines)
    }

    mutating func returnCard(_ card: Card, lines: [String]) -> [ATMAction] {
        var card = card
        card.askedMoreTime = false
        self.state = .card(card, .ejecting(lines: lines))
        return [.stopTimer]
            + (card.verified ? [.endCardSession] : [])
            + [
                .ejectCard, .journal(.cardReturned), .show(.takeCard(lines: lines)),
                .startTimer(.cardTake, self.settings.timeouts.cardTake),
            ]
    }

    /// A transaction's outcome, then "another transaction?".
    mutating func result(_ card: Card, _ type: ProcessingCode.TransactionType, _ lines: [String]) -> [ATMAction] {
        let title = Self.title(type)
        self.state = .card(card, .result(title: title, lines: lines))
        return [.show(.result(title: title, lines: lines)), .startTimer(.input, self.settings.timeouts.input)]
    }

    /// Keeps the card (the capture itself is the caller's action), shows why, and goes back to the
    /// welcome screen after a while.
    mutating func retained(_ card: Card, _ lines: [String]) -> [ATMAction] {
        self.state = .card(card, .retained(lines: lines))
        return [.show(.cardRetained(lines: lines)), .startTimer(.message, self.settings.timeouts.message)]
    }

    mutating func menu(_ card: Card, notice: String? = nil) -> [ATMAction] {
        self.enter(card, .menu(notice: notice))
    }

    /// Moves to an input screen and (unless only its contents changed) restarts the input timer.
    mutating func enter(_ card: Card, _ phase: Phase, restart: Bool = true) -> [ATMAction] {
        var card = card
        if restart { card.askedMoreTime = false }
        self.state = .card(card, phase)
        var actions: [ATMAction] = [.show(self.screen(for: phase, card))]
        if restart { actions.append(.startTimer(.input, self.settings.timeouts.input)) }
        return actions
    }

    // MARK: Screens and helpers

    func screen(for phase: Phase, _ card: Card) -> ATMScreen {
        let currency = self.settings.currency
        switch phase {
        case .pinEntry(let digits, let notice): return .pinEntry(entered: digits.count, notice: notice)
        case .verifyingPIN, .awaiting, .dispensing: return .pleaseWait
        case .menu(let notice): return .mainMenu(self.currentMenu(card), notice: notice)
        case .fastCash(let amounts): return .fastCash(amounts: amounts, currency: currency)
        case .chooseAccount(let intent, let choosingTo):
            return .accountChoice(
                title: choosingTo ? "TRANSFER TO" : Self.title(intent.type),
                accounts: self.accountsOffered(card, intent, choosingTo: choosingTo)
            )
        case .amountEntry(let intent, let amount, let notice):
            return .amountEntry(
                title: Self.title(intent.type),
                amount: amount,
                currency: currency,
                wholeUnits: intent.type == .withdrawal,
                notice: notice
            )
        case .pinChange(_, let stage, let digits, let notice):
            return .pinChange(stage, entered: digits.count, notice: notice)
        case .presenting(let intent, _, let dispensed):
            return .takeCash(amount: dispensed, currency: currency, requested: intent.amount)
        case .result(let title, let lines): return .result(title: title, lines: lines)
        case .moreTime: return .moreTime
        case .ejecting(let lines): return .takeCard(lines: lines)
        case .retained(let lines): return .cardRetained(lines: lines)
        }
    }

    /// The main menu: cash when the cassettes can pay something, a transfer when the card has two
    /// accounts to move money between.
    func currentMenu(_ card: Card) -> ATMMenu {
        let anyCash = self.cassettes.contains { $0.count > 0 && $0.currency == self.settings.currency }
        return ATMMenu(fastCash: !self.payableFastCash().isEmpty, otherAmount: anyCash, transfer: card.accounts.count > 1)
    }

    /// The fast-cash amounts the cassettes can pay now.
    public func payableFastCash() -> [Int64] {
        Array(self.settings.fastCash.filter { self.settings.planner.canPay($0, from: self.cashCassettes) }.prefix(7))
    }

    /// Cassettes of the session's currency (others are never dispensed).
    var cashCassettes: [Cassette] {
        self.cassettes.map { $0.currency == self.settings.currency ? $0 : Cassette(denomination: $0.denomination, count: 0, currency: $0.currency) }
    }

    func cashNotice() -> String {
        let notes = Set(self.cassettes.filter { $0.count > 0 && $0.currency == self.settings.currency }.map(\.denomination))
            .sorted()
            .map { ScreenText.money($0) }
        return notes.isEmpty ? "Cash is not available." : "Amounts made of notes of \(notes.joined(separator: ", "))."
    }

    func receipt(_ card: Card, _ intent: Intent, _ answer: CardAnswer) -> ReceiptData {
        ReceiptData(
            title: Self.title(intent.type),
            maskedPAN: ATM87PrettyPrinter.maskPAN(card.pan),
            amount: intent.amount,
            currency: self.settings.currency,
            account: intent.from,
            authorization: answer.authorization,
            retrievalReference: answer.retrievalReference,
            stan: answer.stan,
            responseCode: answer.code,
            balance: answer.ledgerBalance,
            statement: answer.statement
        )
    }

    static func title(_ type: ProcessingCode.TransactionType) -> String {
        switch type {
        case .withdrawal: return "CASH WITHDRAWAL"
        case .deposit: return "DEPOSIT"
        case .balanceInquiry: return "BALANCE INQUIRY"
        case .miniStatement: return "MINI-STATEMENT"
        case .transfer: return "TRANSFER"
        case .pinChange: return "CHANGE PIN"
        }
    }

    static func isResult(_ phase: Phase) -> Bool {
        if case .result = phase { return true }
        return false
    }

    static func text(_ digits: [UInt8]) -> String { String(digits.map { Character(String($0)) }) }

    /// The answers ISO 8583 gives for keeping the card (04, 07, 33-38, 41, 43, 67, 75), or field 44's
    /// `CAPTURE CARD`.
    static func capturesCard(_ answer: CardAnswer) -> Bool {
        ["04", "07", "33", "34", "35", "36", "37", "38", "41", "43", "67", "75"].contains(answer.code) || answer.captureCard
    }
}
