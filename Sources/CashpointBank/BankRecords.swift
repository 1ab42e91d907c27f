public import ATM87
public import CashpointSecurity
public import Foundation

// The bank's records as the bank API reads and writes them: the value types and `BankRecords`, the
// store's interface. The PostgreSQL store (`CashpointStore`) implements it, one SQL function per
// operation; nothing here knows PostgreSQL. The one error for "no database now" is CashpointDatabase's
// `DatabaseUnavailable`.

/// Who acts, as the database records it: the role for row-level security and the permission checks,
/// the user (a customer context is tied to its user), and the actor, device and address for the
/// audit log. The actor label never holds a full PAN.
public struct ActorContext: Sendable, Hashable {
    public enum DatabaseRole: String, Sendable, Hashable {
        case customer, teller, admin, compliance, system
    }

    public var role: DatabaseRole
    public var userID: Int64?
    public var name: String
    public var device: String?
    public var ip: String?

    public init(role: DatabaseRole, userID: Int64?, name: String, device: String?, ip: String?) {
        self.role = role
        self.userID = userID
        self.name = name
        self.device = device
        self.ip = ip
    }

    public static func staff(_ role: Role, name: String, device: String?, ip: String?) -> ActorContext {
        ActorContext(role: DatabaseRole(rawValue: role.rawValue)!, userID: nil, name: name, device: device, ip: ip)
    }

    public static func system(_ name: String) -> ActorContext {
        ActorContext(role: .system, userID: nil, name: name, device: nil, ip: nil)
    }

    /// A terminal acting for itself (sign-on, reversal advice, end of day, a refusal of its request).
    public static func terminal(_ terminal: String, ip: String?) -> ActorContext {
        ActorContext(role: .system, userID: nil, name: "terminal:\(terminal)", device: terminal, ip: ip)
    }
}

/// A typed error from the store: the bank maps each kind to a response code. A database that went
/// away is not one of them: that is `DatabaseUnavailable` (kind `connectionLost`), whoever meets it.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// The database refused the actor's role (SQLSTATE 42501).
        case notPermitted
        /// A name, number or card already exists (23505).
        case alreadyExists
        /// Something named does not exist (23503, P0002).
        case notFound
        /// A value broke a check (23514, 22023, 22P02).
        case invalidValue
        /// A high-risk operation without an approved change (SQLSTATE CPHLD): four eyes.
        case approvalRequired
        /// The database failed in another way (the switch answers 96).
        case unavailable
    }

    public var kind: Kind
    public var detail: String
    /// PostgreSQL's SQLSTATE, when the server gave one.
    public var sqlState: String?
    /// For `alreadyExists`: which name or number was taken, when the store could tell.
    public var taken: UniqueValue?

    public init(kind: Kind, detail: String, sqlState: String? = nil, taken: UniqueValue? = nil) {
        self.kind = kind
        self.detail = detail
        self.sqlState = sqlState
        self.taken = taken
    }

    public var description: String { "\(self.kind.rawValue): \(self.detail)" }
}

/// The answer to a posting.
public struct PostingResult: Sendable, Hashable {
    public var code: ResponseCode
    public var transactionID: Int64?
    public var balanceAfter: Int64?
    public var authCode: String?
    /// The stored answer to an earlier identical request: nothing was posted this time.
    public var replayed: Bool

    public init(code: ResponseCode, transactionID: Int64?, balanceAfter: Int64?, authCode: String?, replayed: Bool) {
        self.code = code
        self.transactionID = transactionID
        self.balanceAfter = balanceAfter
        self.authCode = authCode
        self.replayed = replayed
    }
}

/// A request of a card session: the database checks the card (by its PAN digest) and the session (the
/// token's id) in the same call that answers the request, so the request costs one round trip.
public struct CardSessionKey: Sendable, Hashable {
    public var panDigest: [UInt8]
    public var sessionID: String

    public init(panDigest: [UInt8], sessionID: String) {
        self.panDigest = panDigest
        self.sessionID = sessionID
    }
}

/// The card session may not go on, and nothing was done: the facts the store found (`CardSessionState`).
/// The card rules (`CardRules`) choose the answer.
public struct CardSessionRefused: Error, Sendable, Hashable {
    public var state: CardSessionState

    public init(_ state: CardSessionState) {
        self.state = state
    }
}

/// What recording a PIN check left: the card's try counter and its status (`blocked` when this check
/// was the last wrong one allowed, or when the card was blocked meanwhile and the check not counted).
public struct PINAttempt: Sendable, Hashable {
    public var tries: Int
    public var status: String

    public init(tries: Int, status: String) {
        self.tries = tries
        self.status = status
    }
}

public struct ReversalResult: Sendable, Hashable {
    public var code: ResponseCode
    public var transactionID: Int64?
    public var reversedAmount: Int64
    public var replayed: Bool
    /// The field in which the advice disagrees with its original (the answer is then 12, and nothing was
    /// done or recorded); nil when it agrees.
    public var mismatch: ReversalMismatch?

    public init(
        code: ResponseCode,
        transactionID: Int64?,
        reversedAmount: Int64,
        replayed: Bool,
        mismatch: ReversalMismatch? = nil
    ) {
        self.code = code
        self.transactionID = transactionID
        self.reversedAmount = reversedAmount
        self.replayed = replayed
        self.mismatch = mismatch
    }
}

/// What the store did with a reversal advice: its answer, or nothing at all because the advice
/// disagrees with its original in field 2, 3 or 4 (`originalKind`: the original's transaction type).
public enum StoredReversal: Sendable, Hashable {
    case done(ReversalResult)
    case mismatch(field: Int, originalKind: String)
}

public struct CardRecord: Sendable, Hashable {
    public var cardID: Int64
    public var userID: Int64
    public var pinHash: String
    public var status: String
    public var pinTries: Int
    /// Past its last valid day, by the database's date.
    public var expired: Bool
    public var maxPINTries: Int
    public var maskedPAN: String
    public var userLocked: Bool

    public init(
        cardID: Int64,
        userID: Int64,
        pinHash: String,
        status: String,
        pinTries: Int,
        expired: Bool,
        maxPINTries: Int,
        maskedPAN: String,
        userLocked: Bool
    ) {
        self.cardID = cardID
        self.userID = userID
        self.pinHash = pinHash
        self.status = status
        self.pinTries = pinTries
        self.expired = expired
        self.maxPINTries = maxPINTries
        self.maskedPAN = maskedPAN
        self.userLocked = userLocked
    }

    /// Its state, for the card rules.
    public var state: CardState { CardState(status: self.status, expired: self.expired, userLocked: self.userLocked) }
}

public struct StatementLine: Sendable, Hashable {
    public var lineNumber: Int64
    public var at: Date
    public var kind: String
    public var amount: Int64
    public var balanceAfter: Int64

    public init(lineNumber: Int64, at: Date, kind: String, amount: Int64, balanceAfter: Int64) {
        self.lineNumber = lineNumber
        self.at = at
        self.kind = kind
        self.amount = amount
        self.balanceAfter = balanceAfter
    }
}

public struct UserRecord: Sendable, Hashable {
    public var id: Int64
    public var userName: String
    public var fullName: String
    public var role: String
    public var locked: Bool
    public var failedAttempts: Int

    public init(id: Int64, userName: String, fullName: String, role: String, locked: Bool, failedAttempts: Int) {
        self.id = id
        self.userName = userName
        self.fullName = fullName
        self.role = role
        self.locked = locked
        self.failedAttempts = failedAttempts
    }
}

public struct AuditRecord: Sendable, Hashable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var action: String
    public var outcome: String
    public var details: String
    public var ip: String?
    public var device: String?

    public init(
        id: Int64,
        at: Date,
        actor: String,
        action: String,
        outcome: String,
        details: String,
        ip: String?,
        device: String?
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.outcome = outcome
        self.details = details
        self.ip = ip
        self.device = device
    }
}

/// A name or number that must be unique, as a refusal names it.
public enum UniqueValue: String, Sendable, Hashable {
    case userName, accountNumber, cardNumber, terminalID
}

/// The money movements the ledger knows.
public enum PostingKind: String, Sendable, Hashable {
    case withdrawal
    case deposit
    case transfer
}

/// Which audit rows to read, newest first.
public struct AuditFilter: Sendable, Hashable {
    public var actor: String?
    public var action: String?
    public var since: Date?
    public var until: Date?
    public var beforeID: Int64?
    public var limit: Int

    public init(
        actor: String? = nil,
        action: String? = nil,
        since: Date? = nil,
        until: Date? = nil,
        beforeID: Int64? = nil,
        limit: Int = 50
    ) {
        self.actor = actor
        self.action = action
        self.since = since
        self.until = until
        self.beforeID = beforeID
        self.limit = limit
    }
}

/// One page of the user list and how many users there are in all.
public struct UserPage: Sendable, Hashable {
    public var users: [UserRecord]
    public var total: Int

    public init(users: [UserRecord], total: Int) {
        self.users = users
        self.total = total
    }
}

/// A customer made with an account and a card, as the store made them.
public struct CreatedCustomerRows: Sendable, Hashable {
    public var customerID: Int64
    public var accountID: Int64
    /// The account number, given or allocated by the store.
    public var accountNo: String
    public var cardID: Int64

    public init(customerID: Int64, accountID: Int64, accountNo: String, cardID: Int64) {
        self.customerID = customerID
        self.accountID = accountID
        self.accountNo = accountNo
        self.cardID = cardID
    }
}

/// A staff member's sign-on record.
/// A member of staff's second factor as stored: the secret sealed under the switch key.
public struct StaffFactorRecord: Sendable, Hashable {
    public var sealedSecret: [UInt8]
    public var parameters: OTPParameters
    /// Whether its owner has typed a right code from it (enrolment complete).
    public var confirmed: Bool
    public var lastStep: Int64?

    public init(sealedSecret: [UInt8], parameters: OTPParameters, confirmed: Bool, lastStep: Int64?) {
        self.sealedSecret = sealedSecret
        self.parameters = parameters
        self.confirmed = confirmed
        self.lastStep = lastStep
    }
}

/// What a sign-on's or step-up's second factor came to, for `bank.record_staff_login`.
public enum FactorOutcome: Sendable, Hashable {
    /// No code came (the password was right).
    case missing
    /// A right TOTP code of this time step (accepted only if later than the last accepted one).
    case right(step: Int64)
    /// A right recovery code, by its row id (spent by the same call).
    case recovery(id: Int64)
    /// A wrong code or enrolment code.
    case wrong
}

/// A high-risk change to hold for a second person: the four-eyes table's operation, its target and
/// the values it would apply.
public struct ChangeRequest: Sendable, Hashable {
    public var operation: String
    public var target: String
    /// JSON object text.
    public var payload: String

    public init(operation: String, target: String, payload: [String: String?]) {
        self.operation = operation
        self.target = target
        let object = payload.compactMapValues { $0 }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        self.payload = String(decoding: data, as: UTF8.self)
    }
}

/// The answer to asking for, or rejecting, a change: its code, the change's id, why (field 44).
public struct ChangeAnswer: Sendable, Hashable {
    public var code: ResponseCode
    public var changeID: Int64?
    public var detail: String?

    public init(code: ResponseCode, changeID: Int64?, detail: String?) {
        self.code = code
        self.changeID = changeID
        self.detail = detail
    }
}

/// The answer to approving a change: the applied operation's code and, for money, its balance and
/// authorization code.
public struct ChangeApproval: Sendable, Hashable {
    public var code: ResponseCode
    public var detail: String?
    public var operation: String?
    public var balance: Int64?
    public var authCode: String?

    public init(code: ResponseCode, detail: String?, operation: String?, balance: Int64?, authCode: String?) {
        self.code = code
        self.detail = detail
        self.operation = operation
        self.balance = balance
        self.authCode = authCode
    }
}

/// A held change, as the desk lists it.
public struct ChangeRecord: Sendable, Hashable {
    public var id: Int64
    public var state: String
    public var operation: String
    public var subject: String
    public var maker: String
    public var requestedAt: Date
    public var expiresAt: Date
    public var checker: String?
    public var reason: String
    public var before: String
    public var after: String
    public var decisionReason: String?

    public init(
        id: Int64, state: String, operation: String, subject: String, maker: String, requestedAt: Date,
        expiresAt: Date, checker: String?, reason: String, before: String, after: String, decisionReason: String?
    ) {
        self.id = id
        self.state = state
        self.operation = operation
        self.subject = subject
        self.maker = maker
        self.requestedAt = requestedAt
        self.expiresAt = expiresAt
        self.checker = checker
        self.reason = reason
        self.before = before
        self.after = after
        self.decisionReason = decisionReason
    }
}

public struct StaffRecord: Sendable, Hashable {
    public var userID: Int64
    public var role: Role
    /// The bcrypt hash of the password.
    public var hash: String
    public var locked: Bool

    public init(userID: Int64, role: Role, hash: String, locked: Bool) {
        self.userID = userID
        self.role = role
        self.hash = hash
        self.locked = locked
    }
}

/// The answer to a replenishment (0600 REPLENISH).
public struct ReplenishmentResult: Sendable, Hashable {
    public var code: ResponseCode
    public var transactionID: Int64?
    /// The cash the ledger says the terminal holds after it (minus its cash account's balance).
    public var cashHeld: Int64?
    public var replayed: Bool

    public init(code: ResponseCode, transactionID: Int64?, cashHeld: Int64?, replayed: Bool) {
        self.code = code
        self.transactionID = transactionID
        self.cashHeld = cashHeld
        self.replayed = replayed
    }
}

/// The answer to a reconciliation request (0500).
public struct ReconciliationResult: Sendable, Hashable {
    /// 00 when every figure agrees, 95 when one differs, 94 for a reused key with other content.
    public var code: ResponseCode
    /// The switch's figures for the period (nil for a 94).
    public var switchTotals: ReconciliationTotals?
    /// The cash the ledger says the terminal holds at the cutover.
    public var cashHeld: Int64?
    public var cutoverID: Int64?
    public var replayed: Bool

    public init(
        code: ResponseCode,
        switchTotals: ReconciliationTotals?,
        cashHeld: Int64?,
        cutoverID: Int64?,
        replayed: Bool
    ) {
        self.code = code
        self.switchTotals = switchTotals
        self.cashHeld = cashHeld
        self.cutoverID = cutoverID
        self.replayed = replayed
    }
}

/// What the store keeps about a terminal's keys: sealed under the switch key, never in the clear.
public struct TerminalKeyRecord: Sendable, Hashable {
    public var kind: String
    public var enabled: Bool
    public var masterKeySealed: [UInt8]?
    public var sessionKeysSealed: [UInt8]?
    public var sessionGeneration: Int

    public init(
        kind: String,
        enabled: Bool,
        masterKeySealed: [UInt8]?,
        sessionKeysSealed: [UInt8]?,
        sessionGeneration: Int
    ) {
        self.kind = kind
        self.enabled = enabled
        self.masterKeySealed = masterKeySealed
        self.sessionKeysSealed = sessionKeysSealed
        self.sessionGeneration = sessionGeneration
    }
}

/// The bank's records: every read and write the bank API makes, each one transaction of the store.
/// Failures are typed: `StoreError` for a refusal by the store's rules, `DatabaseUnavailable` when the
/// store cannot be reached, `CardSessionRefused` when a card session may not go on.
public protocol BankRecords: Sendable {
    // Money
    func post(
        _ kind: PostingKind,
        actor: ActorContext,
        cardID: Int64?,
        key: IdempotencyKey,
        digest: [UInt8],
        amount: Int64,
        from: String?,
        to: String?,
        session: CardSessionKey?
    ) async throws -> PostingResult
    /// Matches the advice against its original (`kind`: field 3's type, nil for one that moves no money;
    /// `amount`: field 4; `panDigest`: the card of field 2) and reverses it, in one transaction.
    func reverse(
        actor: ActorContext,
        key: IdempotencyKey,
        digest: [UInt8],
        originalSTAN: String,
        originalTransmitted: String,
        dispensed: Int64?,
        kind: PostingKind?,
        amount: Int64,
        panDigest: [UInt8]?
    ) async throws -> StoredReversal
    func balance(
        actor: ActorContext,
        cardID: Int64?,
        account: String,
        session: CardSessionKey?
    ) async throws -> (ResponseCode, Int64?)
    func miniStatement(
        actor: ActorContext,
        cardID: Int64?,
        account: String,
        count: Int,
        session: CardSessionKey?
    ) async throws -> (ResponseCode, [StatementLine])
    func replenish(
        actor: ActorContext,
        key: IdempotencyKey,
        digest: [UInt8],
        unloaded: Int64,
        loaded: Int64
    ) async throws -> ReplenishmentResult
    func reconcile(
        actor: ActorContext,
        key: IdempotencyKey,
        digest: [UInt8],
        settlementDate: String,
        terminalTotals: ReconciliationTotals
    ) async throws -> ReconciliationResult
    func bankCurrency() async throws -> String?
    func reserveReferences() async throws -> Int64

    // Cards and PINs
    func card(panDigest: [UInt8]) async throws -> CardRecord?
    func accounts(ofCard cardID: Int64) async throws -> [String]
    func recordPINAttempt(cardID: Int64, ok: Bool, actor: ActorContext) async throws -> PINAttempt
    func recordCardRefusal(cardID: Int64?, code: ResponseCode, reason: String, actor: ActorContext) async throws
    /// Checks the card (by the PAN digest presented) and, within a card session (`sessionID`), the session
    /// first, as `post` does: `CardSessionRefused` when the card may not be used now.
    func changePIN(
        cardID: Int64,
        userID: Int64,
        newHash: String,
        actor: ActorContext,
        panDigest: [UInt8],
        sessionID: String?
    ) async throws -> ResponseCode

    // Staff and administration
    func staff(userName: String) async throws -> StaffRecord?
    // Second factor (bank.staff_factor, bank.record_staff_login, ...).
    func staffFactor(userID: Int64) async throws -> StaffFactorRecord?
    func recoveryCodes(userID: Int64) async throws -> [(id: Int64, hash: String)]
    func recordStaffLogin(
        userID: Int64,
        passwordOK: Bool?,
        factor: FactorOutcome,
        actor: ActorContext
    ) async throws -> ResponseCode
    func startEnrolment(
        userID: Int64,
        codeDigest: [UInt8],
        sealedSecret: [UInt8],
        parameters: OTPParameters,
        recoveryHashes: [String],
        actor: ActorContext
    ) async throws -> Bool
    func issueEnrolmentCode(actor: ActorContext, userName: String, codeDigest: [UInt8]) async throws -> (ResponseCode, String?)
    func seedStaffFactor(userName: String, sealedSecret: [UInt8], parameters: OTPParameters, recoveryHashes: [String])
        async throws
    // Four eyes (bank.request_change, bank.approve_change, ...).
    func requestChange(actor: ActorContext, change: ChangeRequest, reason: String) async throws -> ChangeAnswer
    func approveChange(actor: ActorContext, id: Int64, enrolmentDigest: [UInt8]) async throws -> ChangeApproval
    func rejectChange(actor: ActorContext, id: Int64, reason: String) async throws -> ChangeAnswer
    func listChanges(actor: ActorContext, state: String, beforeID: Int64?, limit: Int) async throws -> [ChangeRecord]
    func setAccountLimits(actor: ActorContext, account: String, dailyLimit: Int64?, dailyCount: Int?) async throws -> Bool
    func createCustomer(actor: ActorContext, userName: String, fullName: String) async throws -> Int64
    func createCustomerWithAccountAndCard(
        actor: ActorContext,
        userName: String,
        fullName: String,
        accountNo: String?,
        accountName: String,
        dailyLimit: Int64?,
        dailyCount: Int?,
        panDigest: [UInt8],
        maskedPAN: String,
        pinHash: String,
        expiry: String,
        identity: StoredIdentity
    ) async throws -> CreatedCustomerRows
    // Know your customer (bank.record_identity, bank.customer_kyc, bank.decide_kyc, ...).
    /// Records a customer's identity: pending, or (the seeder, as `system`) verified with `reviewDue`.
    func recordIdentity(actor: ActorContext, customerID: Int64, identity: StoredIdentity, reviewDue: String?)
        async throws -> KYCStatus
    func customerKYC(actor: ActorContext, customerID: Int64) async throws -> KYCRecord?
    func decideKYC(actor: ActorContext, customerID: Int64, decision: KYCDecision, reason: String, reviewMonths: Int)
        async throws -> (ResponseCode, String?)
    /// nil: no identity recorded for the customer.
    func recordScreening(actor: ActorContext, customerID: Int64, screening: ScreeningResult, rating: KYCRisk.Rating)
        async throws -> KYCStatus?
    func screeningSubjects(actor: ActorContext, customerID: Int64?, afterID: Int64?, limit: Int) async throws
        -> [ScreeningSubject]
    func countryRisks() async throws -> [CountryRisk]
    // The compliance case desk (bank.list_cases, bank.case_file, bank.work_case).
    /// `status`: active, all, open, assigned, escalated or closed; the most severe first, then the oldest.
    func listCases(actor: ActorContext, status: String, offset: Int, limit: Int) async throws -> [CaseSummary]
    /// nil: no such case. `forReport`: for a SAR draft rather than the desk.
    func caseFile(actor: ActorContext, caseID: Int64, forReport: Bool) async throws -> CaseFile?
    func workCase(actor: ActorContext, caseID: Int64, step: CaseStep, argument: String?, note: String?) async throws
        -> CaseAnswer
    /// 00 and the new case; 94 and the customer's active case; 12 (an unknown customer, no reason).
    func openCase(actor: ActorContext, customer: String, severity: AlertSeverity, reason: String) async throws
        -> (code: ResponseCode, caseID: Int64?, detail: String?)
    func allocateCardSerial(actor: ActorContext) async throws -> Int64
    func createStaff(
        actor: ActorContext,
        userName: String,
        fullName: String,
        role: Role,
        passwordHash: String
    ) async throws -> Int64
    func openAccount(
        actor: ActorContext,
        userID: Int64,
        accountNo: String,
        name: String,
        dailyLimit: Int64?,
        dailyCount: Int?
    ) async throws -> Int64
    func issueCard(
        actor: ActorContext,
        userID: Int64,
        panDigest: [UInt8],
        maskedPAN: String,
        pinHash: String,
        expiry: String,
        accounts: [String]
    ) async throws -> Int64
    func setAccountLocked(actor: ActorContext, account: String, locked: Bool) async throws -> Bool
    func setCardStatus(actor: ActorContext, panDigest: [UInt8], status: String) async throws -> Bool
    func unlockUser(actor: ActorContext, userName: String) async throws -> Bool
    func changeRole(actor: ActorContext, userName: String, role: Role) async throws -> Bool
    func listUsers(actor: ActorContext, skip: Int, limit: Int) async throws -> UserPage
    func readAudit(actor: ActorContext, filter: AuditFilter) async throws -> [AuditRecord]
    func audit(actor: ActorContext, action: String, outcome: String, details: [String: String]) async throws

    // Sessions and terminals
    func endSession(actor: ActorContext, sessionID: String, expires: Date, role: String) async throws
    func sessionEnded(_ sessionID: String) async throws -> Bool
    func terminalKeys(_ terminal: String) async throws -> TerminalKeyRecord?
    func startTerminalSession(
        terminal: String,
        sealed: [UInt8],
        keyChange: Bool,
        stan: String,
        ip: String?
    ) async throws -> Int?
    func signOnTerminal(
        terminal: String,
        sealed: [UInt8],
        stan: String,
        transmitted: String,
        ip: String?
    ) async throws -> Int?
    func endTerminalSession(terminal: String, stan: String, ip: String?) async throws
}
