// The requests a terminal sends for a card, built from values: the one recipe for a 0200 and for a
// reversal advice (0420, and its repeats 0421). The ATM (`TerminalSession`), the harness (scripts, the
// bank check, the flood's template) and `atm-terminal compose` all build them here. Pure: no keys, no
// clock, no I/O. A PIN block or a token comes in already made; the MAC is added by whoever holds the key.

// MARK: Fields 7, 12 and 13

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

    /// Reads field 7 (MMDDhhmmss), as a repeated advice takes its first one's time.
    public init(transmission value: String) throws(FieldFormatError) {
        let bytes = Array(value.utf8)
        guard bytes.count == 10 else {
            throw FieldFormatError(field: 7, code: .width, "a transmission time is 10 digits")
        }
        guard bytes.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw FieldFormatError(field: 7, code: .notDigits, "a transmission time is 10 digits")
        }
        let two = { (at: Int) in Int(bytes[at] - 0x30) * 10 + Int(bytes[at + 1] - 0x30) }
        self.init(month: two(0), day: two(2), hour: two(4), minute: two(6), second: two(8))
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

// MARK: Field 11

/// Field 11, the systems trace audit number: 1 to 999999, six digits on the wire. A terminal numbers its
/// requests one after another, from 999999 back to 1.
public struct STAN: Sendable, Hashable, CustomStringConvertible {
    public static let range = 1...999_999

    public let value: Int

    /// Nil outside 1...999999.
    public init?(_ value: Int) {
        guard Self.range.contains(value) else { return nil }
        self.value = value
    }

    /// Reads six digits (000001 to 999999).
    public init(field value: String) throws(FieldFormatError) {
        guard value.utf8.count == 6, value.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw FieldFormatError(field: 11, code: .notDigits, "a STAN is 6 digits")
        }
        guard let stan = STAN(Int(value) ?? 0) else {
            throw FieldFormatError(field: 11, code: .width, "a STAN is 000001 to 999999")
        }
        self = stan
    }

    /// The number after `previous` (0 before the first): from 999999 back to 1.
    public static func after(_ previous: Int) -> STAN {
        let period = Self.range.upperBound
        return STAN((previous % period + period) % period + 1)!
    }

    /// Field 11.
    public var field: String { zeroPadded(Int64(self.value), 6) }
    public var description: String { self.field }
}

// MARK: The header

/// Fields 7, 11 and 41 of a terminal's request (and 12 and 13 of a 0200): which terminal, which trace
/// number, when. A repeated advice (0421) carries its first one's header again.
public struct RequestHeader: Sendable, Hashable {
    public var terminal: String
    public var stan: STAN
    public var time: TransmissionTime

    public init(terminal: String, stan: STAN, time: TransmissionTime) {
        self.terminal = terminal
        self.stan = stan
        self.time = time
    }

    /// The header a request was sent with: fields 41, 11 and 7.
    public init(of message: ATM87Message) throws(FieldFormatError) {
        guard let terminal = message.trimmed(41), let stan = message[11], let time = message[7] else {
            throw FieldFormatError(
                field: 41,
                code: .missingField,
                "a request names its terminal, STAN and time (41, 11, 7)"
            )
        }
        self.init(terminal: terminal, stan: try STAN(field: stan), time: try TransmissionTime(transmission: time))
    }

    /// A request of this type with the header's fields and no other.
    public func message(_ mti: MTI) throws(ATM87Error) -> ATM87Message {
        var message = ATM87Message(mti: mti)
        try message.set(7, self.time.transmission)
        try message.set(11, self.stan.field)
        try message.set(41, self.terminal)
        if mti == .financialRequest {
            try message.set(12, self.time.localTime)
            try message.set(13, self.time.localDate)
        }
        return message
    }
}

// MARK: 0200

/// How a 0200 shows that the cardholder is there: a PIN block (field 52, ISO 9564 format 4 under the
/// session PIN key) or the card session's token (field 62) from an earlier PIN-checked answer.
public enum CardCredential: Sendable, Hashable {
    case pinBlock([UInt8])
    case token(String)
}

/// A card's financial request (0200).
public struct FinancialRequest: Sendable, Hashable {
    /// Field 22, point of service entry mode: chip, PIN.
    public static let entryMode = "051"

    public var header: RequestHeader
    /// Field 2.
    public var pan: String
    /// Field 3, with the default accounts: the accounts travel in fields 102 and 103.
    public var processingCode: ProcessingCode
    /// Field 4, minor units.
    public var amount: Int64
    /// Field 49, ISO 4217 numeric.
    public var currency: String
    /// Field 102.
    public var from: String?
    /// Field 103.
    public var to: String?
    /// Field 52 or 62; nil only for a request that is printed, not sent (`atm-terminal compose`).
    public var credential: CardCredential?
    /// Field 125: the new PIN's block, for a PIN change.
    public var newPINBlock: [UInt8]?

    public init(
        header: RequestHeader,
        pan: String,
        processingCode: ProcessingCode,
        amount: Int64 = 0,
        currency: String,
        from: String? = nil,
        to: String? = nil,
        credential: CardCredential?,
        newPINBlock: [UInt8]? = nil
    ) {
        self.header = header
        self.pan = pan
        self.processingCode = processingCode
        self.amount = amount
        self.currency = currency
        self.from = from
        self.to = to
        self.credential = credential
        self.newPINBlock = newPINBlock
    }

    /// The 0200, without a MAC.
    public func message() throws(ATM87Error) -> ATM87Message {
        var message = try self.header.message(.financialRequest)
        try message.set(2, self.pan)
        try message.set(3, self.processingCode.field)
        try message.set(4, number: self.amount)
        try message.set(22, Self.entryMode)
        try message.set(49, self.currency)
        if let from = self.from { try message.set(102, from) }
        if let to = self.to { try message.set(103, to) }
        switch self.credential {
        case .pinBlock(let block): try message.set(52, bytes: block)
        case .token(let token): try message.set(62, token)
        case nil: break
        }
        if let block = self.newPINBlock { try message.set(125, bytes: block) }
        return message
    }
}

// MARK: 0420 and 0421

/// A reversal advice: the first (0420), or a repeat (0421) that carries the first one's header, so the
/// switch sees one advice however often it comes. It names the request it reverses in field 90, copies
/// that request's card, processing code, amount and currency (fields 2, 3, 4, 49), and says in field 95,
/// when present, how much was actually completed (the cash dispensed).
public struct ReversalAdvice: Sendable, Hashable {
    /// The advice's own header; a repeat's is the first advice's.
    public var header: RequestHeader
    /// 0421 rather than 0420.
    public var isRepeat: Bool
    public var pan: String?
    public var processingCode: ProcessingCode
    /// The reversed request's amount, minor units.
    public var amount: Int64
    public var currency: String?
    public var original: OriginalDataElements
    public var replacement: ReplacementAmounts?

    public init(
        header: RequestHeader,
        isRepeat: Bool = false,
        pan: String?,
        processingCode: ProcessingCode,
        amount: Int64,
        currency: String?,
        original: OriginalDataElements,
        replacement: ReplacementAmounts?
    ) {
        self.header = header
        self.isRepeat = isRepeat
        self.pan = pan
        self.processingCode = processingCode
        self.amount = amount
        self.currency = currency
        self.original = original
        self.replacement = replacement
    }

    /// The advice reversing a request as it was sent (or as its answer echoes it): fields 2 and 49 as
    /// it has them, its processing code and amount, and field 90 from its MTI, STAN and time.
    public init(
        reversing request: ATM87Message,
        header: RequestHeader,
        isRepeat: Bool = false,
        replacement: ReplacementAmounts?
    ) throws(FieldFormatError) {
        guard let code = request[3], let amount = request[4] else {
            throw FieldFormatError(
                field: 90,
                code: .missingField,
                "the reversed request has no processing code or amount (3, 4)"
            )
        }
        let processingCode: ProcessingCode
        do {
            processingCode = try ProcessingCode(field: code)
        } catch .malformed {
            throw FieldFormatError(field: 3, code: .notDigits, "a processing code is 6 digits")
        } catch {
            throw FieldFormatError(
                field: 3,
                code: .unknownCode,
                "the reversed request's processing code is not one of the dialect's"
            )
        }
        guard let minor = Int64(amount) else {
            throw FieldFormatError(field: 4, code: .notDigits, "the reversed request's amount is not digits")
        }
        self.init(
            header: header,
            isRepeat: isRepeat,
            pan: request[2],
            processingCode: processingCode,
            amount: minor,
            currency: request[49],
            original: try OriginalDataElements(of: request),
            replacement: replacement
        )
    }

    /// The 0420 or 0421, without a MAC.
    public func message() throws(ATM87Error) -> ATM87Message {
        var message = try self.header.message(self.isRepeat ? .reversalAdviceRepeat : .reversalAdvice)
        if let pan = self.pan { try message.set(2, pan) }
        try message.set(3, self.processingCode.field)
        try message.set(4, number: self.amount)
        if let currency = self.currency { try message.set(49, currency) }
        try message.set(90, self.original.field)
        if let replacement = self.replacement { try message.set(95, replacement.field) }
        return message
    }
}
