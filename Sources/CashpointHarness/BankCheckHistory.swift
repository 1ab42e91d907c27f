public import CashpointBank

/// What the bank check records while it runs and reads afterwards: the requests its terminals sent with
/// what became of each, and the bank's balances as read. The checker (`BankCheckChecker`) is a pure
/// function of these and the ledger's rows.

/// How the switch and the ledger identify a request: the terminal, the STAN (field 11) and the
/// transmission time (field 7), the switch's own idempotency key. `bank.transactions` holds at most one
/// row per key (`transactions_idempotency_key`); a repeat with the same key gets the stored answer.
public typealias BankCheckKey = IdempotencyKey

/// A request that moves money, as the ledger stores its kind.
public enum BankCheckOperationKind: String, Sendable, Hashable, CaseIterable {
    case withdrawal
    case deposit
    case transfer
}

/// What a request asked for: the amount in minor units and the customer accounts it names.
public struct BankCheckOperation: Sendable, Hashable {
    public var kind: BankCheckOperationKind
    public var amount: Int64
    /// The account debited (withdrawal, transfer); nil for a deposit.
    public var from: String?
    /// The account credited (deposit, transfer); nil for a withdrawal.
    public var to: String?

    public init(_ kind: BankCheckOperationKind, amount: Int64, from: String? = nil, to: String? = nil) {
        self.kind = kind
        self.amount = amount
        self.from = from
        self.to = to
    }

    /// What the request moves on customer accounts when posted: a withdrawal debits `from`, a deposit
    /// credits `to`, a transfer both.
    public var customerEffects: [String: Int64] {
        var effects: [String: Int64] = [:]
        if let from = self.from { effects[from, default: 0] -= self.amount }
        if let to = self.to { effects[to, default: 0] += self.amount }
        return effects.filter { $0.value != 0 }
    }
}

/// Why a request is in doubt: the terminal cannot know whether the bank posted it.
public enum BankCheckDoubt: String, Sendable, Hashable, CaseIterable {
    /// No answer within the request timeout.
    case noAnswer = "no answer"
    /// The connection closed or failed before the answer came.
    case connectionLost = "connection lost"
    /// 91: the switch could not reach the database (it says nothing was posted; a terminal cannot rely on it).
    case issuerInoperative = "answered 91"
    /// 96: internal error or the switch's deadline passed.
    case systemMalfunction = "answered 96"
}

/// What the terminal learnt from the switch.
public enum BankCheckOutcome: Sendable, Hashable {
    /// Answered 00.
    case acknowledged
    /// Answered with a refusal (51, 61, 68, ...): nothing may be posted.
    case refused(code: String)
    /// No usable answer: the terminal sends a reversal advice (0420, repeated as 0421) until answered.
    case inDoubt(BankCheckDoubt)

    /// The response codes that leave a request in doubt; every other code but 00 is a refusal.
    public static func of(responseCode code: String) -> Self {
        switch code {
        case "00": .acknowledged
        case "91": .inDoubt(.issuerInoperative)
        case "96": .inDoubt(.systemMalfunction)
        default: .refused(code: code)
        }
    }
}

/// The reversal advice sent for a request in doubt: its own key (every repeat carries the first one's)
/// and the response code that finally answered it (nil: never answered, or only with 91/96).
public struct BankCheckReversal: Sendable, Hashable {
    public var key: BankCheckKey
    public var answer: String?
    public var attempts: Int

    public init(key: BankCheckKey, answer: String? = nil, attempts: Int = 1) {
        self.key = key
        self.answer = answer
        self.attempts = attempts
    }

    /// 00: the switch settled the original (reversed it, or claimed its key so it never posts). Any
    /// other final answer (51: a deposit's money already spent) leaves the original as it stands.
    public var settled: Bool { self.answer == "00" }
}

/// One request of the history.
public struct BankCheckRequest: Sendable, Hashable {
    public var key: BankCheckKey
    public var operation: BankCheckOperation
    public var outcome: BankCheckOutcome
    /// Set for a request in doubt once its reversal advice has been sent.
    public var reversal: BankCheckReversal?
    /// From the start of the run: when the request was sent, and when its outcome was known (the answer,
    /// or the timeout or lost connection that left it in doubt). nil where not measured.
    public var sent: Duration?
    public var ended: Duration?

    public init(
        key: BankCheckKey,
        operation: BankCheckOperation,
        outcome: BankCheckOutcome,
        reversal: BankCheckReversal? = nil,
        sent: Duration? = nil,
        ended: Duration? = nil
    ) {
        self.key = key
        self.operation = operation
        self.outcome = outcome
        self.reversal = reversal
        self.sent = sent
        self.ended = ended
    }
}

/// One account's balance in a read.
public struct BankCheckBalance: Sendable, Hashable {
    public var account: String
    /// A customer's account (which may never go below zero), as opposed to the bank's own
    /// (terminal cash, equity, vault, tellers' drawers).
    public var isCustomer: Bool
    public var balance: Int64

    public init(account: String, isCustomer: Bool, balance: Int64) {
        self.account = account
        self.isCustomer = isCustomer
        self.balance = balance
    }
}

/// Every account's balance as one statement read them (one snapshot).
public struct BankCheckSnapshot: Sendable, Hashable {
    public var balances: [BankCheckBalance]

    public init(_ balances: [BankCheckBalance]) { self.balances = balances }

    /// Customer accounts plus the bank's internal accounts: what double entry keeps constant.
    public var total: Int64 { self.balances.reduce(0) { $0 &+ $1.balance } }

    public func balance(of account: String) -> Int64? { self.balances.first { $0.account == account }?.balance }
}
