import Foundation
import JWTKit

/// Reads a session token's claims object: exactly the JSON `SessionTokens` writes (JSONEncoder's
/// output for `SessionClaims`), without `JSONDecoder`, which was 5% of the switch's CPU per request.
///
/// A pure function of the bytes. Strict: the object holds `sub`, `exp`, `iat`, `jti`, `tid`, `role`,
/// `uid` and, when present, `cid`, `pan`, `acc`, `fa`, in any order, each once, with JSON's
/// whitespace between tokens. `exp` and `iat` are numbers (integer, decimal or exponent) of seconds
/// since 2001-01-01, as JSONEncoder writes a `Date`; `uid`, `cid` and `fa` are integers; `acc` is an
/// array of strings; strings may carry any JSON escape and raw UTF-8. An unknown key, a key twice, a
/// missing claim, a `null`, a wrong type, a number out of range, invalid UTF-8, a lone surrogate or
/// anything after the object makes it nil (the token is refused as malformed), never a crash.
enum SessionClaimsReader {
    static func claims(_ json: [UInt8]) -> SessionClaims? {
        json.withUnsafeBufferPointer { bytes in
            var reader = Cursor(bytes: bytes)
            return reader.claims()
        }
    }

    /// The claims' keys, each a bit in the set of keys seen.
    enum Key: UInt16 {
        case sub = 1, exp = 2, iat = 4, jti = 8, tid = 16, role = 32, uid = 64, cid = 128, pan = 256
        case acc = 512, fa = 1024

        /// The key spelled by `name`'s UTF-8, nil for any other.
        init?(_ name: some Collection<UInt8>) {
            // Every key is 2 to 4 ASCII letters: packed with its length into one integer, compared once.
            guard (2...4).contains(name.count) else { return nil }
            var packed = UInt64(name.count)
            for byte in name { packed = packed << 8 | UInt64(byte) }
            switch packed {
            case Self.packed("sub"): self = .sub
            case Self.packed("exp"): self = .exp
            case Self.packed("iat"): self = .iat
            case Self.packed("jti"): self = .jti
            case Self.packed("tid"): self = .tid
            case Self.packed("role"): self = .role
            case Self.packed("uid"): self = .uid
            case Self.packed("cid"): self = .cid
            case Self.packed("pan"): self = .pan
            case Self.packed("acc"): self = .acc
            case Self.packed("fa"): self = .fa
            default: return nil
            }
        }

        static func packed(_ name: StaticString) -> UInt64 {
            var packed = UInt64(name.utf8CodeUnitCount)
            for index in 0..<name.utf8CodeUnitCount { packed = packed << 8 | UInt64(name.utf8Start[index]) }
            return packed
        }

    }

    struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func claims() -> SessionClaims? {
            var sub: String?, jti: String?, tid: String?, role: String?, pan: String?
            var exp: Double?, iat: Double?
            var uid: Int64?, cid: Int64?, fa: Int64?
            var acc: [String]?
            var seen: UInt16 = 0  // the keys read, to refuse one twice
            guard self.take(UInt8(ascii: "{")) else { return nil }
            if !self.take(UInt8(ascii: "}")) {
                repeat {
                    guard let key = self.key(), seen & key.rawValue == 0, self.take(UInt8(ascii: ":")) else {
                        return nil
                    }
                    seen |= key.rawValue
                    let read: Bool
                    switch key {
                    case .sub:
                        sub = self.string()
                        read = sub != nil
                    case .jti:
                        jti = self.string()
                        read = jti != nil
                    case .tid:
                        tid = self.string()
                        read = tid != nil
                    case .role:
                        role = self.string()
                        read = role != nil
                    case .pan:
                        pan = self.string()
                        read = pan != nil
                    case .exp:
                        exp = self.double()
                        read = exp != nil
                    case .iat:
                        iat = self.double()
                        read = iat != nil
                    case .uid:
                        uid = self.integer()
                        read = uid != nil
                    case .cid:
                        cid = self.integer()
                        read = cid != nil
                    case .fa:
                        fa = self.integer()
                        read = fa != nil
                    case .acc:
                        acc = self.strings()
                        read = acc != nil
                    }
                    // A value that does not read refuses the whole object.
                    guard read else { return nil }
                } while self.take(UInt8(ascii: ","))
                guard self.take(UInt8(ascii: "}")) else { return nil }
            }
            self.skipSpace()
            guard self.index == self.bytes.count, let sub, let exp, let iat, let jti, let tid, let role, let uid
            else { return nil }
            return SessionClaims(
                sub: SubjectClaim(value: sub),
                exp: ExpirationClaim(value: Date(timeIntervalSinceReferenceDate: exp)),
                iat: IssuedAtClaim(value: Date(timeIntervalSinceReferenceDate: iat)),
                jti: IDClaim(value: jti),
                tid: tid,
                role: role,
                uid: uid,
                cid: cid,
                pan: pan,
                acc: acc,
                fa: fa
            )
        }

        // MARK: Tokens

        mutating func skipSpace() {
            while self.index < self.bytes.count {
                switch self.bytes[self.index] {
                case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
                default: return
                }
            }
        }

        /// Skips whitespace, then takes `byte` if it is next.
        mutating func take(_ byte: UInt8) -> Bool {
            self.skipSpace()
            guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
            self.index += 1
            return true
        }

        mutating func key() -> Key? {
            guard let (range, escaped) = self.rawString() else { return nil }
            if !escaped { return Key(self.bytes[range]) }
            return self.unescaped(range).flatMap { Key($0) }
        }

        mutating func string() -> String? {
            guard let (range, escaped) = self.rawString() else { return nil }
            if !escaped { return String(validating: self.bytes[range], as: UTF8.self) }
            return self.unescaped(range).flatMap { String(validating: $0, as: UTF8.self) }
        }

        mutating func strings() -> [String]? {
            guard self.take(UInt8(ascii: "[")) else { return nil }
            var strings = [String]()
            if self.take(UInt8(ascii: "]")) { return strings }
            repeat {
                guard let string = self.string() else { return nil }
                strings.append(string)
            } while self.take(UInt8(ascii: ","))
            return self.take(UInt8(ascii: "]")) ? strings : nil
        }

        /// A string's contents between its quotes, and whether it holds an escape. Escapes are checked
        /// here (a known letter, four hex digits after `\u`); raw control characters are refused.
        mutating func rawString() -> (Range<Int>, escaped: Bool)? {
            guard self.take(UInt8(ascii: "\"")) else { return nil }
            let start = self.index
            var escaped = false
            while self.index < self.bytes.count {
                let byte = self.bytes[self.index]
                switch byte {
                case UInt8(ascii: "\""):
                    self.index += 1
                    return (start..<self.index - 1, escaped)
                case UInt8(ascii: "\\"):
                    escaped = true
                    guard self.index + 1 < self.bytes.count else { return nil }
                    switch self.bytes[self.index + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                        UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        self.index += 2
                    case UInt8(ascii: "u"):
                        guard self.hex4(at: self.index + 2) != nil else { return nil }
                        self.index += 6
                    default: return nil
                    }
                case 0x00..<0x20: return nil
                default: self.index += 1
                }
            }
            return nil
        }

        /// The value of four hex digits at `position`.
        func hex4(at position: Int) -> UInt16? {
            guard position + 4 <= self.bytes.count else { return nil }
            var value: UInt16 = 0
            for byte in self.bytes[position..<position + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                value = value << 4 | UInt16(digit)
            }
            return value
        }

        /// A string's UTF-8 with its escapes replaced (already checked by `rawString`); nil for a lone
        /// surrogate.
        func unescaped(_ range: Range<Int>) -> [UInt8]? {
            var text = [UInt8]()
            text.reserveCapacity(range.count)
            var position = range.lowerBound
            while position < range.upperBound {
                let byte = self.bytes[position]
                guard byte == UInt8(ascii: "\\") else {
                    text.append(byte)
                    position += 1
                    continue
                }
                let letter = self.bytes[position + 1]
                position += 2
                switch letter {
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"):
                    guard let unit = self.hex4(at: position) else { return nil }
                    position += 4
                    var value = UInt32(unit)
                    switch unit {
                    case 0xD800...0xDBFF:
                        // A high surrogate: a low one must follow, as its own escape.
                        guard position + 6 <= range.upperBound, self.bytes[position] == UInt8(ascii: "\\"),
                            self.bytes[position + 1] == UInt8(ascii: "u"),
                            let low = self.hex4(at: position + 2), (0xDC00...0xDFFF).contains(low)
                        else { return nil }
                        position += 6
                        value = 0x10000 + (UInt32(unit - 0xD800) << 10) + UInt32(low - 0xDC00)
                    case 0xDC00...0xDFFF: return nil
                    default: break
                    }
                    guard let scalar = Unicode.Scalar(value) else { return nil }
                    UTF8.encode(scalar) { text.append($0) }
                default: text.append(letter)  // " \ /
                }
            }
            return text
        }

        /// A JSON number's text: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and whether it
        /// is an integer (no fraction, no exponent).
        mutating func number() -> (Range<Int>, integer: Bool)? {
            self.skipSpace()
            let start = self.index
            _ = self.takeRaw(UInt8(ascii: "-"))
            if !self.takeRaw(UInt8(ascii: "0")) {
                guard self.digits() > 0 else { return nil }
            }
            var integer = true
            if self.takeRaw(UInt8(ascii: ".")) {
                guard self.digits() > 0 else { return nil }
                integer = false
            }
            if self.takeRaw(UInt8(ascii: "e")) || self.takeRaw(UInt8(ascii: "E")) {
                if !self.takeRaw(UInt8(ascii: "+")) { _ = self.takeRaw(UInt8(ascii: "-")) }
                guard self.digits() > 0 else { return nil }
                integer = false
            }
            return (start..<self.index, integer)
        }

        mutating func takeRaw(_ byte: UInt8) -> Bool {
            guard self.index < self.bytes.count, self.bytes[self.index] == byte else { return false }
            self.index += 1
            return true
        }

        /// Takes decimal digits; how many.
        mutating func digits() -> Int {
            let start = self.index
            while self.index < self.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self.bytes[self.index]) {
                self.index += 1
            }
            return self.index - start
        }

        /// An integer claim: no fraction, no exponent, within Int64.
        mutating func integer() -> Int64? {
            guard let (range, integer) = self.number(), integer else { return nil }
            let negative = self.bytes[range.lowerBound] == UInt8(ascii: "-")
            var value: Int64 = 0
            for byte in self.bytes[(negative ? range.lowerBound + 1 : range.lowerBound)..<range.upperBound] {
                let digit = Int64(byte - UInt8(ascii: "0"))
                let (shifted, overflowA) = value.multipliedReportingOverflow(by: 10)
                let (next, overflowB) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
                guard !overflowA, !overflowB else { return nil }
                value = next
            }
            return value
        }

        /// A date claim's seconds: any JSON number, converted as `Double(_:)` does (correctly
        /// rounded), finite.
        mutating func double() -> Double? {
            guard let (range, _) = self.number() else { return nil }
            // A date's text is short (JSONEncoder writes at most 17 significant digits, an exponent
            // and a sign), so this String is stored inline: no allocation.
            guard let value = Double(String(decoding: self.bytes[range], as: UTF8.self)), value.isFinite
            else { return nil }
            return value
        }
    }
}
