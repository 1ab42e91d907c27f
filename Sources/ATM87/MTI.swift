/// A message type indicator: four ASCII digits (version, class, function, origin), held as the
/// decimal number they spell, so `0200` is `MTI(rawValue: 200)`.
public struct MTI: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt16

    @inlinable
    public init(rawValue: UInt16) {
        self.rawValue = rawValue
    }

    /// Parses four ASCII digits, e.g. `"0200"`; `nil` for anything else.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.count == 4 else { return nil }
        var value: UInt16 = 0
        for byte in utf8 {
            guard byte &- UInt8(ascii: "0") < 10 else { return nil }
            value = value * 10 + UInt16(byte &- UInt8(ascii: "0"))
        }
        self.rawValue = value
    }

    /// The four digits, zero-filled: `"0200"`.
    public var description: String {
        let digits = String(self.rawValue)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The message class digit (second digit): 2 financial, 4 reversal, 5 reconciliation, 6 administrative,
    /// 8 network management.
    public var messageClass: Int { Int(self.rawValue / 100 % 10) }

    /// `true` for a response (function digit 1 or 3: 0210, 0430, 0810...).
    public var isResponse: Bool { (self.rawValue / 10 % 10) % 2 == 1 }

    public static func < (lhs: MTI, rhs: MTI) -> Bool { lhs.rawValue < rhs.rawValue }

    public static let financialRequest = MTI(rawValue: 200)
    public static let financialResponse = MTI(rawValue: 210)
    public static let reversalAdvice = MTI(rawValue: 420)
    public static let reversalAdviceRepeat = MTI(rawValue: 421)
    public static let reversalResponse = MTI(rawValue: 430)
    public static let reconciliationRequest = MTI(rawValue: 500)
    public static let reconciliationResponse = MTI(rawValue: 510)
    public static let administrativeRequest = MTI(rawValue: 600)
    public static let administrativeResponse = MTI(rawValue: 610)
    public static let networkManagementRequest = MTI(rawValue: 800)
    public static let networkManagementResponse = MTI(rawValue: 810)
}
