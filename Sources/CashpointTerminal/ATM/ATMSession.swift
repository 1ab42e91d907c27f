public import ATM87

/// How long each wait of an ATM lasts.
public struct ATMTimeouts: Sendable, Hashable, Codable {
    /// A screen waiting for the customer's keys.
    public var input: Duration
    /// The "do you need more time?" question.
    public var moreTime: Duration
    /// The switch's answer to a request.
    public var response: Duration
    /// Cash presented, before it is retracted.
    public var cashTake: Duration
    /// The card in the reader's mouth, before it is captured.
    public var cardTake: Duration
    /// A message that goes by itself (card retained).
    public var message: Duration

    public init(
        input: Duration = .seconds(30),
        moreTime: Duration = .seconds(15),
        response: Duration = .seconds(30),
        cashTake: Duration = .seconds(30),
        cardTake: Duration = .seconds(30),
        message: Duration = .seconds(5)
    ) {
        self.input = input
        self.moreTime = moreTime
        self.response = response
        self.cashTake = cashTake
        self.cardTake = cardTake
        self.message = message
    }
}

/// What an ATM session is set up with.
public struct ATMSettings: Sendable, Hashable {
    /// ISO 4217 numeric code of the cash and the requests.
    public var currency: String
    /// Fast-cash amounts in minor units; only those the cassettes can pay are offered.
    public var fastCash: [Int64]
    public var timeouts: ATMTimeouts
    public var planner: DispensePlanner
    /// What account numbers start with; a transfer to another account is typed after it.
    public var accountPrefix: String

    public init(
        currency: String = "978",
        fastCash: [Int64] = [2_000, 5_000, 10_000, 20_000],
        timeouts: ATMTimeouts = ATMTimeouts(),
        planner: DispensePlanner = DispensePlanner(),
        accountPrefix: String = "CP"
    ) {
        self.currency = currency
        self.fastCash = fastCash
        self.timeouts = timeouts
        self.planner = planner
        self.accountPrefix = accountPrefix
    }
}

/// The timers an ATM runs; one runs at a time, and starting one replaces the other.
public enum ATMTimer: Sendable, Hashable {
    case input
    case moreTime
    case response
    case cashTake
    case cardTake
    case message
}

/// A request for the shell to build, sign and send as a 0200. The PIN (and a new PIN) are handed over
/// here once, for the shell to encipher at once: the session has already forgotten them.
public struct CardRequest: Sendable, Hashable {
    public var processingCode: ProcessingCode
    /// Minor units.
    public var amount: Int64
    public var from: String?
    public var to: String?
    public var pin: String?
    public var newPIN: String?

    public init(
        _ processingCode: ProcessingCode,
        amount: Int64 = 0,
        from: String? = nil,
        to: String? = nil,
        pin: String? = nil,
        newPIN: String? = nil
    ) {
        self.processingCode = processingCode
        self.amount = amount
        self.from = from
        self.to = to
        self.pin = pin
        self.newPIN = newPIN
    }
}

/// A reversal the shell must send for the last request: the whole amount, less what was dispensed.
public struct ReversalOrder: Sendable, Hashable {
    /// The original request's amount, minor units.
    public var amount: Int64
    /// Cash actually given (field 95); 0 when none.
    public var dispensed: Int64
    public var reason: Reason

    public enum Reason: String, Sendable, Hashable {
        /// No answer in time: the outcome is in doubt.
        case timeout
        /// The link went down after the request was sent.
        case linkLost
        /// The switch answered 91 or 96: it could not finish the request, which may or may not have
        /// been posted (docs/protocol.md, response codes).
        case switchFailed
        /// The dispenser gave less than approved.
        case partialDispense
        /// The dispenser gave nothing.
        case dispenseFailed
        /// Cash was presented and not taken: it was retracted.
        case cashNotTaken
    }

    public init(amount: Int64, dispensed: Int64, reason: Reason) {
        self.amount = amount
        self.dispensed = dispensed
        self.reason = reason
    }
}

/// What a receipt says about a transaction; the shell adds the bank, the time and the terminal.
public struct ReceiptData: Sendable, Hashable {
    public var title: String
    public var maskedPAN: String
    /// The amount asked for, minor units (0 for an inquiry).
    public var amount: Int64
    /// For a withdrawal: the cash given.
    public var dispensed: Int64?
    public var currency: String
    public var account: String?
    public var authorization: String?
    public var retrievalReference: String?
    public var stan: String?
    public var responseCode: String?
    public var balance: Int64?
    public var statement: [MiniStatementLine]

    public init(
        title: String,
        maskedPAN: String,
        amount: Int64,
        dispensed: Int64? = nil,
        currency: String,
        account: String? = nil,
        authorization: String? = nil,
        retrievalReference: String? = nil,
        stan: String? = nil,
        responseCode: String? = nil,
        balance: Int64? = nil,
        statement: [MiniStatementLine] = []
    ) {
        self.title = title
        self.maskedPAN = maskedPAN
        self.amount = amount
        self.dispensed = dispensed
        self.currency = currency
        self.account = account
        self.authorization = authorization
        self.retrievalReference = retrievalReference
        self.stan = stan
        self.responseCode = responseCode
        self.balance = balance
        self.statement = statement
    }
}

/// A record for the terminal's electronic journal. Never a PIN or a full PAN.
public enum ATMJournalEvent: Sendable, Hashable {
    case cardInserted(maskedPAN: String)
    case requestSent(ProcessingCode, amount: Int64)
    case answerReceived(code: String, stan: String?, rrn: String?)
    case outcomeInDoubt(ReversalOrder.Reason)
    case dispensePlanned(DispensePlan)
    case dispensed(DispensePlan)
    case cashPresented(Int64)
    case cashTaken
    case cashRetracted
    case reversalOrdered(ReversalOrder)
    case cardReturned
    case cardTaken
    case cardCaptured(reason: String)
    case receiptPrinted(String)
    /// The request's outcome is final and nothing of it is to be undone (a refusal, an approval that
    /// moved no cash, a withdrawal whose cash was all taken).
    case transactionCompleted
    case timedOut(ATMTimer)
}

/// What the shell must do.
public enum ATMAction: Sendable, Hashable {
    case show(ATMScreen)
    case startTimer(ATMTimer, Duration)
    case stopTimer
    case send(CardRequest)
    /// Send a reversal advice for the last request sent.
    case reverse(ReversalOrder)
    /// End the card session at the switch (LOGOUT with the card's token).
    case endCardSession
    case dispense(DispensePlan)
    case presentCash(Int64)
    case retractCash
    case printReceipt(ReceiptData)
    case ejectCard
    case captureCard
    case journal(ATMJournalEvent)
}

/// An ATM's card session as a state machine: events in, actions out; no I/O and no clock (timers are
/// actions, their expiry an event). The shell performs each action in order.
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
        case chooseAccount(Intent, choosingTo: Bool)
        case accountEntry(Intent, digits: String, notice: String?)
        case amountEntry(Intent, amount: Int64, notice: String?)
        case pinChange(Intent, stage: PINChangeStage, digits: [UInt8], notice: String?)
        case awaiting(Intent)
        case dispensing(Intent, answer: ATM87Message)
        case presenting(Intent, answer: ATM87Message, dispensed: Int64)
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
        case idle
        case card(Card, Phase)
    }

    public private(set) var cassettes: [Cassette]
    public let settings: ATMSettings
    var state: State = .outOfService

    public init(settings: ATMSettings, cassettes: [Cassette]) {
        self.settings = settings
        self.cassettes = cassettes
    }

    /// The screen the session is on, for a redraw.
    public var screen: ATMScreen {
        switch self.state {
        case .outOfService: return .outOfService
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

    // MARK: Events

    /// The link to the switch is up and signed on.
    public mutating func linkUp() -> [ATMAction] {
        guard case .outOfService = self.state else { return [] }
        self.state = .idle
        return [.show(.welcome)]
    }

    /// The link is gone. A request in flight is in doubt; a customer at the menus is sent away.
    public mutating func linkLost() -> [ATMAction] {
        switch self.state {
        case .outOfService:
            return []
        case .idle:
            self.state = .outOfService
            return [.stopTimer, .show(.outOfService)]
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

    public mutating func cardInserted(pan: String) -> [ATMAction] {
        guard case .idle = self.state else { return [] }
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
            let offerOther = choosingTo
            let accounts = self.accountsOffered(card, intent, choosingTo: choosingTo)
            switch key {
            case .function(.h), .cancel: return self.menu(card)
            case .function(let f):
                guard let index = FunctionKey.allCases.firstIndex(of: f) else { return [] }
                let shown = Array(accounts.prefix(offerOther ? 6 : 7))
                if index < shown.count {
                    if choosingTo {
                        intent.to = shown[index]
                        return self.afterAccounts(card, intent)
                    }
                    intent.from = shown[index]
                    return self.afterFromAccount(card, intent)
                }
                if offerOther && index == shown.count {
                    return self.enter(card, .accountEntry(intent, digits: "", notice: nil))
                }
                return []
            default: return []
            }
        case .accountEntry(var intent, let digits, _):
            switch key {
            case .digit(let d) where digits.count < 16:
                return self.enter(card, .accountEntry(intent, digits: digits + String(d), notice: nil), restart: false)
            case .clear:
                return self.enter(card, .accountEntry(intent, digits: String(digits.dropLast()), notice: nil), restart: false)
            case .cancel, .function(.h): return self.menu(card)
            case .enter:
                guard !digits.isEmpty else {
                    return self.enter(card, .accountEntry(intent, digits: digits, notice: "Type the account number."), restart: false)
                }
                intent.to = self.settings.accountPrefix + digits
                return self.afterAccounts(card, intent)
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
                    return self.enter(
                        card,
                        .amountEntry(intent, amount: 0, notice: self.cashNotice()),
                        restart: false
                    )
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

    /// The switch's answer to the request in flight (its MAC already checked by the shell).
    public mutating func answerReceived(_ answer: ATM87Message) -> [ATMAction] {
        guard case .card(var card, let phase) = self.state else { return [] }
        let code = answer[39] ?? ""
        var actions: [ATMAction] = [.stopTimer, .journal(.answerReceived(code: code, stan: answer[11], rrn: answer[37]))]
        if case .awaiting(let intent) = phase, code != "00" || intent.type != .withdrawal {
            actions.append(.journal(.transactionCompleted))
        }
        if Self.capturesCard(code: code, answer) {
            return actions + (card.verified ? [.endCardSession] : [])
                + [.captureCard, .journal(.cardCaptured(reason: "response code \(code)"))]
                + self.retained(card, ScreenText.refusalLines(code))
        }
        switch phase {
        case .verifyingPIN:
            switch code {
            case "00":
                card.verified = true
                if let field = answer[48], let accounts = try? CardAccounts(field: field) {
                    card.accounts = accounts.numbers
                }
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
        case .awaiting(let intent):
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
                lines = (receipt?.statement ?? []).prefix(6).map {
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
            if let receipt { out += [.printReceipt(receipt), .journal(.receiptPrinted(receipt.title))] }
            return out + self.result(card, intent.type, lines)
        default:
            return []
        }
    }

    /// The dispenser gave all the notes of the plan.
    public mutating func dispensed(_ plan: DispensePlan) -> [ATMAction] {
        self.dispenseEnded(given: plan)
    }

    /// The dispenser stopped (a jam) after giving `given`.
    public mutating func dispenseFailed(given: DispensePlan) -> [ATMAction] {
        self.dispenseEnded(given: given)
    }

    public mutating func cashTaken() -> [ATMAction] {
        guard case .card(let card, .presenting(let intent, let answer, let dispensed)) = self.state else { return [] }
        var actions: [ATMAction] = [.stopTimer, .journal(.cashTaken)]
        if dispensed < intent.amount {
            let order = ReversalOrder(amount: intent.amount, dispensed: dispensed, reason: .partialDispense)
            actions += [.journal(.reversalOrdered(order)), .reverse(order)]
        } else {
            actions.append(.journal(.transactionCompleted))
        }
        var receipt = self.receipt(card, intent, answer)
        receipt.dispensed = dispensed
        var lines = ["Please take your receipt."]
        if let balance = receipt.balance, dispensed == intent.amount {
            lines.append("Balance: \(ScreenText.cash(balance, currency: self.settings.currency))")
        }
        return actions + [.printReceipt(receipt), .journal(.receiptPrinted(receipt.title))]
            + self.result(card, .withdrawal, lines)
    }

    public mutating func cardTaken() -> [ATMAction] {
        guard case .card(_, .ejecting) = self.state else { return [] }
        self.state = .idle
        return [.stopTimer, .journal(.cardTaken), .show(.welcome)]
    }

    public mutating func timerFired(_ timer: ATMTimer) -> [ATMAction] {
        guard case .card(var card, let phase) = self.state else { return [] }
        switch (timer, phase) {
        case (.input, .pinEntry), (.input, .menu), (.input, .fastCash), (.input, .chooseAccount),
            (.input, .accountEntry), (.input, .amountEntry), (.input, .pinChange), (.input, .result):
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
        case (.cashTake, .presenting(let intent, _, _)):
            let order = ReversalOrder(amount: intent.amount, dispensed: 0, reason: .cashNotTaken)
            return [
                .journal(.timedOut(timer)), .retractCash, .journal(.cashRetracted),
                .journal(.reversalOrdered(order)), .reverse(order),
            ] + self.returnCard(card, lines: ["Your cash was not taken and", "has been retracted.", "Your account will not be charged."])
        case (.cardTake, .ejecting):
            return [.journal(.timedOut(timer)), .captureCard, .journal(.cardCaptured(reason: "card not taken"))]
                + self.retained(card, ["Your card was not taken", "and has been retained."])
        case (.message, .retained):
            self.state = .idle
            return [.show(.welcome)]
        default:
            return []
        }
    }

    // MARK: Steps

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
            let request = CardRequest(ProcessingCode(.balanceInquiry), pin: Self.text(digits))
            return [
                .stopTimer, .show(.pleaseWait), .journal(.requestSent(request.processingCode, amount: 0)),
                .send(request), .startTimer(.response, self.settings.timeouts.response),
            ]
        case .function:
            return []
        }
    }

    mutating func menuKey(_ key: ATMKey, _ card: Card) -> [ATMAction] {
        let menu = self.currentMenu()
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
            if self.accountsOffered(card, intent, choosingTo: true).isEmpty {
                return self.enter(card, .accountEntry(intent, digits: "", notice: nil))
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

    func accountsOffered(_ card: Card, _ intent: Intent, choosingTo: Bool) -> [String] {
        choosingTo ? card.accounts.filter { $0 != intent.from } : card.accounts
    }

    /// Builds the request, forgets any PIN, and waits for the answer.
    mutating func send(_ card: Card, _ intent: Intent) -> [ATMAction] {
        var intent = intent
        var request = CardRequest(ProcessingCode(intent.type), amount: intent.amount, from: intent.from, to: intent.to)
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
        return [
            .stopTimer, .show(.pleaseWait), .journal(.requestSent(request.processingCode, amount: request.amount)),
            .send(request), .startTimer(.response, self.settings.timeouts.response),
        ]
    }

    /// The notes given (all of the plan or, after a jam, part of it): counts down, then the cash presented
    /// (or, when nothing came out, the whole amount reversed).
    mutating func dispenseEnded(given: DispensePlan) -> [ATMAction] {
        guard case .card(let card, .dispensing(let intent, let answer)) = self.state else { return [] }
        for (index, notes) in given.notes.enumerated() where index < self.cassettes.count {
            self.cassettes[index].count = max(0, self.cassettes[index].count - notes)
        }
        let amount = given.amount(of: self.cassettes)
        var actions: [ATMAction] = [.journal(.dispensed(given))]
        guard amount > 0 else {
            let order = ReversalOrder(amount: intent.amount, dispensed: 0, reason: .dispenseFailed)
            actions += [.journal(.reversalOrdered(order)), .reverse(order)]
            return actions + self.result(card, .withdrawal, ["Sorry, no cash could be given.", "Your account will not be charged."])
        }
        self.state = .card(card, .presenting(intent, answer: answer, dispensed: amount))
        return actions + [
            .presentCash(amount), .journal(.cashPresented(amount)),
            .show(.takeCash(amount: amount, currency: self.settings.currency, requested: intent.amount)),
            .startTimer(.cashTake, self.settings.timeouts.cashTake),
        ]
    }

    /// No answer, or the link went down: the customer is told, the card comes back, and a money
    /// movement is reversed in full (nothing was dispensed).
    mutating func inDoubt(_ card: Card, _ intent: Intent, reason: ReversalOrder.Reason) -> [ATMAction] {
        var actions: [ATMAction] = [.journal(.outcomeInDoubt(reason))]
        if intent.type.movesMoney {
            let order = ReversalOrder(amount: intent.amount, dispensed: 0, reason: reason)
            actions += [.journal(.reversalOrdered(order)), .reverse(order)]
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
        case .menu(let notice): return .mainMenu(self.currentMenu(), notice: notice)
        case .fastCash(let amounts): return .fastCash(amounts: amounts, currency: currency)
        case .chooseAccount(let intent, let choosingTo):
            return .accountChoice(
                title: choosingTo ? "TRANSFER TO" : Self.title(intent.type),
                accounts: self.accountsOffered(card, intent, choosingTo: choosingTo),
                other: choosingTo
            )
        case .accountEntry(_, let digits, let notice):
            return .accountEntry(prefix: self.settings.accountPrefix, digits: digits, notice: notice)
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

    func currentMenu() -> ATMMenu {
        let anyCash = self.cassettes.contains { $0.count > 0 && $0.currency == self.settings.currency }
        return ATMMenu(fastCash: !self.payableFastCash().isEmpty, otherAmount: anyCash)
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

    func receipt(_ card: Card, _ intent: Intent, _ answer: ATM87Message) -> ReceiptData {
        let balance = answer[54].flatMap { try? AdditionalAmount.decode($0) }?.first { $0.amountType == .ledgerBalance }
        return ReceiptData(
            title: Self.title(intent.type),
            maskedPAN: ATM87PrettyPrinter.maskPAN(card.pan),
            amount: intent.amount,
            currency: self.settings.currency,
            account: intent.from,
            authorization: answer[38],
            retrievalReference: answer[37],
            stan: answer[11],
            responseCode: answer[39],
            balance: balance?.amount,
            statement: answer[63].flatMap { try? MiniStatementLine.decode($0) } ?? []
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
    static func capturesCard(code: String, _ answer: ATM87Message) -> Bool {
        ["04", "07", "33", "34", "35", "36", "37", "38", "41", "43", "67", "75"].contains(code)
            || answer[44] == "CAPTURE CARD"
    }
}
