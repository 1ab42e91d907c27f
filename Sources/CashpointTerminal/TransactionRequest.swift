public import ATM87

/// What a customer can ask an ATM for, and the processing code (field 3) each travels with.
public enum TransactionKind: String, Sendable, CaseIterable {
    case withdrawal
    case deposit
    case balance
    case transfer
    case statement
    case pinChange = "pin-change"

    /// Field 3, with the default accounts (the accounts travel in fields 102 and 103).
    public var code: ProcessingCode {
        switch self {
        case .withdrawal: return ProcessingCode(.withdrawal)
        case .deposit: return ProcessingCode(.deposit)
        case .balance: return ProcessingCode(.balanceInquiry)
        case .transfer: return ProcessingCode(.transfer)
        case .statement: return ProcessingCode(.miniStatement)
        case .pinChange: return ProcessingCode(.pinChange)
        }
    }

    public var processingCode: String { self.code.field }

    /// Whether the request moves money and so needs a positive amount.
    public var movesMoney: Bool { self.code.transaction.movesMoney }
}

/// A transmission time in UTC, as fields 7 (MMDDhhmmss), 12 (hhmmss) and 13 (MMDD) carry it.
public struct TransmissionTime: Sendable, Hashable {
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The UTC calendar time of a Unix timestamp (seconds).
    public init(unixSeconds: Int) {
        let date = CivilDate(unixSeconds: unixSeconds)
        self.init(month: date.month, day: date.day, hour: date.hour, minute: date.minute, second: date.second)
    }

    static func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// Field 7.
    public var transmission: String {
        Self.two(self.month) + Self.two(self.day) + Self.two(self.hour) + Self.two(self.minute) + Self.two(self.second)
    }
    /// Field 12.
    public var localTime: String { Self.two(self.hour) + Self.two(self.minute) + Self.two(self.second) }
    /// Field 13.
    public var localDate: String { Self.two(self.month) + Self.two(self.day) }
}

/// Why a request could not be built: said in words a person at the keypad or CLI can act on.
public struct RequestError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { self.reason }
}

/// Builds the 0200 a terminal sends for a customer's choice.
public struct TransactionRequestBuilder: Sendable {
    public var terminalID: String
    /// ISO 4217 numeric currency code, e.g. "978".
    public var currency: String

    public init(terminalID: String, currency: String) {
        self.terminalID = terminalID
        self.currency = currency
    }

    /// The request. `amount` is in minor units. The PIN block (field 52) or session token (field 62)
    /// and the MAC are added by the session layer, which holds the keys.
    public func request(
        _ kind: TransactionKind,
        pan: String,
        amount: Int,
        stan: Int,
        time: TransmissionTime,
        fromAccount: String? = nil,
        toAccount: String? = nil
    ) throws -> ATM87Message {
        guard (1...999_999).contains(stan) else {
            throw RequestError(reason: "the trace number must be 1 to 999999, got \(stan)")
        }
        if kind.movesMoney {
            guard amount > 0 else { throw RequestError(reason: "a \(kind.rawValue) needs an amount above zero") }
        } else {
            guard amount == 0 else { throw RequestError(reason: "a \(kind.rawValue) carries no amount") }
        }
        guard amount <= 999_999_999_999 else { throw RequestError(reason: "the amount is too large") }
        if kind == .transfer && toAccount == nil {
            throw RequestError(reason: "a transfer needs the account to pay into")
        }
        var message = ATM87Message(mti: .financialRequest)
        do {
            try message.set(2, pan)
            try message.set(3, kind.processingCode)
            try message.set(4, number: amount)
            try message.set(7, time.transmission)
            try message.set(11, number: stan)
            try message.set(12, time.localTime)
            try message.set(13, time.localDate)
            try message.set(22, "051")
            try message.set(41, self.terminalID)
            try message.set(49, self.currency)
            if let fromAccount { try message.set(102, fromAccount) }
            if let toAccount { try message.set(103, toAccount) }
        } catch {
            throw RequestError(reason: "cannot build the request: \(error.detail)")
        }
        return message
    }
}
