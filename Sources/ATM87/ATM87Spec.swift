/// How a field's characters are written on the wire.
public enum ATM87FieldFormat: String, Sendable, Hashable, CaseIterable {
    /// ASCII digits.
    case n
    /// ASCII letters, digits and space.
    case an
    /// Printable ASCII, 0x20-0x7E.
    case ans
    /// Track 2: digits and the separators `=` or `D`.
    case z
    /// Binary, as uppercase hexadecimal, two characters per byte.
    case b
    /// A sign (`C` or `D`) and digits.
    case xn
}

/// How a field's length is known.
public enum ATM87LengthType: String, Sendable, Hashable, CaseIterable {
    case fixed
    case llvar
    case lllvar
}

/// What the masking printer may show of a field.
public enum ATM87Sensitivity: String, Sendable, Hashable, CaseIterable {
    /// Shown as it is.
    case none
    /// A primary account number: shown as the first 6 and last 4 digits.
    case pan
    /// Never shown: only its length.
    case secret
}

/// One field of the dialect, as `protocols/atm87.json` defines it.
public struct ATM87FieldSpec: Sendable, Hashable {
    public let number: Int
    public let name: String
    public let format: ATM87FieldFormat
    public let lengthType: ATM87LengthType
    /// The (maximum) length in the field's units: bytes for `b`, digits for `xn`, characters otherwise.
    public let length: Int
    public let sensitivity: ATM87Sensitivity

    public init(
        number: Int,
        name: String,
        format: ATM87FieldFormat,
        lengthType: ATM87LengthType,
        length: Int,
        sensitivity: ATM87Sensitivity
    ) {
        self.number = number
        self.name = name
        self.format = format
        self.lengthType = lengthType
        self.length = length
        self.sensitivity = sensitivity
    }

    /// The (maximum) number of ASCII characters the field's content takes on the wire, without its
    /// length digits.
    public var maxWireLength: Int {
        switch self.format {
        case .b: return self.length * 2
        case .xn: return self.length + 1
        case .n, .an, .ans, .z: return self.length
        }
    }
}

/// The rules a message type obeys.
public struct ATM87MessageRule: Sendable, Hashable {
    public let mti: MTI
    public let name: String
    /// For a request: the MTI of its response.
    public let response: MTI?
    /// For a response: the MTI of its request.
    public let request: MTI?
    /// Fields that must be present.
    public let mandatory: [Int]
    /// Fields that may be present.
    public let conditional: [Int]
    /// Fields a response carries exactly when its request did, with the request's value.
    public let echo: [Int]
    /// Groups of fields of which at least one must be present.
    public let oneOf: [[Int]]
    /// Field values must start with one of these.
    public let allowedPrefixes: [Int: [String]]
    /// Field values must be one of these.
    public let allowedValues: [Int: [String]]
    /// Every field the message type may carry: mandatory, conditional and echoed (made once: the switch
    /// asks for each message it checks and signs).
    public let allowedFields: Set<Int>

    public init(
        mti: MTI,
        name: String,
        response: MTI?,
        request: MTI?,
        mandatory: [Int],
        conditional: [Int],
        echo: [Int],
        oneOf: [[Int]],
        allowedPrefixes: [Int: [String]],
        allowedValues: [Int: [String]]
    ) {
        self.mti = mti
        self.name = name
        self.response = response
        self.request = request
        self.mandatory = mandatory
        self.conditional = conditional
        self.echo = echo
        self.oneOf = oneOf
        self.allowedPrefixes = allowedPrefixes
        self.allowedValues = allowedValues
        self.allowedFields = Set(mandatory).union(conditional).union(echo)
    }
}

/// The ATM-87 dialect: the tables generated from `protocols/atm87.json`, and lookups over them.
public enum ATM87Spec {
    /// The field with this number, or `nil` if the dialect does not define it.
    public static func field(_ number: Int) -> ATM87FieldSpec? {
        guard number >= 0 && number < fieldsByNumber.count else { return nil }
        return fieldsByNumber[number]
    }

    /// The rules of a message type, or `nil` if the dialect does not define it.
    public static func message(_ mti: MTI) -> ATM87MessageRule? {
        messagesByMTI[mti]
    }

    static let fieldsByNumber: [ATM87FieldSpec?] = {
        var table = [ATM87FieldSpec?](repeating: nil, count: 129)
        for field in fields { table[field.number] = field }
        return table
    }()

    static let messagesByMTI: [MTI: ATM87MessageRule] = Dictionary(
        uniqueKeysWithValues: messages.map { ($0.mti, $0) }
    )

    /// The compact per-field layout the codec's hot loops read: one entry per field number 0...128.
    static let layouts: [FieldLayout] = {
        var table = [FieldLayout](repeating: .undefined, count: 129)
        for field in fields {
            table[field.number] = FieldLayout(field)
        }
        return table
    }()
}

/// What the encoder and decoder need to know of a field, packed small.
@usableFromInline
struct FieldLayout: Sendable {
    /// 0 undefined, 1 n, 2 an, 3 ans, 4 z, 5 b, 6 xn.
    @usableFromInline var format: UInt8
    /// 0 fixed, 2 llvar, 3 lllvar: the number of length digits.
    @usableFromInline var lengthDigits: UInt8
    /// The (maximum) content length on the wire, in characters.
    @usableFromInline var wireLength: UInt16

    static let undefined = FieldLayout(format: 0, lengthDigits: 0, wireLength: 0)

    @usableFromInline static let formatN: UInt8 = 1
    @usableFromInline static let formatAN: UInt8 = 2
    @usableFromInline static let formatANS: UInt8 = 3
    @usableFromInline static let formatZ: UInt8 = 4
    @usableFromInline static let formatB: UInt8 = 5
    @usableFromInline static let formatXN: UInt8 = 6

    init(format: UInt8, lengthDigits: UInt8, wireLength: UInt16) {
        self.format = format
        self.lengthDigits = lengthDigits
        self.wireLength = wireLength
    }

    init(_ spec: ATM87FieldSpec) {
        switch spec.format {
        case .n: self.format = Self.formatN
        case .an: self.format = Self.formatAN
        case .ans: self.format = Self.formatANS
        case .z: self.format = Self.formatZ
        case .b: self.format = Self.formatB
        case .xn: self.format = Self.formatXN
        }
        switch spec.lengthType {
        case .fixed: self.lengthDigits = 0
        case .llvar: self.lengthDigits = 2
        case .lllvar: self.lengthDigits = 3
        }
        self.wireLength = UInt16(spec.maxWireLength)
    }

    @inlinable var isDefined: Bool { self.format != 0 }
}
