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

    public init(
        currency: String = "978",
        fastCash: [Int64] = [2_000, 5_000, 10_000, 20_000],
        timeouts: ATMTimeouts = ATMTimeouts(),
        planner: DispensePlanner = DispensePlanner()
    ) {
        self.currency = currency
        self.fastCash = fastCash
        self.timeouts = timeouts
        self.planner = planner
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

/// A request for the shell to build, sign and send as a 0200 for the card in the reader. The PIN (and
/// a new PIN) are handed over here once, for the shell to encipher at once: the session has already
/// forgotten them.
public struct CardRequest: Sendable, Hashable {
    public var processingCode: ProcessingCode
    /// The card's number, as read.
    public var pan: String
    /// Minor units.
    public var amount: Int64
    public var from: String?
    public var to: String?
    public var pin: String?
    public var newPIN: String?

    public init(
        _ processingCode: ProcessingCode,
        pan: String,
        amount: Int64 = 0,
        from: String? = nil,
        to: String? = nil,
        pin: String? = nil,
        newPIN: String? = nil
    ) {
        self.processingCode = processingCode
        self.pan = pan
        self.amount = amount
        self.from = from
        self.to = to
        self.pin = pin
        self.newPIN = newPIN
    }
}

/// The switch's answer to a card request as the session reads it: the shell types it from the 0210
/// (its MAC already checked) with the ATM87 vocabulary, so the session never reads a wire field.
public struct CardAnswer: Sendable, Hashable {
    /// Field 39.
    public var code: String
    /// Field 11.
    public var stan: String?
    /// Field 37.
    public var retrievalReference: String?
    /// Field 38.
    public var authorization: String?
    /// Field 48's account numbers (the answer that opens a card session lists the card's accounts).
    public var accounts: [String]?
    /// Field 54's ledger balance, minor units.
    public var ledgerBalance: Int64?
    /// Field 63.
    public var statement: [MiniStatementLine]
    /// Field 44 says `CAPTURE CARD`.
    public var captureCard: Bool

    public init(
        code: String,
        stan: String? = nil,
        retrievalReference: String? = nil,
        authorization: String? = nil,
        accounts: [String]? = nil,
        ledgerBalance: Int64? = nil,
        statement: [MiniStatementLine] = [],
        captureCard: Bool = false
    ) {
        self.code = code
        self.stan = stan
        self.retrievalReference = retrievalReference
        self.authorization = authorization
        self.accounts = accounts
        self.ledgerBalance = ledgerBalance
        self.statement = statement
        self.captureCard = captureCard
    }

    /// The answer's fields as the vocabulary reads them; a field that does not decode is left out (the
    /// receipt then lacks it), the code is never guessed.
    public init(_ message: ATM87Message) {
        self.init(
            code: message[39] ?? "",
            stan: message[11],
            retrievalReference: message[37],
            authorization: message[38],
            accounts: message[48].flatMap { try? CardAccounts(field: $0) }?.numbers,
            ledgerBalance: message[54].flatMap { try? AdditionalAmount.decode($0) }?
                .first { $0.amountType == .ledgerBalance }?.amount,
            statement: message[63].flatMap { try? MiniStatementLine.decode($0) } ?? [],
            captureCard: message[44] == "CAPTURE CARD"
        )
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

/// A record for the terminal's electronic journal: every case is written by the shell (none is left
/// out). Never a PIN or a full PAN. What the shell itself journals as it acts (a request sent, a
/// reversal queued, a receipt printed) is its action, not an event here.
public enum ATMJournalEvent: Sendable, Hashable {
    /// A card in the reader: starts a card session in the journal.
    case cardInserted(maskedPAN: String)
    /// What was in the reader is not a card number: given back at once.
    case cardUnreadable(digits: Int)
    /// The answer to the request in flight, with what was asked (the totals count approved amounts).
    case answerReceived(CardAnswer, ProcessingCode, amount: Int64)
    case outcomeInDoubt(ReversalOrder.Reason)
    case dispensePlanned(DispensePlan)
    /// The notes given (all of the plan, or part of it after a jam) and the cassettes after them.
    case dispensed(given: DispensePlan, planned: DispensePlan, amount: Int64, complete: Bool, cassettes: [Cassette])
    case cashPresented(Int64)
    case cashTaken
    /// Cash presented and not taken, drawn back into the retract bin.
    case cashRetracted(Int64)
    case cardReturned
    case cardTaken
    case cardCaptured(reason: String)
    /// The request's outcome is final and nothing of it is to be undone (a refusal, an approval that
    /// moved no cash, a withdrawal whose cash was all taken).
    case transactionCompleted
    case timedOut(ATMTimer)
}

/// What the shell must do. Each action is performed and returns; what the world answers (the switch's
/// answer, the dispenser's result, a timer) comes back later as an event of its own.
public enum ATMAction: Sendable, Hashable {
    case show(ATMScreen)
    case startTimer(ATMTimer, Duration)
    case stopTimer
    /// Build, journal (armed for a reversal when it moves money) and send a 0200. The answer, or the
    /// loss of the link, comes back as `answerReceived` or `linkLost`; its deadline is the response timer.
    case send(CardRequest)
    /// Queue a reversal advice for the last request sent; the store-and-forward sender sends it.
    case reverse(ReversalOrder)
    /// End the card session at the switch (LOGOUT with the card's token).
    case endCardSession
    /// Start the dispenser; what it gave comes back as `dispenseEnded`.
    case dispense(DispensePlan)
    case presentCash(Int64)
    case retractCash
    case printReceipt(ReceiptData)
    case ejectCard
    case captureCard
    /// The customer has gone (card taken or retained): the card's token, its receipt and its journal
    /// session are forgotten.
    case endCustomer
    case journal(ATMJournalEvent)
}
