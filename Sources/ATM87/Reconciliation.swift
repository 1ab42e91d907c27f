// The figures of a reconciliation (0500/0510), read from and written to their fields, so terminal and
// switch build and read them the same way. docs/protocol.md ("Reconciliation") says which transactions
// count.

/// A terminal's totals for one period (since its last cutover): counts and amounts (minor units) of
/// its approved money movements.
///
/// | Figure | Field |
/// |---|---|
/// | deposits: number, amount | 74, 86 |
/// | reversed deposits: number, amount | 75, 87 |
/// | withdrawals: number, amount | 76, 88 |
/// | reversed withdrawals: number, amount given back | 77, 89 |
/// | transfers: number, amount | 48 `TN`, `TA` |
/// | net settlement: cash in minus cash out, `C`/`D` and 16 digits | 97 |
public struct ReconciliationTotals: Sendable, Hashable {
    public var credits: Int64
    public var creditsAmount: Int64
    public var creditReversals: Int64
    public var creditReversalsAmount: Int64
    public var debits: Int64
    public var debitsAmount: Int64
    public var debitReversals: Int64
    public var debitReversalsAmount: Int64
    public var transfers: Int64
    public var transfersAmount: Int64
    /// Field 97 as sent; `netFromFigures` is what the other figures make it.
    public var net: Int64

    public init(
        credits: Int64 = 0,
        creditsAmount: Int64 = 0,
        creditReversals: Int64 = 0,
        creditReversalsAmount: Int64 = 0,
        debits: Int64 = 0,
        debitsAmount: Int64 = 0,
        debitReversals: Int64 = 0,
        debitReversalsAmount: Int64 = 0,
        transfers: Int64 = 0,
        transfersAmount: Int64 = 0,
        net: Int64? = nil
    ) {
        self.credits = credits
        self.creditsAmount = creditsAmount
        self.creditReversals = creditReversals
        self.creditReversalsAmount = creditReversalsAmount
        self.debits = debits
        self.debitsAmount = debitsAmount
        self.debitReversals = debitReversals
        self.debitReversalsAmount = debitReversalsAmount
        self.transfers = transfers
        self.transfersAmount = transfersAmount
        self.net = 0
        self.net = net ?? self.netFromFigures
    }

    /// Field 97 from the other figures: 86 - 87 - (88 - 89).
    public var netFromFigures: Int64 {
        self.creditsAmount - self.creditReversalsAmount - (self.debitsAmount - self.debitReversalsAmount)
    }

    /// Each figure with the field (or field 48 tag) that carries it, in the order a difference is named.
    public var figures: [(name: String, value: Int64)] {
        [
            ("74", self.credits), ("75", self.creditReversals), ("76", self.debits), ("77", self.debitReversals),
            ("86", self.creditsAmount), ("87", self.creditReversalsAmount), ("88", self.debitsAmount),
            ("89", self.debitReversalsAmount), ("TN", self.transfers), ("TA", self.transfersAmount),
            ("97", self.net),
        ]
    }

    /// The first figure in which `other` differs from these, and by how much (other minus these).
    public func firstDifference(to other: ReconciliationTotals) -> (name: String, by: Int64)? {
        for (mine, theirs) in zip(self.figures, other.figures) where mine.value != theirs.value {
            return (mine.name, theirs.value &- mine.value)
        }
        return nil
    }

    // MARK: Fields

    static var counts: [(field: Int, path: WritableKeyPath<ReconciliationTotals, Int64>)] {
        [(74, \.credits), (75, \.creditReversals), (76, \.debits), (77, \.debitReversals)]
    }
    static var amounts: [(field: Int, path: WritableKeyPath<ReconciliationTotals, Int64>)] {
        [(86, \.creditsAmount), (87, \.creditReversalsAmount), (88, \.debitsAmount), (89, \.debitReversalsAmount)]
    }

    /// Reads fields 74-77, 86-89 and 97, and `TN` / `TA` from field 48 (TLV). An absent 75, 77, 87, 89,
    /// `TN` or `TA` is zero; 74, 76, 86, 88 and 97 are mandatory in a 0500.
    public init(message: ATM87Message) throws(FieldFormatError) {
        self.init()
        for (field, path) in Self.counts + Self.amounts {
            guard let text = message[field] else {
                if [74, 76, 86, 88].contains(field) { throw FieldFormatError(field: field, "missing") }
                continue
            }
            guard let value = Int64(text), value >= 0 else { throw FieldFormatError(field: field, "not a number") }
            self[keyPath: path] = value
        }
        guard let net = message[97] else { throw FieldFormatError(field: 97, "missing") }
        self.net = try Self.decodeNet(net)
        if let field48 = message[48] {
            let tlv: ATM87TLV
            do { tlv = try ATM87TLV(parsing: field48) } catch { throw FieldFormatError(field: 48, error.detail) }
            self.transfers = try Self.tlvNumber(tlv, .transfers, digits: 10) ?? 0
            self.transfersAmount = try Self.tlvNumber(tlv, .transfersAmount, digits: 16) ?? 0
        }
    }

    /// Sets fields 74-77, 86-89 and 97 (all of them, zeros included) and field 48: `TN`, `TA`, then `extra`.
    public func write(into message: inout ATM87Message, extra: [(AdminTag, String)] = []) throws(ATM87Error) {
        for (field, path) in Self.counts { try message.set(field, zeroPadded(self[keyPath: path], 10)) }
        for (field, path) in Self.amounts { try message.set(field, zeroPadded(self[keyPath: path], 16)) }
        try message.set(97, Self.encodeNet(self.net))
        var tlv = ATM87TLV()
        tlv.append(.transfers, String(self.transfers))
        tlv.append(.transfersAmount, String(self.transfersAmount))
        for (tag, value) in extra { tlv.append(tag, value) }
        try message.set(48, tlv.encoded)
    }

    /// Field 97: `C` (zero or more) or `D` (less than zero), then 16 digits.
    public static func encodeNet(_ value: Int64) -> String {
        (value < 0 ? "D" : "C") + zeroPadded(Int64(min(value.magnitude, 9_999_999_999_999_999)), 16)
    }

    public static func decodeNet(_ text: String) throws(FieldFormatError) -> Int64 {
        guard text.utf8.count == 17, let sign = text.first, sign == "C" || sign == "D",
            text.utf8.dropFirst().allSatisfy({ (0x30...0x39).contains($0) }), let digits = Int64(text.dropFirst())
        else {
            throw FieldFormatError(field: 97, "net settlement is C or D and 16 digits")
        }
        return sign == "D" ? -digits : digits
    }

    static func tlvNumber(_ tlv: ATM87TLV, _ tag: AdminTag, digits: Int) throws(FieldFormatError) -> Int64? {
        guard let text = tlv[tag] else { return nil }
        guard (1...digits).contains(text.utf8.count), text.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
            let value = Int64(text)
        else {
            throw FieldFormatError(field: 48, "\(tag.rawValue) is 1-\(digits) digits")
        }
        return value
    }
}
