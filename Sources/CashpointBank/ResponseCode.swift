import ATM87

/// An ISO 8583 response code (field 39).
public struct ResponseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible, Codable {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public static let approved = ResponseCode(rawValue: "00")
    /// Held for a second person's approval (four eyes): nothing changed yet (ISO 8583:1987 "request
    /// in progress").
    public static let held = ResponseCode(rawValue: "09")
    /// The request needs a one-time code (sign-on, enrolment, step-up), or an enrolment code: field
    /// 48's `NF` says which.
    public static let additionalAuthenticationRequired = ResponseCode(rawValue: "1A")
    /// The customer is not verified (know your customer: pending, rejected or expired): they may hold
    /// an account and a card, but move money only as bank.settings.unverified_may allows (deposits).
    public static let customerNotVerified = ResponseCode(rawValue: "1K")
    public static let invalidTransaction = ResponseCode(rawValue: "12")
    public static let invalidAmount = ResponseCode(rawValue: "13")
    public static let unknownCard = ResponseCode(rawValue: "14")
    public static let formatError = ResponseCode(rawValue: "30")
    public static let insufficientFunds = ResponseCode(rawValue: "51")
    public static let expiredCard = ResponseCode(rawValue: "54")
    public static let wrongPIN = ResponseCode(rawValue: "55")
    public static let notPermittedToCardholder = ResponseCode(rawValue: "57")
    public static let notPermittedToTerminal = ResponseCode(rawValue: "58")
    /// Refused by transaction monitoring's blocking rule (a card's velocity, checked inside the posting):
    /// nothing was posted (ISO 8583:1987 "suspected fraud").
    public static let suspectedFraud = ResponseCode(rawValue: "59")
    public static let amountLimitExceeded = ResponseCode(rawValue: "61")
    public static let restricted = ResponseCode(rawValue: "62")
    public static let securityViolation = ResponseCode(rawValue: "63")
    public static let countLimitExceeded = ResponseCode(rawValue: "65")
    /// The request arrived after the reversal that names it: nothing was posted (ISO 8583:1987
    /// "response received too late").
    public static let reversedBeforeArrival = ResponseCode(rawValue: "68")
    public static let pinTriesExceeded = ResponseCode(rawValue: "75")
    public static let unknownFromAccount = ResponseCode(rawValue: "76")
    public static let unknownToAccount = ResponseCode(rawValue: "77")
    public static let switchInoperative = ResponseCode(rawValue: "91")
    public static let duplicate = ResponseCode(rawValue: "94")
    public static let reconcileError = ResponseCode(rawValue: "95")
    public static let systemMalfunction = ResponseCode(rawValue: "96")

    public var isApproved: Bool { self == .approved }

    /// The meaning, from the protocol specification.
    public var meaning: String { ATM87Spec.responseCodes[self.rawValue] ?? "unknown response code" }

    public var description: String { "\(self.rawValue) (\(self.meaning))" }
}
