// The protocol's vocabulary: the structured fields of ATM-87 as types, each with its wire form.
// Terminal, switch and harness build and read fields 3, 48 (administrative operations), 54, 63, 90
// and 95 through these, so each layout is written once.

/// Why a structured field could not be read: which field, what kind of fault (compare by `code`), and
/// a detail for people (never the field's value).
public struct FieldFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of fault.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// The field, or one of its parts, has the wrong number of characters or entries.
        case width
        /// A part that holds only digits holds something else.
        case notDigits
        /// An amount's sign is not `C` or `D`.
        case sign
        /// A type code (account type, amount type) this dialect does not define.
        case unknownCode
        /// The parts are not where the layout puts them (separators, an empty part).
        case layout
        /// Field 48 is not a TLV payload.
        case tlv
        /// The message the field is made from lacks a field it needs.
        case missingField
        /// Made with `init(field:_:)`, which names no kind.
        case unspecified
    }

    public var field: Int
    public var code: Code
    public var detail: String

    public init(field: Int, code: Code, _ detail: String) {
        self.field = field
        self.code = code
        self.detail = detail
    }

    public init(field: Int, _ detail: String) {
        self.init(field: field, code: .unspecified, detail)
    }

    public var description: String { "field \(self.field): \(self.detail)" }
}

/// Fixed-width decimal text: `digits(42, 6)` is `000042`.
@inlinable
func zeroPadded(_ value: Int64, _ width: Int) -> String {
    let text = String(value)
    return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
}

/// A signed amount as `C` (credit, zero or more) or `D` (debit) and 12 digits.
public enum SignedAmount {
    public static func encode(_ minor: Int64) -> String {
        (minor < 0 ? "D" : "C") + zeroPadded(Int64(min(minor.magnitude, 999_999_999_999)), 12)
    }

    public static func decode(_ text: Substring, field: Int) throws(FieldFormatError) -> Int64 {
        let bytes = Array(text.utf8)
        guard bytes.count == 13 else {
            throw FieldFormatError(field: field, code: .width, "an amount is C or D and 12 digits")
        }
        guard bytes[0] == UInt8(ascii: "C") || bytes[0] == UInt8(ascii: "D") else {
            throw FieldFormatError(field: field, code: .sign, "an amount's sign is C or D")
        }
        guard bytes.dropFirst().allSatisfy({ (0x30...0x39).contains($0) }),
            let digits = Int64(String(decoding: bytes.dropFirst(), as: UTF8.self))
        else {
            throw FieldFormatError(field: field, code: .notDigits, "an amount is C or D and 12 digits")
        }
        return bytes[0] == UInt8(ascii: "D") ? -digits : digits
    }
}

// MARK: Field 3

/// Field 3: transaction type (2 digits), from-account type, to-account type.
public struct ProcessingCode: Sendable, Hashable, CustomStringConvertible {
    /// The first two digits: what the customer asks for.
    public enum TransactionType: String, Sendable, Hashable, CaseIterable {
        case withdrawal = "01"
        case deposit = "21"
        case balanceInquiry = "31"
        case miniStatement = "38"
        case transfer = "40"
        case pinChange = "92"

        /// Whether it moves money and so needs an amount above zero in field 4.
        public var movesMoney: Bool {
            switch self {
            case .withdrawal, .deposit, .transfer: return true
            case .balanceInquiry, .miniStatement, .pinChange: return false
            }
        }
    }

    /// Digits 3-4 and 5-6: which of the card's accounts. Cashpoint names accounts in fields 102 and
    /// 103 and sends `00`; the types exist so that a request from another acquirer reads.
    public enum AccountType: String, Sendable, Hashable, CaseIterable {
        case unspecified = "00"
        case savings = "10"
        case cheque = "20"
        case credit = "30"
    }

    public var transaction: TransactionType
    public var from: AccountType
    public var to: AccountType

    public init(_ transaction: TransactionType, from: AccountType = .unspecified, to: AccountType = .unspecified) {
        self.transaction = transaction
        self.from = from
        self.to = to
    }

    /// Reads six digits. A transaction type Cashpoint does not serve is an error whose caller answers 12;
    /// a field that is not six digits, 30.
    public init(field value: String) throws(ProcessingCodeError) {
        let bytes = Array(value.utf8)
        guard bytes.count == 6, bytes.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .malformed
        }
        let type = String(decoding: bytes[0..<2], as: UTF8.self)
        guard let transaction = TransactionType(rawValue: type) else { throw .unknownTransaction(type) }
        guard let from = AccountType(rawValue: String(decoding: bytes[2..<4], as: UTF8.self)),
            let to = AccountType(rawValue: String(decoding: bytes[4..<6], as: UTF8.self))
        else {
            throw .unknownAccountType
        }
        self.init(transaction, from: from, to: to)
    }

    public var field: String { self.transaction.rawValue + self.from.rawValue + self.to.rawValue }
    public var description: String { self.field }
}

/// Why field 3 was not understood.
public enum ProcessingCodeError: Error, Hashable, Sendable {
    /// Not six digits: a format error (30).
    case malformed
    /// A transaction type this dialect does not define (12).
    case unknownTransaction(String)
    /// An account type this dialect does not define (12).
    case unknownAccountType
}

// MARK: Field 54

/// Field 54: up to six amounts of 20 characters each: account type (2), amount type (2), currency
/// (3, ISO 4217 numeric), `C` or `D`, 12 digits of minor units.
public struct AdditionalAmount: Sendable, Hashable {
    /// Digits 3-4: which balance.
    public enum AmountType: String, Sendable, Hashable {
        case ledgerBalance = "01"
        case availableBalance = "02"
    }

    public var accountType: ProcessingCode.AccountType
    public var amountType: AmountType
    public var currency: String
    /// Minor units; negative is a debit balance.
    public var amount: Int64

    public init(
        _ amountType: AmountType = .ledgerBalance,
        amount: Int64,
        currency: String,
        accountType: ProcessingCode.AccountType = .unspecified
    ) {
        self.accountType = accountType
        self.amountType = amountType
        self.currency = currency
        self.amount = amount
    }

    public static let width = 20

    public var field: String {
        self.accountType.rawValue + self.amountType.rawValue + self.currency + SignedAmount.encode(self.amount)
    }

    /// The amounts of a field 54.
    public static func decode(_ value: String) throws(FieldFormatError) -> [AdditionalAmount] {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty, bytes.count % Self.width == 0, bytes.count <= 6 * Self.width else {
            throw FieldFormatError(field: 54, code: .width, "amounts are 20 characters each, one to six of them")
        }
        var amounts: [AdditionalAmount] = []
        for start in stride(from: 0, to: bytes.count, by: Self.width) {
            // By bytes, not characters: a multi-byte character must not shift the columns.
            let text = { (range: Range<Int>) in
                String(decoding: bytes[start + range.lowerBound..<start + range.upperBound], as: UTF8.self)
            }
            guard let accountType = ProcessingCode.AccountType(rawValue: text(0..<2)),
                let amountType = AmountType(rawValue: text(2..<4))
            else {
                throw FieldFormatError(field: 54, code: .unknownCode, "unknown account or amount type")
            }
            guard bytes[start + 4..<start + 7].allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw FieldFormatError(field: 54, code: .notDigits, "a currency is 3 digits")
            }
            let amount = try SignedAmount.decode(Substring(text(7..<20)), field: 54)
            amounts.append(
                AdditionalAmount(amountType, amount: amount, currency: text(4..<7), accountType: accountType)
            )
        }
        return amounts
    }

    public static func encode(_ amounts: [AdditionalAmount]) -> String {
        amounts.map(\.field).joined()
    }
}

// MARK: Field 63

/// One line of a mini-statement in field 63. The field holds up to ten, newest first, separated by
/// `;`, each `YYMMDD|kind|amount|balance after` with amounts as `C`/`D` and 12 digits.
public struct MiniStatementLine: Sendable, Hashable {
    /// `YYMMDD`, the posting's UTC date.
    public var date: String
    /// What the line was: `withdrawal`, `deposit`, `transfer`, `reversal`, ...
    public var kind: String
    public var amount: Int64
    public var balanceAfter: Int64

    public init(date: String, kind: String, amount: Int64, balanceAfter: Int64) {
        self.date = date
        self.kind = kind
        self.amount = amount
        self.balanceAfter = balanceAfter
    }

    /// The line of a posting at a Unix time.
    public init(unixSeconds: Int, kind: String, amount: Int64, balanceAfter: Int64) {
        let day = CivilDate(unixSeconds: unixSeconds)
        self.init(
            date: zeroPadded(Int64(day.year % 100), 2) + zeroPadded(Int64(day.month), 2)
                + zeroPadded(Int64(day.day), 2),
            kind: kind,
            amount: amount,
            balanceAfter: balanceAfter
        )
    }

    public var field: String {
        "\(self.date)|\(self.kind)|\(SignedAmount.encode(self.amount))|\(SignedAmount.encode(self.balanceAfter))"
    }

    public static func encode(_ lines: [MiniStatementLine]) -> String {
        lines.map(\.field).joined(separator: ";")
    }

    public static func decode(_ value: String) throws(FieldFormatError) -> [MiniStatementLine] {
        if value.isEmpty { return [] }
        var lines: [MiniStatementLine] = []
        for text in value.split(separator: ";", omittingEmptySubsequences: false) {
            let parts = text.split(separator: "|", omittingEmptySubsequences: false)
            guard parts.count == 4, !parts[1].isEmpty else {
                throw FieldFormatError(field: 63, code: .layout, "a line is YYMMDD|kind|amount|balance")
            }
            guard parts[0].utf8.count == 6 else {
                throw FieldFormatError(field: 63, code: .width, "a line's date is YYMMDD")
            }
            guard parts[0].utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw FieldFormatError(field: 63, code: .notDigits, "a line's date is YYMMDD")
            }
            lines.append(
                MiniStatementLine(
                    date: String(parts[0]),
                    kind: String(parts[1]),
                    amount: try SignedAmount.decode(parts[2], field: 63),
                    balanceAfter: try SignedAmount.decode(parts[3], field: 63)
                )
            )
        }
        return lines
    }

    /// `DD/MM/YY`, as a receipt prints it; a date that is not six characters is shown as it is.
    public var printedDate: String {
        let chars = Array(self.date.utf8)
        guard chars.count == 6 else { return self.date }
        let part = { (range: Range<Int>) in String(decoding: chars[range], as: UTF8.self) }
        return "\(part(4..<6))/\(part(2..<4))/\(part(0..<2))"
    }
}

// MARK: Field 90

/// Field 90 of a reversal: the original's MTI (4), STAN (6), transmission time (10, field 7), acquiring
/// and forwarding institution ids (11 each; Cashpoint sends zeros).
public struct OriginalDataElements: Sendable, Hashable {
    public var mti: MTI
    public var stan: String
    public var transmissionTime: String
    public var acquirer: String
    public var forwarder: String

    public init(
        mti: MTI,
        stan: String,
        transmissionTime: String,
        acquirer: String = "00000000000",
        forwarder: String = "00000000000"
    ) {
        self.mti = mti
        self.stan = stan
        self.transmissionTime = transmissionTime
        self.acquirer = acquirer
        self.forwarder = forwarder
    }

    /// The original data of a request as it was sent (its MTI and fields 11 and 7).
    public init(of original: ATM87Message) throws(FieldFormatError) {
        guard let stan = original[11], let time = original[7] else {
            throw FieldFormatError(
                field: 90,
                code: .missingField,
                "the original has no STAN (11) or transmission time (7)"
            )
        }
        self.init(mti: original.mti, stan: stan, transmissionTime: time)
    }

    public static let width = 42

    public var field: String {
        self.mti.description + self.stan + self.transmissionTime + self.acquirer + self.forwarder
    }

    public init(field value: String) throws(FieldFormatError) {
        let bytes = Array(value.utf8)
        guard bytes.count == Self.width else {
            throw FieldFormatError(field: 90, code: .width, "original data is 42 digits")
        }
        let text = { (range: Range<Int>) in String(decoding: bytes[range], as: UTF8.self) }
        guard bytes.allSatisfy({ (0x30...0x39).contains($0) }), let mti = MTI(text(0..<4)) else {
            throw FieldFormatError(field: 90, code: .notDigits, "original data is 42 digits")
        }
        self.init(
            mti: mti,
            stan: text(4..<10),
            transmissionTime: text(10..<20),
            acquirer: text(20..<31),
            forwarder: text(31..<42)
        )
    }
}

// MARK: Field 95

/// Field 95 of a reversal: the amount actually completed (for a withdrawal, the cash dispensed), in
/// 12 digits, then the settlement amount (12 digits) and two fees (9 characters each). Cashpoint sends
/// the settlement amount and the fees as zeros, so the field is the actual amount and 30 zero digits
/// (docs/protocol.md); a fee read from another acquirer may also be `C` or `D` and 8 digits.
public struct ReplacementAmounts: Sendable, Hashable {
    /// Minor units actually completed.
    public var actual: Int64
    public var settlement: Int64

    public init(actual: Int64, settlement: Int64 = 0) {
        self.actual = actual
        self.settlement = settlement
    }

    public static let width = 42

    /// The largest amount 12 digits hold; `field` writes an amount outside `0...largest` as its nearer bound.
    public static let largest: Int64 = 999_999_999_999

    public var field: String {
        let clamp = { (value: Int64) in min(max(value, 0), Self.largest) }
        return zeroPadded(clamp(self.actual), 12) + zeroPadded(clamp(self.settlement), 12)
            + String(repeating: "0", count: 18)
    }

    public init(field value: String) throws(FieldFormatError) {
        let bytes = Array(value.utf8)
        let isDigit = { (byte: UInt8) in (0x30...0x39).contains(byte) }
        guard bytes.count == Self.width else {
            throw FieldFormatError(field: 95, code: .width, "replacement amounts are 42 characters")
        }
        guard bytes[0..<24].allSatisfy(isDigit) else {
            throw FieldFormatError(field: 95, code: .notDigits, "the actual and settlement amounts are 12 digits each")
        }
        for fee in [bytes[24..<33], bytes[33..<42]] {
            guard let sign = fee.first, sign == UInt8(ascii: "C") || sign == UInt8(ascii: "D") || isDigit(sign) else {
                throw FieldFormatError(field: 95, code: .sign, "a fee's sign is C or D (or a digit)")
            }
            guard fee.dropFirst().allSatisfy(isDigit) else {
                throw FieldFormatError(field: 95, code: .notDigits, "a fee is 9 digits, or C or D and 8 digits")
            }
        }
        let number = { (range: Range<Int>) in Int64(String(decoding: bytes[range], as: UTF8.self)) ?? 0 }
        self.init(actual: number(0..<12), settlement: number(12..<24))
    }
}

// MARK: Field 48 of 0600/0610

/// The administrative operations of a 0600 (field 48's `OP` element).
public enum AdminOperation: String, Sendable, Hashable, CaseIterable {
    case login = "LOGIN"
    case logout = "LOGOUT"
    case createCustomer = "CREATE"
    case openAccount = "ACCOUNT"
    case issueCard = "CARD"
    case deposit = "DEPOSIT"
    case withdraw = "WITHDRAW"
    case balance = "BALANCE"
    case statement = "STATEMENT"
    case lockAccount = "LOCKACCOUNT"
    case unlockAccount = "UNLOCKACCOUNT"
    case lockCard = "LOCKCARD"
    case unlockCard = "UNLOCKCARD"
    case unlockUser = "UNLOCKUSER"
    case setRole = "ROLE"
    case listUsers = "USERS"
    case readAudit = "AUDIT"
    /// Cash unloaded from and loaded into an ATM, sent by the ATM itself (no staff token).
    case replenish = "REPLENISH"
    /// A one-time enrolment code for a user's second factor (a reset when the user has one: held).
    case enrol = "ENROL"
    /// An account's daily limits (always held for a second person).
    case setLimits = "LIMITS"
    /// A new teller, administrator or compliance officer (always held for a second person).
    case createStaff = "STAFF"
    /// The held changes (four eyes), by state.
    case pendingChanges = "PENDING"
    /// One held change: before and after.
    case showChange = "CHANGE"
    /// A second member of staff applies a held change.
    case approveChange = "APPROVE"
    /// A second member of staff refuses a held change, with a reason.
    case rejectChange = "REJECT"
    /// A customer's KYC record (compliance, administrator).
    case kyc = "KYC"
    /// A compliance user verifies or rejects a customer (KYC); verifying a high-risk one is held.
    case verify = "VERIFY"
    /// The compliance desk's queue of cases (transaction monitoring), most severe then oldest.
    case cases = "CASES"
    /// One case's file: the case, its subject, alerts, transactions and events.
    case showCase = "CASE"
    /// A case assigned to a compliance officer (a decision: fresh second factor).
    case assignCase = "CASEASSIGN"
    /// An assigned case escalated, with a note (a decision: fresh second factor).
    case escalateCase = "CASEESCALATE"
    /// A note on a case that is not closed.
    case noteCase = "CASENOTE"
    /// A case closed with a disposition and a note (a decision: fresh second factor; a high-severity
    /// case by another person than the one who opened or assigned it).
    case closeCase = "CASECLOSE"
    /// A case opened at the desk for a customer, with a severity and a reason.
    case openCase = "CASEOPEN"
}

/// The tags of field 48's elements in administrative messages.
public enum AdminTag: String, Sendable, Hashable, CaseIterable {
    case operation = "OP"
    case userName = "UN"
    case password = "PW"
    case role = "RL"
    case customerName = "CN"
    case accountName = "NM"
    case expiry = "EX"
    case dailyAmountLimit = "DL"
    case dailyCountLimit = "DC"
    case customerID = "CU"
    case accountID = "AI"
    case cardID = "CD"
    case pinBlock = "PB"
    case balance = "BL"
    case authorization = "AU"
    case page = "PG"
    case limit = "LM"
    case user = "US"
    case count = "CT"
    case next = "NX"
    case actor = "AC"
    case action = "AX"
    case from = "FR"
    case to = "TO"
    case auditRow = "AR"
    /// REPLENISH: cash taken out of the ATM, minor units.
    case unloaded = "UL"
    /// REPLENISH: cash put into the ATM, minor units.
    case loaded = "LD"
    /// 0610 of REPLENISH and 0510: the cash the ledger says the terminal holds (`C`/`D` + 12 digits).
    case cashHeld = "CB"
    /// 0500/0510: the number of transfers in the period.
    case transfers = "TN"
    /// 0500/0510: the transfers' amount, minor units.
    case transfersAmount = "TA"
    /// A one-time code (TOTP or recovery code), as a code block.
    case oneTimeCode = "OT"
    /// A one-time enrolment code, as a code block (LOGIN; the 0610 of ENROL and of an approved reset).
    case enrolmentCode = "EC"
    /// 0610 of LOGIN during enrolment: the new TOTP secret (base32), as a code block.
    case secret = "SK"
    /// 0610 of LOGIN during enrolment: ten recovery codes, as a code block.
    case recoveryCodes = "RC"
    /// 0610 answered 1A: what the next LOGIN must carry (`OT` or `EC`).
    case nextFactor = "NF"
    /// A held change's number.
    case change = "CH"
    /// Why: the maker's reason for a held change, or a checker's for a rejection.
    case reason = "RS"
    /// PENDING: the state of the changes to list.
    case state = "ST"
    /// PENDING / CHANGE: one change, `id|state|operation|target|maker|requested|expires|checker|reason`.
    case changeEntry = "CG"
    /// CHANGE: the state the change was asked against.
    case before = "BF"
    /// CHANGE: what approval makes it.
    case after = "AF"
    /// CHANGE: the checker's reason. KYC: the last KYC decision's reason.
    case decisionReason = "DR"
    /// CREATE, KYC: date of birth, YYYYMMDD.
    case birthDate = "BD"
    /// CREATE, KYC: nationality, ISO 3166-1 alpha-2.
    case nationality = "NA"
    /// CREATE, KYC: address (1-160 characters, no `|`).
    case address = "AD"
    /// CREATE, KYC: identity document type, `passport`, `id_card` or `driving_licence`.
    case documentType = "IT"
    /// CREATE, KYC: the document's issuing country, ISO 3166-1 alpha-2.
    case documentCountry = "IC"
    /// CREATE: the document's number, as a code block (purpose `document`); never answered.
    case documentNumber = "IN"
    /// CREATE, KYC: politically exposed person, `Y` or `N`.
    case politicallyExposed = "PP"
    /// KYC: the KYC status (`pending`, `verified`, `rejected`, `expired`); VERIFY: the decision
    /// (`verified` or `rejected`).
    case kycStatus = "KS"
    /// KYC: the risk rating, `low`, `medium` or `high`.
    case riskRating = "RR"
    /// KYC: one reason for the rating (repeated).
    case riskReason = "RN"
    /// KYC: the document as shown, `TYPE CC ****1234`.
    case maskedDocument = "DM"
    /// KYC: the review date, YYYYMMDD (verified customers).
    case reviewDue = "RD"
    /// KYC: the sanctions screening result, `not_screened`, `clear` or `hit` (then its detail after `|`).
    case screening = "SC"
    /// KYC: who made the last KYC decision, and when (`user|YYYYMMDDhhmmss`).
    case decidedBy = "VB"
    /// CASE and the case steps: the case's number.
    case caseID = "KN"
    /// CASES: one case, `id|severity|status|subject|name|assignee|opened|alerts|last event|rules`.
    case caseEntry = "KE"
    /// CASE: the case, `id|severity|status|subject|opened by|opened|assignee|assigned by|closed by|closed|disposition`.
    case caseHeader = "KF"
    /// CASE: one alert, `id|rule|severity|score|amount|window start|window end|transactions (space-separated)|detail`.
    case alert = "KA"
    /// CASE: one transaction behind the alerts, `id|time|kind|amount|response|terminal|account|card|reversed Y/N`.
    case caseTransaction = "KT"
    /// CASE: one event of the case, `time|actor|event|status after|detail`.
    case caseEvent = "KV"
    /// CASE: what did not fit in field 48, `alerts|transactions|events` left off.
    case leftOff = "KL"
    /// CASECLOSE: the disposition, `false_positive`, `customer_contacted` or `report_filed`.
    case disposition = "KD"
    /// CASEESCALATE, CASENOTE, CASECLOSE: the note (1-500 characters).
    case note = "KO"
    /// The answer to a case step refused (12, 58): the whole reason (field 44 holds 25 characters).
    case refusal = "KR"
    /// CASEOPEN: the case's severity, `low`, `medium` or `high`.
    case severity = "SV"
}

extension ATM87TLV {
    /// The first value of a tag.
    public subscript(tag: AdminTag) -> String? { self[tag.rawValue] }

    public mutating func append(_ tag: AdminTag, _ value: String) { self.append(tag.rawValue, value) }

    /// The operation a 0600's field 48 names.
    public var operation: AdminOperation? { self[.operation].flatMap(AdminOperation.init(rawValue:)) }

    /// A 0600's field 48 for an operation and its elements.
    public init(_ operation: AdminOperation, _ elements: [(AdminTag, String)] = []) {
        self.init([Element(AdminTag.operation.rawValue, operation.rawValue)])
        for (tag, value) in elements { self.append(tag, value) }
    }
}

// MARK: Field 48 of a 0210

/// The accounts a card may use, default first: field 48 of the approved 0210 that checked the card's
/// PIN, as TLV elements `AN` (one account number each), so the terminal can offer an account choice.
public struct CardAccounts: Sendable, Hashable {
    public static let tag = "AN"
    public var numbers: [String]

    public init(_ numbers: [String]) { self.numbers = numbers }

    public var field: String { ATM87TLV(self.numbers.map { ATM87TLV.Element(Self.tag, $0) }).encoded }

    public init(field value: String) throws(FieldFormatError) {
        let tlv: ATM87TLV
        do {
            tlv = try ATM87TLV(parsing: value)
        } catch {
            throw FieldFormatError(field: 48, code: .tlv, error.description)
        }
        self.init(tlv.all(Self.tag))
    }
}
