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

/// Why a request could not be built: said in words a person at the keypad or CLI can act on.
public struct RequestError: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { self.reason }
}

/// What `atm-terminal compose` makes of a customer's choice: the choice checked (a trace number in
/// range, an amount where one is needed, a transfer's destination), then its 0200 from `FinancialRequest`.
public struct TransactionRequestBuilder: Sendable {
    public var terminalID: String
    /// ISO 4217 numeric currency code, e.g. "978".
    public var currency: String

    public init(terminalID: String, currency: String) {
        self.terminalID = terminalID
        self.currency = currency
    }

    /// The request. `amount` is in minor units. The PIN block (field 52) or session token (field 62)
    /// and the MAC are added by the session layer, which holds the keys: the message is
    /// `FinancialRequest`'s, as the ATM and the harness build it, without them.
    public func request(
        _ kind: TransactionKind,
        pan: String,
        amount: Int,
        stan: Int,
        time: TransmissionTime,
        fromAccount: String? = nil,
        toAccount: String? = nil
    ) throws -> ATM87Message {
        guard let trace = STAN(stan) else {
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
        let request = FinancialRequest(
            header: RequestHeader(terminal: self.terminalID, stan: trace, time: time),
            pan: pan,
            processingCode: kind.code,
            amount: Int64(amount),
            currency: self.currency,
            from: fromAccount,
            to: toAccount,
            credential: nil
        )
        do {
            return try request.message()
        } catch {
            throw RequestError(reason: "cannot build the request: \(error.detail)")
        }
    }
}
