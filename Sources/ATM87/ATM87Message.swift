public import NIOCore

/// One ATM-87 message: an MTI and the fields its bitmap names.
///
/// Field contents are kept exactly as they travel on the wire (ASCII; binary fields as uppercase hex),
/// without their length digits, in one buffer. A decoded message keeps a slice of the frame it was read
/// from and copies nothing; a message being built appends each field to its own buffer. Every setter
/// checks the value against the field's format, so a message that exists can always be encoded.
///
/// `description` (and so string interpolation) goes through the masking printer: a PAN shows its first
/// 6 and last 4 digits, secret fields (PIN block, track 2, MAC, keys, tokens) only their length.
public struct ATM87Message: Sendable {
    /// The message type indicator.
    public var mti: MTI

    /// The field contents: wire form, no length digits.
    @usableFromInline var storage: ByteBuffer
    /// Where each present field's content starts in `storage`, relative to its reader index.
    @usableFromInline var offsets: InlineArray<129, UInt32>
    /// How many wire characters each present field's content has.
    @usableFromInline var lengths: InlineArray<129, UInt16>
    /// Presence of fields 1-64, bit 63 for field 1 (as on the wire; field 1 itself is never set here).
    @usableFromInline var primaryBits: UInt64
    /// Presence of fields 65-128, bit 63 for field 65.
    @usableFromInline var secondaryBits: UInt64
    /// The bytes the present fields take on the wire, length digits included.
    @usableFromInline var fieldBytes: Int

    /// An empty message of the given type.
    public init(mti: MTI) {
        self.mti = mti
        self.storage = ByteBuffer()
        self.offsets = InlineArray(repeating: 0)
        self.lengths = InlineArray(repeating: 0)
        self.primaryBits = 0
        self.secondaryBits = 0
        self.fieldBytes = 0
    }

    /// A message of the given type with the given fields, each set as `set(_:_:)` does.
    public init(mti: MTI, fields: [Int: String]) throws(ATM87Error) {
        self.init(mti: mti)
        for field in fields.keys.sorted() {
            try self.set(field, fields[field]!)
        }
    }

    // MARK: Presence

    @inlinable
    static func mask(for field: Int) -> UInt64 {
        UInt64(1) << UInt64(63 - ((field - 1) & 63))
    }

    /// Whether the field is present. Field 1 (the secondary bitmap) is not a field here.
    @inlinable
    public func contains(_ field: Int) -> Bool {
        guard field >= 2 && field <= 128 else { return false }
        return field <= 64
            ? self.primaryBits & Self.mask(for: field) != 0
            : self.secondaryBits & Self.mask(for: field) != 0
    }

    /// The numbers of the present fields, ascending.
    public var fieldNumbers: [Int] {
        var numbers: [Int] = []
        var bits = self.primaryBits
        while bits != 0 {
            let zeros = bits.leadingZeroBitCount
            numbers.append(zeros + 1)
            bits &= ~(UInt64(1) << UInt64(63 - zeros))
        }
        bits = self.secondaryBits
        while bits != 0 {
            let zeros = bits.leadingZeroBitCount
            numbers.append(zeros + 65)
            bits &= ~(UInt64(1) << UInt64(63 - zeros))
        }
        return numbers
    }

    /// Whether the message has a secondary bitmap, i.e. any field 65-128.
    public var hasSecondaryBitmap: Bool { self.secondaryBits != 0 }

    // MARK: Reading fields

    /// The field's content as it travels (without length digits): digits, text as padded, binary as
    /// uppercase hex. `nil` if the field is absent.
    public subscript(field: Int) -> String? {
        guard self.contains(field) else { return nil }
        return self.withContent(of: field) { String(decoding: $0, as: UTF8.self) }
    }

    /// The field's content bytes as they travel (ASCII), or `nil` if absent.
    public func wireBytes(_ field: Int) -> [UInt8]? {
        guard self.contains(field) else { return nil }
        return self.withContent(of: field) { Array($0) }
    }

    /// A binary (`b`) field's bytes, decoded from hex; `nil` if absent or not binary.
    public func binary(_ field: Int) -> [UInt8]? {
        guard self.contains(field), ATM87Spec.layouts[field].format == FieldLayout.formatB else { return nil }
        return self.withContent(of: field) { hex in
            var bytes = [UInt8]()
            bytes.reserveCapacity(hex.count / 2)
            var index = 0
            while index + 1 < hex.count {
                bytes.append(Hex.value(hex[index]) << 4 | Hex.value(hex[index + 1]))
                index += 2
            }
            return bytes
        }
    }

    /// A numeric field's value as an integer, or `nil` if absent, not numeric, or too large.
    public func integer(_ field: Int) -> Int? {
        guard let text = self[field], ATM87Spec.layouts[field].format == FieldLayout.formatN else { return nil }
        return Int(text)
    }

    /// A text field's content without the space padding of fixed fields.
    public func trimmed(_ field: Int) -> String? {
        guard let text = self[field] else { return nil }
        var end = text.endIndex
        while end > text.startIndex, text[text.index(before: end)] == " " {
            end = text.index(before: end)
        }
        return String(text[..<end])
    }

    @inlinable
    func withContent<R>(of field: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let offset = Int(self.offsets[field])
        let length = Int(self.lengths[field])
        return try self.storage.withUnsafeReadableBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + length)]))
        }
    }

    // MARK: Writing fields

    /// Sets a field from its text. Fixed numeric fields shorter than their length are zero-filled on the
    /// left, fixed text fields space-filled on the right, `xn` amounts zero-filled after the sign; binary
    /// fields take hex (either case, stored uppercase). Anything the field's format forbids is an error
    /// and changes nothing.
    public mutating func set(_ field: Int, _ value: String) throws(ATM87Error) {
        var utf8 = Array(value.utf8)
        let layout = try Self.layout(for: field)
        if layout.format == FieldLayout.formatB {
            for index in utf8.indices where utf8[index] >= UInt8(ascii: "a") && utf8[index] <= UInt8(ascii: "f") {
                utf8[index] -= 0x20
            }
            if utf8.count % 2 != 0 {
                throw ATM87Error(
                    code: .lengthOutOfRange,
                    field: field,
                    detail: "binary field \(field) needs an even number of hex characters, got \(utf8.count)"
                )
            }
        }
        try self.setContent(field, layout: layout, content: &utf8)
    }

    /// Sets a binary (`b`) field from raw bytes, written as uppercase hex.
    public mutating func set(_ field: Int, bytes: some Collection<UInt8>) throws(ATM87Error) {
        let layout = try Self.layout(for: field)
        guard layout.format == FieldLayout.formatB else {
            throw ATM87Error(code: .invalidCharacter, field: field, detail: "field \(field) is not a binary field")
        }
        var hex = [UInt8]()
        hex.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            hex.append(Hex.digit(byte >> 4))
            hex.append(Hex.digit(byte & 0x0F))
        }
        try self.setContent(field, layout: layout, content: &hex)
    }

    /// Sets a numeric field from a non-negative integer, zero-filled for fixed fields.
    public mutating func set(_ field: Int, number: some BinaryInteger) throws(ATM87Error) {
        guard number >= 0 else {
            throw ATM87Error(code: .invalidCharacter, field: field, detail: "field \(field) takes no negative number")
        }
        try self.set(field, String(number))
    }

    /// Removes a field; nothing happens if it is absent.
    public mutating func remove(_ field: Int) {
        guard self.contains(field) else { return }
        self.fieldBytes -= Int(ATM87Spec.layouts[field].lengthDigits) + Int(self.lengths[field])
        if field <= 64 {
            self.primaryBits &= ~Self.mask(for: field)
        } else {
            self.secondaryBits &= ~Self.mask(for: field)
        }
    }

    static func layout(for field: Int) throws(ATM87Error) -> FieldLayout {
        guard field >= 2 && field <= 128, ATM87Spec.layouts[field].isDefined else {
            throw ATM87Error(code: .fieldNotInSpec, field: field, detail: "field \(field) is not in the ATM-87 spec")
        }
        return ATM87Spec.layouts[field]
    }

    private mutating func setContent(_ field: Int, layout: FieldLayout, content: inout [UInt8]) throws(ATM87Error) {
        let maximum = Int(layout.wireLength)
        if layout.lengthDigits == 0 && content.count < maximum {
            Self.pad(&content, to: maximum, format: layout.format)
        }
        guard content.count <= maximum else {
            throw ATM87Error(
                code: .lengthOutOfRange,
                field: field,
                detail: "field \(field) takes at most \(maximum) characters, got \(content.count)"
            )
        }
        guard layout.lengthDigits != 0 || content.count == maximum else {
            throw ATM87Error(
                code: .lengthOutOfRange,
                field: field,
                detail: "field \(field) takes exactly \(maximum) characters, got \(content.count)"
            )
        }
        let invalid = content.withUnsafeBytes { Validation.firstInvalid($0, format: layout.format) }
        if let index = invalid {
            throw ATM87Error(
                code: .invalidCharacter,
                field: field,
                detail: "character \(index + 1) of field \(field) is not allowed by format "
                    + "\(Validation.formatName(layout.format))"
            )
        }
        self.remove(field)
        let offset = self.storage.readableBytes
        self.storage.writeBytes(content)
        self.offsets[field] = UInt32(offset)
        self.lengths[field] = UInt16(content.count)
        self.fieldBytes += Int(layout.lengthDigits) + content.count
        if field <= 64 {
            self.primaryBits |= Self.mask(for: field)
        } else {
            self.secondaryBits |= Self.mask(for: field)
        }
    }

    private static func pad(_ content: inout [UInt8], to length: Int, format: UInt8) {
        let missing = length - content.count
        switch format {
        case FieldLayout.formatN:
            content.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: missing), at: 0)
        case FieldLayout.formatXN:
            content.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: missing), at: min(1, content.count))
        case FieldLayout.formatAN, FieldLayout.formatANS:
            content.append(contentsOf: repeatElement(UInt8(ascii: " "), count: missing))
        default:
            break  // track 2 and binary are never padded: the length check reports them.
        }
    }
}

extension ATM87Message: Equatable {
    /// Two messages are equal when they have the same MTI and the same fields with the same contents,
    /// however their storage is laid out.
    public static func == (lhs: ATM87Message, rhs: ATM87Message) -> Bool {
        guard lhs.mti == rhs.mti, lhs.primaryBits == rhs.primaryBits, lhs.secondaryBits == rhs.secondaryBits else {
            return false
        }
        for field in lhs.fieldNumbers {
            let equal = lhs.withContent(of: field) { left in
                rhs.withContent(of: field) { right in
                    left.count == right.count && left.elementsEqual(right)
                }
            }
            if !equal { return false }
        }
        return true
    }
}

/// Hex digits, uppercase.
@usableFromInline
enum Hex {
    @inlinable
    static func digit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble &+ 0x30 : nibble &+ 0x37
    }

    /// The value of an uppercase or lowercase hex digit; 0 for anything else (callers validate first).
    @inlinable
    static func value(_ character: UInt8) -> UInt8 {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character &- 0x30
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character &- 0x37
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character &- 0x57
        default: return 0
        }
    }
}

/// Character checks per field format.
@usableFromInline
enum Validation {
    /// The index of the first byte the format forbids, or `nil` if all are allowed.
    @inlinable
    static func firstInvalid(_ bytes: UnsafeRawBufferPointer, format: UInt8) -> Int? {
        switch format {
        case FieldLayout.formatN:
            for index in 0..<bytes.count where bytes[index] &- 0x30 >= 10 { return index }
        case FieldLayout.formatANS:
            for index in 0..<bytes.count where bytes[index] &- 0x20 >= 0x5F { return index }
        case FieldLayout.formatAN:
            for index in 0..<bytes.count {
                let byte = bytes[index]
                let isDigit = byte &- 0x30 < 10
                let isLetter = (byte | 0x20) &- 0x61 < 26
                if !(isDigit || isLetter || byte == 0x20) { return index }
            }
        case FieldLayout.formatB:
            for index in 0..<bytes.count {
                let byte = bytes[index]
                if !(byte &- 0x30 < 10 || byte &- 0x41 < 6) { return index }
            }
        case FieldLayout.formatZ:
            for index in 0..<bytes.count {
                let byte = bytes[index]
                if !(byte &- 0x30 < 10 || byte == UInt8(ascii: "=") || byte == UInt8(ascii: "D")) { return index }
            }
        case FieldLayout.formatXN:
            guard bytes.count > 0 else { return nil }
            if bytes[0] != UInt8(ascii: "C") && bytes[0] != UInt8(ascii: "D") { return 0 }
            for index in 1..<bytes.count where bytes[index] &- 0x30 >= 10 { return index }
        default:
            return bytes.isEmpty ? nil : 0
        }
        return nil
    }

    static func formatName(_ format: UInt8) -> String {
        switch format {
        case FieldLayout.formatN: return "n (digits)"
        case FieldLayout.formatAN: return "an (letters, digits, space)"
        case FieldLayout.formatANS: return "ans (printable ASCII)"
        case FieldLayout.formatZ: return "z (track 2: digits, '=', 'D')"
        case FieldLayout.formatB: return "b (uppercase hex)"
        case FieldLayout.formatXN: return "x+n ('C' or 'D', then digits)"
        default: return "undefined"
        }
    }
}
