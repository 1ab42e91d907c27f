import ATM87
import CashpointSecurity
public import Foundation

/// A card's expiry month as a request names it (YYMM).
public struct ExpiryMonth: Sendable, Hashable {
    public var year: Int
    public var month: Int

    /// YYMM, four digits, month 01-12; nil for anything else.
    public init?(yymm text: String) {
        let digits = Array(text.utf8)
        guard digits.count == 4, digits.allSatisfy({ (0x30...0x39).contains($0) }),
            let yy = Int(text.prefix(2)), let mm = Int(text.suffix(2)), (1...12).contains(mm)
        else { return nil }
        self.year = 2000 + yy
        self.month = mm
    }
}

/// The bank's rules for a new card, in one place: its first PIN, its expiry and the number it gets
/// when the request names none.
public enum NewCardRules {
    /// A first PIN: 4 digits from the system's CSPRNG. It is given once (as a PIN block) and never
    /// stored or logged in the clear.
    public static func firstPIN() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<4).map { _ in String(Int.random(in: 0...9, using: &generator)) }.joined()
    }

    /// The card's last valid day (YYYY-MM-DD): the last day of the month asked for, or of this month
    /// four years on.
    public static func expiry(_ month: ExpiryMonth?, now: Date) -> String {
        let today = CivilDate(unixSeconds: Int(now.timeIntervalSince1970))
        let year = month?.year ?? today.year + 4
        let number = month?.month ?? today.month
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return String(format: "%04d-%02d-%02d", year, number, days[number - 1])
    }

    /// A PAN the bank allocates: its BIN, the serial zero-filled to 15 digits in all, the Luhn check
    /// digit; nil when the serial does not fit under the BIN.
    public static func pan(bin: String, serial: Int64) -> String? {
        let width = 15 - bin.utf8.count
        let text = String(serial)
        guard serial >= 0, text.utf8.count <= width else { return nil }
        let partial = bin + String(repeating: "0", count: width - text.utf8.count) + text
        guard let check = Luhn.checkDigit(for: partial) else { return nil }
        return partial + String(check)
    }
}

/// CREATE: a customer with an account and a card. The bank allocates the account number and the PAN
/// when they are nil, and chooses the first PIN.
public struct NewCustomer: Sendable, Hashable {
    public var userName: String
    public var fullName: String
    public var accountNo: String?
    public var accountName: String?
    public var dailyLimit: Int64?
    public var dailyCount: Int?
    public var pan: String?
    public var expiry: ExpiryMonth?
    /// The BIN an allocated PAN starts with.
    public var cardBIN: String
    /// Who the customer is (know your customer): the full name is their legal name.
    public var identity: CustomerIdentity
    /// The sanctions screening result, when the caller screened the customer before CREATE (a hit
    /// rates them high and keeps them pending).
    public var screening: ScreeningResult

    public init(
        userName: String,
        fullName: String,
        identity: CustomerIdentity,
        screening: ScreeningResult = .notScreened,
        accountNo: String? = nil,
        accountName: String? = nil,
        dailyLimit: Int64? = nil,
        dailyCount: Int? = nil,
        pan: String? = nil,
        expiry: ExpiryMonth? = nil,
        cardBIN: String
    ) {
        self.userName = userName
        self.fullName = fullName
        self.accountNo = accountNo
        self.accountName = accountName
        self.dailyLimit = dailyLimit
        self.dailyCount = dailyCount
        self.pan = pan
        self.expiry = expiry
        self.cardBIN = cardBIN
        self.identity = identity
        self.screening = screening
    }
}

/// A customer made with its account and card.
public struct CreatedCustomer: Sendable, Hashable {
    public var customerID: Int64
    public var accountID: Int64
    public var accountNo: String
    public var cardID: Int64
    public var pan: String
    /// The card's first PIN, for the caller to give once (enciphered); never log it.
    public var firstPIN: String
}

/// Why a customer was not made. Nothing of it was: the customer, account and card are one transaction.
public enum NewCustomerRefusal: Sendable, Hashable {
    /// The request's idempotency key (terminal, STAN, time) is malformed.
    case malformedKey
    /// The permission table refused the role (audited).
    case notPermitted(ResponseCode)
    /// The PAN given fails the Luhn check.
    case panFailsLuhn
    /// No serial left under the BIN for a PAN.
    case noCardNumbersLeft
    case userNameTaken
    case accountNumberTaken
    case cardExists
    /// A value breaks a rule of the database (a user name's or account number's form, say).
    case invalidValue
    /// The database refused the role.
    case refusedByDatabase
    /// The identity is incomplete or malformed (what, for field 44).
    case invalidIdentity(String)

    /// The answer's response code.
    public var code: ResponseCode {
        switch self {
        case .malformedKey, .invalidIdentity: return .formatError
        case .notPermitted(let code): return code
        case .panFailsLuhn: return .unknownCard
        case .noCardNumbersLeft: return .systemMalfunction
        case .userNameTaken, .accountNumberTaken, .cardExists, .invalidValue: return .invalidTransaction
        case .refusedByDatabase: return .notPermittedToTerminal
        }
    }

    /// A short reason for the answer (field 44).
    public var reason: String {
        switch self {
        case .malformedKey: return "terminal, STAN or transmission time malformed"
        case .notPermitted: return "not permitted"
        case .panFailsLuhn: return "the PAN fails the Luhn check"
        case .noCardNumbersLeft: return "no card numbers left under the BIN"
        case .userNameTaken: return "user name taken; nothing made"
        case .accountNumberTaken: return "account number taken; nothing made"
        case .cardExists: return "card exists; nothing made"
        case .invalidValue: return "a value breaks a rule; nothing made"
        case .refusedByDatabase: return "refused by the database; nothing made"
        case .invalidIdentity(let problem): return problem
        }
    }
}

public enum NewCustomerResult: Sendable, Hashable {
    case created(CreatedCustomer)
    case refused(NewCustomerRefusal)
}

extension Bank {
    /// CREATE: the customer, the account and the card in one SQL function (one transaction). A PAN
    /// given that fails the Luhn check is refused before anything else; then the permission table
    /// (its refusal is audited). The bank allocates the PAN (a serial from the database) and the
    /// account number when the request names none, and chooses the first PIN and the expiry.
    public func createCustomer(
        _ request: NewCustomer,
        by staff: StaffMember,
        key: IdempotencyKey,
        ip: String?
    ) async throws -> NewCustomerResult {
        if let typed = request.pan, !Luhn.isValidPAN(typed) { return .refused(.panFailsLuhn) }
        let expiry = NewCardRules.expiry(request.expiry, now: self.now())
        let actor = ActorContext.staff(staff.role, name: staff.userName, device: key.terminal, ip: ip)
        guard key.isWellFormed else { return .refused(.malformedKey) }
        // The permission table decides first, so a role that may not create customers allocates nothing.
        if case .deny(let code) = Permissions.decide(
            role: staff.role,
            operation: .createCustomer,
            ownership: .otherCustomer
        ) {
            let operation = StaffOperation.createCustomer(userName: request.userName, fullName: request.fullName)
            _ = try await self.refuse(code, operation: operation.name, actor: actor, details: [:])
            return .refused(.notPermitted(code))
        }
        if let problem = request.identity.problem(today: self.today()) { return .refused(.invalidIdentity(problem)) }
        do {
            let identity = try await self.storedIdentity(
                request.identity,
                legalName: request.fullName,
                screening: request.screening,
                largestDailyLimit: request.dailyLimit ?? Self.defaultDailyLimit
            )
            let pan: String
            if let typed = request.pan {
                pan = typed
            } else {
                // A serial from a sequence: it makes nothing, so a later failure leaves only a gap.
                let serial = try await self.records.allocateCardSerial(actor: actor)
                guard let allocated = NewCardRules.pan(bin: request.cardBIN, serial: serial) else {
                    return .refused(.noCardNumbersLeft)
                }
                pan = allocated
            }
            let pin = NewCardRules.firstPIN()
            let hash = try await self.hashOffLoop(pan: pan, pin: pin)
            let rows = try await self.records.createCustomerWithAccountAndCard(
                actor: actor,
                userName: request.userName,
                fullName: request.fullName,
                accountNo: request.accountNo,
                accountName: request.accountName ?? "\(request.fullName) current",
                dailyLimit: request.dailyLimit,
                dailyCount: request.dailyCount,
                panDigest: self.present(pan: pan).digest,
                maskedPAN: ATM87PrettyPrinter.maskPAN(pan),
                pinHash: hash,
                expiry: expiry,
                identity: identity
            )
            return .created(
                CreatedCustomer(
                    customerID: rows.customerID,
                    accountID: rows.accountID,
                    accountNo: rows.accountNo,
                    cardID: rows.cardID,
                    pan: pan,
                    firstPIN: pin
                )
            )
        } catch let error as StoreError {
            guard let refusal = Self.newCustomerRefusal(error) else { throw error }
            return .refused(refusal)
        }
    }

    /// What a store error at CREATE means, by its kind and the constraint it broke; nil when it is
    /// not a refusal of the request (the database is gone or failed).
    static func newCustomerRefusal(_ error: StoreError) -> NewCustomerRefusal? {
        switch error.kind {
        case .alreadyExists:
            switch error.taken {
            case .userName: return .userNameTaken
            case .accountNumber: return .accountNumberTaken
            case .cardNumber: return .cardExists
            case .terminalID, nil: return .invalidValue
            }
        case .invalidValue, .notFound: return .invalidValue
        case .notPermitted, .approvalRequired: return .refusedByDatabase
        case .unavailable: return nil
        }
    }
}
