public import NIOCore

extension ATM87Message {
    // MARK: Decoding

    /// Decodes one message (the bytes after the 2-byte length prefix).
    ///
    /// The message keeps a slice of `buffer`; nothing is copied. Every byte is accounted for: a field the
    /// spec does not define, a bad length, a character the format forbids, a message that ends early or
    /// bytes left over after the last field are each an ``ATM87Error`` naming the field and byte offset.
    public init(decoding buffer: ByteBuffer) throws(ATM87Error) {
        self.init(mti: MTI(rawValue: 0))
        self.storage = buffer
        let failure: ATM87Error? = buffer.withUnsafeReadableBytes { raw in
            Self.parse(raw, into: &self)
        }
        if let failure { throw failure }
    }

    /// Decodes one message from its bytes (after the length prefix).
    public init(decoding bytes: some Sequence<UInt8>) throws(ATM87Error) {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        try self.init(decoding: buffer)
    }

    /// The whole decoder over raw bytes: fills `message`'s MTI, bitmaps and field positions, or returns
    /// the first error.
    @usableFromInline
    static func parse(_ raw: UnsafeRawBufferPointer, into message: inout ATM87Message) -> ATM87Error? {
        let count = raw.count
        if count > ATM87Spec.maxMessageLength {
            return ATM87Error(
                code: .messageTooLong,
                offset: 0,
                detail: "message is \(count) bytes; at most \(ATM87Spec.maxMessageLength) are allowed"
            )
        }
        // MTI: four digits.
        guard count >= 4 else {
            return ATM87Error(
                code: .truncated,
                offset: count,
                detail: "message ends inside the MTI (\(count) of 4 bytes)"
            )
        }
        var mtiValue: UInt16 = 0
        for index in 0..<4 {
            let digit = raw[index] &- 0x30
            guard digit < 10 else {
                return ATM87Error(code: .invalidMTI, offset: index, detail: "MTI byte \(index + 1) is not a digit")
            }
            mtiValue = mtiValue &* 10 &+ UInt16(digit)
        }
        let mti = MTI(rawValue: mtiValue)
        message.mti = mti
        var position = 4

        // Bitmaps: 16 uppercase hex characters each.
        guard let primary = readBitmap(raw, at: position) else {
            return bitmapError(raw, at: position, which: "primary", mti: mti)
        }
        position += 16
        var secondary: UInt64 = 0
        if primary & (UInt64(1) << 63) != 0 {
            guard let value = readBitmap(raw, at: position) else {
                return bitmapError(raw, at: position, which: "secondary", mti: mti)
            }
            guard value != 0 else {
                return ATM87Error(
                    code: .invalidBitmap,
                    offset: position,
                    detail: "secondary bitmap is announced but names no field",
                    mti: mti
                )
            }
            secondary = value
            position += 16
        }
        message.primaryBits = primary & ~(UInt64(1) << 63)
        message.secondaryBits = secondary

        // The STAN is read only if an error needs it, so the error can be answered with 30.
        var stanStart = -1
        func failure(_ code: ATM87Error.Code, _ field: Int, _ offset: Int, _ detail: String) -> ATM87Error {
            let stan =
                stanStart < 0
                ? nil
                : String(decoding: UnsafeRawBufferPointer(rebasing: raw[stanStart..<(stanStart + 6)]), as: UTF8.self)
            return ATM87Error(code: code, field: field, offset: offset, detail: detail, mti: mti, stan: stan)
        }

        // Fields, ascending.
        return ATM87Spec.layouts.withUnsafeBufferPointer { table -> ATM87Error? in
            for half in 0..<2 {
                var bits = half == 0 ? primary & ~(UInt64(1) << 63) : secondary
                while bits != 0 {
                    let zeros = bits.leadingZeroBitCount
                    bits &= ~(UInt64(1) << UInt64(63 - zeros))
                    let field = half &* 64 &+ zeros &+ 1
                    let layout = table[field]
                    guard layout.isDefined else {
                        return failure(
                            .fieldNotInSpec,
                            field,
                            position,
                            "the bitmap names field \(field), which the ATM-87 spec does not define"
                        )
                    }
                    var length = Int(layout.wireLength)
                    let digits = Int(layout.lengthDigits)
                    if digits > 0 {
                        guard position + digits <= count else {
                            return failure(
                                .truncated,
                                field,
                                position,
                                "message ends inside the \(digits)-digit length of field \(field)"
                            )
                        }
                        var declared = 0
                        for index in position..<(position + digits) {
                            let digit = raw[index] &- 0x30
                            guard digit < 10 else {
                                return failure(
                                    .invalidLengthDigits,
                                    field,
                                    index,
                                    "the length of field \(field) is not \(digits) ASCII digits"
                                )
                            }
                            declared = declared &* 10 &+ Int(digit)
                        }
                        guard declared <= length else {
                            return failure(
                                .lengthOutOfRange,
                                field,
                                position,
                                "field \(field) declares \(declared) characters; at most \(length) are allowed"
                            )
                        }
                        if layout.format == FieldLayout.formatB && declared % 2 != 0 {
                            return failure(
                                .lengthOutOfRange,
                                field,
                                position,
                                "binary field \(field) declares an odd number of hex characters"
                            )
                        }
                        length = declared
                        position += digits
                    }
                    guard position + length <= count else {
                        return failure(
                            .truncated,
                            field,
                            position,
                            "field \(field) needs \(length) characters; only \(count - position) remain"
                        )
                    }
                    let content = UnsafeRawBufferPointer(rebasing: raw[position..<(position + length)])
                    if let bad = Validation.firstInvalid(content, format: layout.format) {
                        return failure(
                            .invalidCharacter,
                            field,
                            position + bad,
                            "byte 0x\(String(content[bad], radix: 16, uppercase: true)) is not allowed "
                                + "by format \(Validation.formatName(layout.format))"
                        )
                    }
                    message.offsets[field] = UInt32(truncatingIfNeeded: position)
                    message.lengths[field] = UInt16(truncatingIfNeeded: length)
                    message.fieldBytes &+= digits &+ length
                    if field == 11 { stanStart = position }
                    position += length
                }
            }
            if position != count {
                var error = failure(
                    .leftoverBytes,
                    0,
                    position,
                    "\(count - position) bytes follow the last field the bitmap names"
                )
                error.field = nil
                return error
            }
            return nil
        }
    }

    @inlinable
    static func readBitmap(_ raw: UnsafeRawBufferPointer, at position: Int) -> UInt64? {
        guard position + 16 <= raw.count else { return nil }
        var value: UInt64 = 0
        for index in position..<(position + 16) {
            let byte = raw[index]
            let nibble: UInt8
            if byte &- 0x30 < 10 {
                nibble = byte &- 0x30
            } else if byte &- 0x41 < 6 {
                nibble = byte &- 0x37
            } else {
                return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    static func bitmapError(_ raw: UnsafeRawBufferPointer, at position: Int, which: String, mti: MTI) -> ATM87Error {
        if position + 16 > raw.count {
            return ATM87Error(
                code: .truncated,
                offset: position,
                detail: "message ends inside the \(which) bitmap (\(raw.count - position) of 16 characters)",
                mti: mti
            )
        }
        var bad = position
        while bad < position + 16 {
            let byte = raw[bad]
            if !(byte &- 0x30 < 10 || byte &- 0x41 < 6) { break }
            bad += 1
        }
        return ATM87Error(
            code: .invalidBitmap,
            offset: bad,
            detail: "the \(which) bitmap is not 16 uppercase hex characters",
            mti: mti
        )
    }

    // MARK: Encoding

    /// The number of bytes `encode(into:)` writes (without the length prefix).
    public var encodedLength: Int {
        (self.secondaryBits != 0 ? 36 : 20) + self.fieldBytes
    }

    @inlinable
    func forEachField(_ body: (Int) -> Void) {
        var bits = self.primaryBits
        while bits != 0 {
            let zeros = bits.leadingZeroBitCount
            bits &= ~(UInt64(1) << UInt64(63 - zeros))
            body(zeros + 1)
        }
        bits = self.secondaryBits
        while bits != 0 {
            let zeros = bits.leadingZeroBitCount
            bits &= ~(UInt64(1) << UInt64(63 - zeros))
            body(zeros + 65)
        }
    }

    /// Writes the message (MTI, bitmaps, fields; no length prefix) at the buffer's writer index.
    public func encode(into buffer: inout ByteBuffer) {
        let layouts = ATM87Spec.layouts
        let hasSecondary = self.secondaryBits != 0
        let total = (hasSecondary ? 36 : 20) + self.fieldBytes
        let primary = self.primaryBits | (hasSecondary ? UInt64(1) << 63 : 0)
        let mti = self.mti.rawValue
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: total) { out in
            self.storage.withUnsafeReadableBytes { source in
                layouts.withUnsafeBufferPointer { table in
                    out[0] = UInt8(truncatingIfNeeded: mti / 1000 % 10) &+ 0x30
                    out[1] = UInt8(truncatingIfNeeded: mti / 100 % 10) &+ 0x30
                    out[2] = UInt8(truncatingIfNeeded: mti / 10 % 10) &+ 0x30
                    out[3] = UInt8(truncatingIfNeeded: mti % 10) &+ 0x30
                    Self.writeBitmap(primary, to: out, at: 4)
                    var position = 20
                    if hasSecondary {
                        Self.writeBitmap(self.secondaryBits, to: out, at: 20)
                        position = 36
                    }
                    self.forEachField { field in
                        let length = Int(self.lengths[field])
                        switch table[field].lengthDigits {
                        case 2:
                            out[position] = UInt8(truncatingIfNeeded: length / 10) &+ 0x30
                            out[position + 1] = UInt8(truncatingIfNeeded: length % 10) &+ 0x30
                            position += 2
                        case 3:
                            out[position] = UInt8(truncatingIfNeeded: length / 100) &+ 0x30
                            out[position + 1] = UInt8(truncatingIfNeeded: length / 10 % 10) &+ 0x30
                            out[position + 2] = UInt8(truncatingIfNeeded: length % 10) &+ 0x30
                            position += 3
                        default:
                            break
                        }
                        let offset = Int(self.offsets[field])
                        UnsafeMutableRawBufferPointer(rebasing: out[position..<(position + length)])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: source[offset..<(offset + length)]))
                        position += length
                    }
                }
            }
            return total
        }
    }

    /// The encoded message (without the length prefix) in a new buffer.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: self.encodedLength)
        self.encode(into: &buffer)
        return buffer
    }

    /// The encoded message with its 2-byte big-endian length prefix: one whole frame.
    public func framed(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: self.encodedLength + 2)
        buffer.writeInteger(UInt16(0))
        self.encode(into: &buffer)
        buffer.setInteger(UInt16(truncatingIfNeeded: buffer.readableBytes - 2), at: buffer.readerIndex)
        return buffer
    }

    /// The encoded message (without the length prefix) as bytes.
    public var encodedBytes: [UInt8] { Array(self.encoded().readableBytesView) }

    /// The whole frame (length prefix and message) as bytes.
    public var framedBytes: [UInt8] { Array(self.framed().readableBytesView) }

    @inlinable
    static func writeBitmap(_ value: UInt64, to out: UnsafeMutableRawBufferPointer, at position: Int) {
        var shift: UInt64 = 60
        for index in position..<(position + 16) {
            out[index] = Hex.digit(UInt8(truncatingIfNeeded: (value >> shift) & 0x0F))
            shift &-= 4
        }
    }
}
