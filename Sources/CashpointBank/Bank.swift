import ATM87
import CashpointDatabase
public import CashpointSecurity
public import Foundation
public import Logging
public import NIOPosix
import Synchronization

/// A card number as a terminal presented it, with its keyed digest (how the store knows cards), made
/// once per request by `Bank.present(pan:)`.
public struct PresentedCard: Sendable, Hashable {
    public let pan: String
    /// The peppered HMAC of the PAN (`CredentialHasher.panDigest`).
    public let digest: [UInt8]

    /// The digest as a card-session token carries it: its first 16 bytes, hex.
    public var tokenDigest: String { Hex.encode(self.digest.prefix(16)) }
    public var maskedPAN: String { ATM87PrettyPrinter.maskPAN(self.pan) }
}

/// The field in which a reversal advice disagrees with its original: 2 (the card), 3 (the transaction
/// type), 4 (the amount). Its description starts with the 25 characters field 44 carries:
/// `not the original: field N`.
public struct ReversalMismatch: Sendable, Hashable, CustomStringConvertible {
    public var field: Int
    public var detail: String

    public init(field: Int, detail: String) {
        self.field = field
        self.detail = detail
    }

    /// The mismatch the store found in `field`, in words.
    init(field: Int, originalKind: String) {
        let detail =
            switch field {
            case 2: "not the original's card"
            case 3: "the original is a \(originalKind)"
            case 4: "not the original's amount"
            default: "field \(field) differs"
            }
        self.init(field: field, detail: detail)
    }

    public var description: String { "not the original: field \(self.field) (\(self.detail))" }
}

/// A cardholder whose PIN (or session token) was checked: what later requests of the card session act as.
public struct CardHolder: Sendable, Hashable {
    public var cardID: Int64
    public var userID: Int64
    public var maskedPAN: String
    /// The accounts the card may use, default first.
    public var accounts: [String]

    public init(cardID: Int64, userID: Int64, maskedPAN: String, accounts: [String]) {
        self.cardID = cardID
        self.userID = userID
        self.maskedPAN = maskedPAN
        self.accounts = accounts
    }

    public var actorName: String { "card:\(self.maskedPAN)" }
}

public enum CardAuthentication: Sendable, Hashable {
    case approved(CardHolder)
    /// Refused with this code; `capture` tells the terminal to keep the card (75).
    case refused(ResponseCode, capture: Bool)
}

/// A signed-on member of staff: a teller, an administrator or a compliance officer.
public struct StaffMember: Sendable, Hashable {
    public var userID: Int64
    public var userName: String
    public var role: Role

    public init(userID: Int64, userName: String, role: Role) {
        self.userID = userID
        self.userName = userName
        self.role = role
    }
}

public enum StaffLogin: Sendable, Hashable {
    case approved(StaffMember)
    case refused(ResponseCode)
    /// The password was right; the next sign-on must also carry this (answered 1A).
    case needs(NextFactor)
    /// An enrolment has begun (answered 1A): the new secret and ten recovery codes, to be shown to the
    /// user once; the first right code from the secret completes it.
    case enrolment(secret: [UInt8], parameters: OTPParameters, recoveryCodes: [String])
}

/// What a request answered 1A (or 30 for a reason) must carry next: field 48's `NF`.
public enum NextFactor: String, Sendable, Hashable {
    /// A one-time code (`OT`).
    case code = "OT"
    /// A one-time enrolment code (`EC`).
    case enrolmentCode = "EC"
    /// A reason for a held change (`RS`).
    case reason = "RS"
}

/// What a cardholder asks for at an ATM.
public enum CardOperation: Sendable, Hashable {
    case balance(account: String?)
    case withdrawal(amount: Int64, account: String?)
    case deposit(amount: Int64, account: String?)
    case transfer(amount: Int64, from: String?, to: String)
    case miniStatement(account: String?)
    case pinChange(newPIN: String)
}

/// What a member of staff asks for.
public enum StaffOperation: Sendable, Hashable {
    case balance(account: String)
    case deposit(account: String, amount: Int64)
    case withdrawal(account: String, amount: Int64)
    case transfer(from: String, to: String, amount: Int64)
    case miniStatement(account: String)
    case createCustomer(userName: String, fullName: String)
    case openAccount(customerID: Int64, accountNo: String, name: String, dailyLimit: Int64?, dailyCount: Int?)
    /// Issues a card with a first PIN, which the answer does not repeat: the customer chose it or was
    /// told it once at the desk.
    case issueCard(customerID: Int64, pan: String, pin: String, expiry: String, accounts: [String])
    /// Issues a card with a first PIN the bank chooses (`NewCardRules`), which the answer carries once
    /// (`BankAnswer.firstPIN`); the expiry is the last day of `expiry`'s month (nil: four years on).
    case issueFirstCard(customerID: Int64, pan: String, expiry: ExpiryMonth?, accounts: [String])
    case lockAccount(String)
    case unlockAccount(String)
    case lockCard(pan: String)
    case unlockCard(pan: String)
    case unlockUser(String)
    /// One page of users: `limit` (1-50) after skipping `skip`, by id, and how many there are in all.
    case listUsers(skip: Int, limit: Int)
    case readAudit(AuditFilter)
    case changeRole(userName: String, role: Role)
    case createStaff(userName: String, fullName: String, role: Role, password: String)
    /// An account's daily limits (nil: unchanged).
    case setLimits(account: String, dailyLimit: Int64?, dailyCount: Int?)
    /// A one-time enrolment code for a member of staff's second factor (a reset when they have one).
    case enrolStaff(userName: String)
    /// KYC: a customer's KYC record.
    case viewKYC(customerID: Int64)
    /// VERIFY: a compliance user's KYC decision, with a reason (needs a fresh second factor; verifying
    /// a high-risk customer is held for a second compliance user).
    case decideKYC(customerID: Int64, decision: KYCDecision, reason: String)
    /// CASES: the compliance desk's queue, cases in `status` (active, all, open, assigned, escalated,
    /// closed), the most severe first, then the oldest; `offset` skipped, at most `limit` (1-50).
    case listCases(status: String, offset: Int, limit: Int)
    /// CASE: one case's file (subject, alerts, transactions, events).
    case showCase(Int64)
    /// CASEASSIGN, CASEESCALATE, CASENOTE, CASECLOSE: a step in a case's life. `argument`: the assignee
    /// (assign) or the disposition (close). A decision (assign, escalate, close) needs a fresh second factor.
    case workCase(Int64, step: CaseStep, argument: String?, note: String?)
    /// CASEOPEN: a case opened at the desk for a customer (by user name), with a severity and a reason.
    case openCase(customer: String, severity: AlertSeverity, reason: String)

    var permission: BankOperation {
        switch self {
        case .balance: return .balance
        case .deposit: return .deposit
        case .withdrawal: return .withdrawal
        case .transfer: return .transfer
        case .miniStatement: return .miniStatement
        case .createCustomer: return .createCustomer
        case .openAccount: return .createAccount
        case .issueCard, .issueFirstCard: return .issueCard
        case .lockAccount: return .lockAccount
        case .unlockAccount: return .unlockAccount
        case .lockCard: return .lockCard
        case .unlockCard: return .unlockCard
        case .unlockUser: return .unlockUser
        case .listUsers: return .listUsers
        case .readAudit: return .readAudit
        case .changeRole: return .changeRole
        case .createStaff: return .createStaff
        case .setLimits: return .setLimits
        case .enrolStaff: return .enrolStaff
        case .viewKYC: return .viewKYC
        case .decideKYC: return .verifyCustomer
        case .listCases, .showCase, .workCase, .openCase: return .workCases
        }
    }

    /// The audit action: the same name whether the permission table refuses the operation or the
    /// database function records it (docs/security.md lists them all).
    var name: String {
        switch self {
        case .balance: return "balance"
        case .deposit: return "deposit"
        case .withdrawal: return "withdrawal"
        case .transfer: return "transfer"
        case .miniStatement: return "statement"
        case .createCustomer: return "customer.create"
        case .openAccount: return "account.create"
        case .issueCard, .issueFirstCard: return "card.issue"
        case .lockAccount: return "account.lock"
        case .unlockAccount: return "account.unlock"
        case .lockCard: return "card.blocked"
        case .unlockCard: return "card.unlock"
        case .unlockUser: return "user.unlock"
        case .listUsers: return "users.list"
        case .readAudit: return "audit.read"
        case .changeRole: return "user.role"
        case .createStaff: return "staff.create"
        case .setLimits: return "account.limits"
        case .enrolStaff: return "factor.enrolment-code"
        case .viewKYC: return "kyc.view"
        case .decideKYC(_, let decision, _): return "kyc.\(decision.rawValue)"
        case .listCases: return "cases.list"
        case .showCase: return "case.viewed"
        case .workCase(_, let step, _, _): return "case.\(step.rawValue)"
        case .openCase: return "case.opened"
        }
    }
}

/// The answer to a cardholder's or staff member's request.
public struct BankAnswer: Sendable, Hashable {
    public var code: ResponseCode
    public var balance: Int64?
    public var authCode: String?
    public var transactionID: Int64?
    public var statement: [StatementLine]
    /// The answer replays a stored one: nothing was posted again.
    public var replayed: Bool
    /// Rows or ids an administrative request returns.
    public var users: [UserRecord]
    public var audit: [AuditRecord]
    public var createdID: Int64?
    /// A refusal's reason (for field 44 and the log), and whether the terminal keeps the card.
    public var reason: String?
    public var capture: Bool
    /// The number of users in all, for a page of `users`.
    public var userCount: Int?
    /// A new card's first PIN, chosen by the bank, for the caller to give once (enciphered); never log it.
    public var firstPIN: String?
    /// A held change's id (09), or the pending one a duplicate names (94).
    public var changeID: Int64?
    /// What the request must carry when sent again (1A, or 30 without a reason).
    public var nextFactor: NextFactor?
    /// A one-time enrolment code for the caller to give once (enciphered); never log it.
    public var enrolmentCode: String?
    /// Held changes, for the desk.
    public var changes: [ChangeRecord] = []
    /// A customer's KYC record (KYC).
    public var kyc: KYCRecord?
    /// The compliance desk: a page of the case queue (CASES), a case's file (CASE), a case's status
    /// after a step.
    public var cases: [CaseSummary] = []
    public var caseFile: CaseFile?
    public var caseStatus: String?

    public init(
        code: ResponseCode,
        balance: Int64? = nil,
        authCode: String? = nil,
        transactionID: Int64? = nil,
        statement: [StatementLine] = [],
        replayed: Bool = false,
        users: [UserRecord] = [],
        audit: [AuditRecord] = [],
        createdID: Int64? = nil,
        capture: Bool = false,
        reason: String? = nil,
        userCount: Int? = nil,
        firstPIN: String? = nil
    ) {
        self.capture = capture
        self.reason = reason
        self.code = code
        self.balance = balance
        self.authCode = authCode
        self.transactionID = transactionID
        self.statement = statement
        self.replayed = replayed
        self.users = users
        self.audit = audit
        self.createdID = createdID
        self.userCount = userCount
        self.firstPIN = firstPIN
    }

    public static func refused(_ code: ResponseCode) -> BankAnswer { BankAnswer(code: code) }

    /// Refused until the request carries `next`.
    public static func needs(_ next: NextFactor, _ code: ResponseCode, reason: String) -> BankAnswer {
        var answer = BankAnswer(code: code, reason: reason)
        answer.nextFactor = next
        return answer
    }

    /// The answer to a posting.
    init(_ posting: PostingResult) {
        self.init(
            code: posting.code,
            balance: posting.balanceAfter,
            authCode: posting.authCode,
            transactionID: posting.transactionID,
            replayed: posting.replayed
        )
    }
}

/// The bank: the one API the switch calls for cards, staff and terminals. It decides who may do what
/// (the permission table, the card rules, the staff rules) and asks the store (`BankRecords`) for one
/// transaction per operation. bcrypt runs on a thread pool, never on an event loop or the cooperative
/// pool. Time comes from the injected clock.
public struct Bank: Sendable {
    public let records: any BankRecords
    let hasher: CredentialHasher
    /// Seals and opens staff TOTP secrets (nil: staff cannot sign on: there is no second factor).
    let switchKey: SwitchKey?
    let threadPool: NIOThreadPool
    let now: @Sendable () -> Date
    let logger: Logger
    /// What the bank reads once and hands out from memory: its currency, reference numbers.
    let cached = Cached()

    final class Cached: Sendable {
        let currency = Mutex<String?>(nil)
        /// Retrieval reference numbers reserved from the store, 1,000 at a time: the next and the end.
        let references = Mutex<(next: Int64, end: Int64)>((next: 0, end: 0))
    }

    public init(
        records: any BankRecords,
        hasher: CredentialHasher,
        switchKey: SwitchKey? = nil,
        threadPool: NIOThreadPool = .singleton,
        now: @escaping @Sendable () -> Date = { Date() },
        logger: Logger
    ) {
        self.records = records
        self.hasher = hasher
        self.switchKey = switchKey
        self.threadPool = threadPool
        self.now = now
        self.logger = logger
    }

    /// The card a request names, with its digest computed once.
    public func present(pan: String) -> PresentedCard {
        PresentedCard(pan: pan, digest: self.hasher.panDigest(pan))
    }

    // MARK: Cards

    /// Checks a card and its PIN. The card rules answer from the card's state before bcrypt runs (a
    /// blocked card: 75, capture, and no PIN check), and again from the state the PIN check left: the
    /// third wrong PIN in a row (configurable in bank.settings) blocks the card, which is then a blocked
    /// card's answer.
    public func authenticateCard(
        _ card: PresentedCard,
        pin: String,
        terminal: String,
        ip: String?
    ) async throws
        -> CardAuthentication
    {
        let actor = ActorContext(
            role: .system,
            userID: nil,
            name: "card:\(card.maskedPAN)",
            device: terminal,
            ip: ip
        )
        let pan = card.pan
        guard let card = try await self.records.card(panDigest: card.digest) else {
            try await self.records.recordCardRefusal(
                cardID: nil,
                code: .unknownCard,
                reason: "no such card",
                actor: actor
            )
            return .refused(.unknownCard, capture: false)
        }
        if let refusal = CardRules.refusal(card.state) {
            return try await self.refuse(card: card.cardID, refusal, actor: actor)
        }
        let ok = try await self.verifyOffLoop(pan: pan, pin: pin, hash: card.pinHash)
        let attempt = try await self.records.recordPINAttempt(cardID: card.cardID, ok: ok, actor: actor)
        // The card as the check left it: blocked by this wrong PIN, or by a teller meanwhile.
        var after = card.state
        after.status = attempt.status
        if let refusal = CardRules.refusal(after) {
            return try await self.refuse(card: card.cardID, refusal, actor: actor)
        }
        guard ok else { return .refused(.wrongPIN, capture: false) }
        let accounts = try await self.records.accounts(ofCard: card.cardID)
        return .approved(
            CardHolder(cardID: card.cardID, userID: card.userID, maskedPAN: card.maskedPAN, accounts: accounts)
        )
    }

    /// A cardholder's request: checked against the permission table (API layer), then run by the SQL
    /// function in the customer's row-level-security context (database layer). Within a card session
    /// (`session`: the token's id), the same call checks the card and the session first, so the request
    /// is one round trip; a card that may not be used now is answered by the card rules.
    public func perform(
        _ operation: CardOperation,
        for holder: CardHolder,
        card: PresentedCard,
        key: IdempotencyKey,
        ip: String?,
        session: String? = nil
    ) async throws -> BankAnswer {
        do {
            return try await self.run(operation, for: holder, card: card, key: key, ip: ip, session: session)
        } catch let refused as CardSessionRefused {
            let actor = ActorContext(
                role: .system,
                userID: nil,
                name: holder.actorName,
                device: key.terminal,
                ip: ip
            )
            return try await self.answer(refused, holder: holder, actor: actor)
        }
    }

    /// The answer when the database found that a card session may not go on: the card rules' (nothing
    /// was done). The database stops a session only on a fact the rules refuse (`CardStateMatrixTests`);
    /// were they ever to disagree, the request fails (96) rather than get an answer of its own.
    func answer(_ refused: CardSessionRefused, holder: CardHolder, actor: ActorContext) async throws -> BankAnswer {
        guard let refusal = CardRules.refusal(refused.state, sessionCard: holder.cardID) else {
            throw StoreError(
                kind: .unavailable,
                detail: "the store stopped a card session whose state the card rules allow: \(refused.state)"
            )
        }
        switch refusal.record {
        case .cardRefused:
            try await self.records.recordCardRefusal(
                cardID: holder.cardID,
                code: refusal.code,
                reason: refusal.reason,
                actor: actor
            )
        case .tokenRefused:
            try await self.records.audit(
                actor: actor,
                action: "token.refused",
                outcome: refusal.code.rawValue,
                details: ["reason": refusal.reason]
            )
        case .notRecorded:
            break
        }
        return BankAnswer(code: refusal.code, capture: refusal.capture, reason: refusal.reason)
    }

    /// A card refused by the card rules at the PIN check, audited (`card.refused`).
    func refuse(card: Int64, _ refusal: CardRefusal, actor: ActorContext) async throws -> CardAuthentication {
        try await self.records.recordCardRefusal(cardID: card, code: refusal.code, reason: refusal.reason, actor: actor)
        return .refused(refusal.code, capture: refusal.capture)
    }

    func run(
        _ operation: CardOperation,
        for holder: CardHolder,
        card: PresentedCard,
        key: IdempotencyKey,
        ip: String?,
        session: String?
    ) async throws -> BankAnswer {
        let actor = ActorContext(
            role: .customer,
            userID: holder.userID,
            name: holder.actorName,
            device: key.terminal,
            ip: ip
        )
        guard key.isWellFormed else { return .refused(.formatError) }
        func owned(_ account: String?) -> String? {
            account ?? holder.accounts.first
        }
        func check(_ permission: BankOperation, _ accounts: [String?]) -> ResponseCode? {
            let ownership: Ownership =
                accounts.allSatisfy { $0.map(holder.accounts.contains) ?? false } ? .own : .otherCustomer
            if case .deny(let code) = Permissions.decide(role: .customer, operation: permission, ownership: ownership) {
                return code
            }
            return nil
        }
        /// The permission table's refusal, audited, or nil when the request may go on.
        func refused(
            _ permission: BankOperation,
            _ accounts: [String?],
            _ name: String,
            _ details: [String: String]
        ) async throws -> BankAnswer? {
            guard let code = check(permission, accounts) else { return nil }
            return try await self.refuse(code, operation: name, actor: actor, details: details)
        }
        let panDigest = Hex.lowercase(card.digest)
        let cardSession = session.map { CardSessionKey(panDigest: card.digest, sessionID: $0) }

        switch operation {
        case .balance(let account):
            let account = owned(account)
            if let refusal = try await refused(.balance, [account], "balance", ["account": account ?? ""]) {
                return refusal
            }
            let (code, balance) = try await self.records.balance(
                actor: actor,
                cardID: holder.cardID,
                account: account!,
                session: cardSession
            )
            return BankAnswer(code: code, balance: balance)
        case .miniStatement(let account):
            let account = owned(account)
            if let refusal = try await refused(.miniStatement, [account], "statement", ["account": account ?? ""]) {
                return refusal
            }
            let (code, lines) = try await self.records.miniStatement(
                actor: actor,
                cardID: holder.cardID,
                account: account!,
                count: 10,
                session: cardSession
            )
            return BankAnswer(code: code, balance: lines.first?.balanceAfter, statement: lines)
        case .withdrawal(let amount, let account), .deposit(let amount, let account):
            let kind: PostingKind = if case .withdrawal = operation { .withdrawal } else { .deposit }
            let account = owned(account)
            if let refusal = try await refused(
                kind == .withdrawal ? .withdrawal : .deposit,
                [account],
                kind.rawValue,
                ["account": account ?? ""]
            ) {
                return refusal
            }
            return try await self.move(
                kind,
                amount: amount,
                from: kind == .withdrawal ? account : nil,
                to: kind == .deposit ? account : nil,
                subject: panDigest,
                cardID: holder.cardID,
                actor: actor,
                key: key,
                session: cardSession
            )
        case .transfer(let amount, let from, let to):
            let from = owned(from)
            if let refusal = try await refused(.transfer, [from, to], "transfer", ["from": from ?? "", "to": to]) {
                return refusal
            }
            return try await self.move(
                .transfer,
                amount: amount,
                from: from,
                to: to,
                subject: panDigest,
                cardID: holder.cardID,
                actor: actor,
                key: key,
                session: cardSession
            )
        case .pinChange(let newPIN):
            // The PIN of the card presented: no account named, the holder's own.
            if let refusal = try await refused(.pinChange, [], "pin.change", [:]) {
                return refusal
            }
            guard CredentialHasher.isValidPIN(newPIN) else {
                return try await self.refuse(
                    .invalidTransaction,
                    operation: "pin.change",
                    actor: actor,
                    details: ["reason": "PIN must be 4-12 digits"]
                )
            }
            let hash = try await self.hashOffLoop(pan: card.pan, pin: newPIN)
            let code = try await self.records.changePIN(
                cardID: holder.cardID,
                userID: holder.userID,
                newHash: hash,
                actor: actor,
                panDigest: card.digest,
                sessionID: session
            )
            return BankAnswer(code: code)
        }
    }

    /// A reversal advice (0420/0421) from a terminal: the original is named by its STAN and
    /// transmission time; `dispensed` is field 95's actual amount (nil: nothing was dispensed). The advice
    /// must agree with its original: the transaction type (`kind`, field 3; nil for a type that moves no
    /// money), the amount it asked for (field 4) and, for an approved original, the card (field 2). The
    /// store matches and reverses in one transaction; an advice that disagrees is answered 12 with the
    /// field (`ReversalResult.mismatch`) and nothing is done. An original that is not found, or was
    /// refused, moved nothing: it has no card to disagree with, and the advice is acknowledged.
    public func reverse(
        key: IdempotencyKey,
        originalSTAN: String,
        originalTransmitted: String,
        kind: PostingKind?,
        originalAmount: Int64,
        card: PresentedCard?,
        dispensed: Int64?,
        ip: String?
    ) async throws -> ReversalResult {
        let actor = ActorContext.terminal(key.terminal, ip: ip)
        guard key.isWellFormed, originalSTAN.utf8.count == 6, originalTransmitted.utf8.count == 10 else {
            return ReversalResult(code: .formatError, transactionID: nil, reversedAmount: 0, replayed: false)
        }
        let digest = RequestDigest.of([
            "reversal", originalSTAN, originalTransmitted, String(originalAmount), dispensed.map(String.init) ?? "-",
        ])
        switch try await self.records.reverse(
            actor: actor,
            key: key,
            digest: digest,
            originalSTAN: originalSTAN,
            originalTransmitted: originalTransmitted,
            dispensed: dispensed,
            kind: kind,
            amount: originalAmount,
            panDigest: card?.digest
        ) {
        case .done(let result):
            return result
        case .mismatch(let field, let originalKind):
            return ReversalResult(
                code: .invalidTransaction,
                transactionID: nil,
                reversedAmount: 0,
                replayed: false,
                mismatch: ReversalMismatch(field: field, originalKind: originalKind)
            )
        }
    }

    // MARK: Staff

    /// A staff request: the permission table first (a refusal is audited and answered 57 or 58), then
    /// the SQL function, which checks the role again.
    public func perform(
        _ operation: StaffOperation,
        by staff: StaffMember,
        key: IdempotencyKey,
        ip: String?,
        fourEyes: FourEyesRequest = FourEyesRequest(reason: nil, factorIsFresh: false)
    ) async throws -> BankAnswer {
        let actor = ActorContext.staff(staff.role, name: staff.userName, device: key.terminal, ip: ip)
        guard key.isWellFormed else { return .refused(.formatError) }
        if case .deny(let code) = Permissions.decide(
            role: staff.role,
            operation: operation.permission,
            ownership: .otherCustomer
        ) {
            return try await self.refuse(code, operation: operation.name, actor: actor, details: [:])
        }
        do {
            switch operation {
            case .balance(let account):
                let (code, balance) = try await self.records.balance(
                    actor: actor,
                    cardID: nil,
                    account: account,
                    session: nil
                )
                return BankAnswer(code: code, balance: balance)
            case .miniStatement(let account):
                let (code, lines) = try await self.records.miniStatement(
                    actor: actor,
                    cardID: nil,
                    account: account,
                    count: 10,
                    session: nil
                )
                return BankAnswer(code: code, balance: lines.first?.balanceAfter, statement: lines)
            case .deposit(let account, let amount), .withdrawal(let account, let amount):
                let kind: PostingKind = if case .deposit = operation { .deposit } else { .withdrawal }
                return try await self.move(
                    kind,
                    amount: amount,
                    from: kind == .withdrawal ? account : nil,
                    to: kind == .deposit ? account : nil,
                    subject: "staff:\(staff.userName)",
                    cardID: nil,
                    actor: actor,
                    key: key
                )
            case .transfer(let from, let to, let amount):
                return try await self.move(
                    .transfer,
                    amount: amount,
                    from: from,
                    to: to,
                    subject: "staff:\(staff.userName)",
                    cardID: nil,
                    actor: actor,
                    key: key
                )
            case .createCustomer(let userName, let fullName):
                let id = try await self.records.createCustomer(actor: actor, userName: userName, fullName: fullName)
                return BankAnswer(code: .approved, createdID: id)
            case .openAccount(let customerID, let accountNo, let name, let limit, let count):
                let id = try await self.records.openAccount(
                    actor: actor,
                    userID: customerID,
                    accountNo: accountNo,
                    name: name,
                    dailyLimit: limit,
                    dailyCount: count
                )
                return BankAnswer(code: .approved, createdID: id)
            case .issueCard(let customerID, let pan, let pin, let expiry, let accounts):
                guard CredentialHasher.isValidPIN(pin) else { return .refused(.invalidTransaction) }
                let id = try await self.issue(customerID, pan: pan, pin: pin, expiry: expiry, accounts, actor: actor)
                return BankAnswer(code: .approved, createdID: id)
            case .issueFirstCard(let customerID, let pan, let month, let accounts):
                let pin = NewCardRules.firstPIN()
                let expiry = NewCardRules.expiry(month, now: self.now())
                let id = try await self.issue(customerID, pan: pan, pin: pin, expiry: expiry, accounts, actor: actor)
                return BankAnswer(code: .approved, createdID: id, firstPIN: pin)
            case .lockAccount(let account), .unlockAccount(let account):
                let lock = if case .lockAccount = operation { true } else { false }
                let done = try await self.records.setAccountLocked(actor: actor, account: account, locked: lock)
                return BankAnswer(code: done ? .approved : .unknownFromAccount)
            case .lockCard(let pan), .unlockCard(let pan):
                let status = if case .lockCard = operation { "blocked" } else { "active" }
                let done = try await self.records.setCardStatus(
                    actor: actor,
                    panDigest: self.hasher.panDigest(pan),
                    status: status
                )
                return BankAnswer(code: done ? .approved : .unknownCard)
            case .unlockUser(let userName):
                let done = try await self.records.unlockUser(actor: actor, userName: userName)
                return BankAnswer(code: done ? .approved : .unknownCard)
            case .listUsers(let skip, let limit):
                let page = try await self.records.listUsers(actor: actor, skip: skip, limit: limit)
                return BankAnswer(code: .approved, users: page.users, userCount: page.total)
            case .readAudit(let filter):
                return BankAnswer(code: .approved, audit: try await self.records.readAudit(actor: actor, filter: filter))
            case .changeRole(let userName, let role):
                let done = try await self.records.changeRole(actor: actor, userName: userName, role: role)
                return BankAnswer(code: done ? .approved : .invalidTransaction)
            case .createStaff(let userName, let fullName, let role, let password):
                let hash = try await self.threadPool.runIfActive { [hasher] in
                    try hasher.hashPassword(userName: userName, password: password)
                }
                let id = try await self.records.createStaff(
                    actor: actor,
                    userName: userName,
                    fullName: fullName,
                    role: role,
                    passwordHash: hash
                )
                return BankAnswer(code: .approved, createdID: id)
            case .setLimits(let account, let limit, let count):
                let done = try await self.records.setAccountLimits(
                    actor: actor,
                    account: account,
                    dailyLimit: limit,
                    dailyCount: count
                )
                return BankAnswer(code: done ? .approved : .unknownFromAccount)
            case .enrolStaff(let userName):
                return try await self.issueEnrolmentCode(for: userName, by: staff, actor: actor)
            case .viewKYC(let customerID):
                guard let record = try await self.records.customerKYC(actor: actor, customerID: customerID) else {
                    return BankAnswer(code: .invalidTransaction, reason: "no KYC record")
                }
                var answer = BankAnswer(code: .approved)
                answer.kyc = record
                return answer
            case .decideKYC(let customerID, let decision, let reason):
                return try await self.decideKYC(customerID, decision, reason: reason, actor: actor, fourEyes: fourEyes)
            case .listCases, .showCase, .workCase, .openCase:
                return try await self.caseDesk(operation, actor: actor, fourEyes: fourEyes)
            }
        } catch let error as StoreError where error.kind == .approvalRequired {
            // The database holds this operation for a second person (bank.high_risk_operations).
            return try await self.hold(operation, by: staff, key: key, ip: ip, fourEyes: fourEyes)
        } catch let error as StoreError {
            switch error.kind {
            case .notPermitted:
                return BankAnswer(code: .notPermittedToTerminal)
            case .alreadyExists, .invalidValue: return BankAnswer(code: .invalidTransaction)
            case .notFound: return BankAnswer(code: .unknownFromAccount)
            case .approvalRequired, .unavailable: throw error
            }
        }
    }

    // MARK: Errors on the wire

    /// The response code for a request that failed with an error instead of an answer: 91 when the
    /// database cannot be reached or went away (the switch is inoperative for now), 96 when it did not
    /// finish in time or for anything else that went wrong inside (a system malfunction). The switch
    /// answers with it and logs the error.
    public static func responseCode(for error: any Error) -> ResponseCode {
        if let error = error as? DatabaseUnavailable {
            return error.kind == .deadlineExceeded ? .systemMalfunction : .switchInoperative
        }
        if let error = error as? StoreError {
            return error.kind == .notPermitted ? .notPermittedToTerminal : .systemMalfunction
        }
        return .systemMalfunction
    }

    // MARK: Helpers

    /// A money movement's request digest (the kind, the amount, who asks and the accounts), so a repeat
    /// under the same key can be told from a different request.
    static func requestDigest(_ kind: PostingKind, amount: Int64, subject: String, from: String?, to: String?) -> [UInt8] {
        RequestDigest.of([kind.rawValue, String(amount), subject] + [from, to].compactMap { $0 })
    }

    /// One money movement through `bank.post`. Its request digest is the kind, the amount, who asks
    /// (the card's PAN digest, or `staff:NAME`) and the accounts, so a repeat under the same key can be
    /// told from a different request.
    func move(
        _ kind: PostingKind,
        amount: Int64,
        from: String?,
        to: String?,
        subject: String,
        cardID: Int64?,
        actor: ActorContext,
        key: IdempotencyKey,
        session: CardSessionKey? = nil
    ) async throws -> BankAnswer {
        let digest = Self.requestDigest(kind, amount: amount, subject: subject, from: from, to: to)
        let result = try await self.records.post(
            kind,
            actor: actor,
            cardID: cardID,
            key: key,
            digest: digest,
            amount: amount,
            from: from,
            to: to,
            session: session
        )
        return BankAnswer(result)
    }

    func refuse(
        _ code: ResponseCode,
        operation: String,
        actor: ActorContext,
        details: [String: String]
    ) async throws -> BankAnswer {
        var details = details
        details["refused_by"] = "permission table"
        try await self.records.audit(actor: actor, action: operation, outcome: code.rawValue, details: details)
        return .refused(code)
    }

    /// A card for `customerID` linked to `accounts` (the first its default), its PIN hashed off the loop.
    func issue(
        _ customerID: Int64,
        pan: String,
        pin: String,
        expiry: String,
        _ accounts: [String],
        actor: ActorContext
    ) async throws -> Int64 {
        let hash = try await self.hashOffLoop(pan: pan, pin: pin)
        return try await self.records.issueCard(
            actor: actor,
            userID: customerID,
            panDigest: self.hasher.panDigest(pan),
            maskedPAN: ATM87PrettyPrinter.maskPAN(pan),
            pinHash: hash,
            expiry: expiry,
            accounts: accounts
        )
    }

    func verifyOffLoop(pan: String, pin: String, hash: String) async throws -> Bool {
        try await self.threadPool.runIfActive { [hasher] in
            hasher.verifyPIN(pan: pan, pin: pin, against: hash)
        }
    }

    func hashOffLoop(pan: String, pin: String) async throws -> String {
        try await self.threadPool.runIfActive { [hasher] in
            try hasher.hashPIN(pan: pan, pin: pin)
        }
    }
}
