public import Crypto
import CryptoExtras

/// ISO 9564-1 format 4 PIN blocks (AES, 16 bytes), as field 52 carries them.
///
/// - The plain-text PIN field: nibble 0 is the control value 4, nibble 1 the PIN length (4-12), then the
///   PIN digits, then fill nibbles 0xA up to nibble 15; bytes 8-15 are random.
/// - The PAN field: nibble 0 is M (the PAN length minus 12, 0-7), then the PAN's digits (a PAN shorter
///   than 12 digits is zero-filled on the left to 12), then zero nibbles.
/// - Enciphering: A = AES(K, PIN field); B = A xor PAN field; block = AES(K, B). Deciphering reverses it.
///
/// The clear PIN exists only in the caller's hands; neither it nor the block is ever logged.
public enum PINBlock {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "PIN block: \(self.reason)" }
    }

    /// Enciphers a PIN for a PAN under the PIN key.
    public static func encipher(
        pin: String,
        pan: String,
        key: SymmetricKey,
        using generator: inout some RandomNumberGenerator
    ) throws(Error) -> [UInt8] {
        let digits = Array(pin.utf8)
        guard (4...12).contains(digits.count), digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw Error(reason: "a PIN is 4 to 12 digits")
        }
        var nibbles = [UInt8](repeating: 0xA, count: 16)
        nibbles[0] = 4
        nibbles[1] = UInt8(digits.count)
        for (index, digit) in digits.enumerated() { nibbles[2 + index] = digit - 0x30 }
        var field = [UInt8](repeating: 0, count: 16)
        for index in 0..<8 { field[index] = nibbles[2 * index] << 4 | nibbles[2 * index + 1] }
        for index in 8..<16 { field[index] = UInt8.random(in: 0...255, using: &generator) }
        let panField = try panField(pan)
        do {
            try AES.permute(&field, key: key)
            for index in 0..<16 { field[index] ^= panField[index] }
            try AES.permute(&field, key: key)
        } catch {
            throw Error(reason: "the PIN key is not an AES key")
        }
        return field
    }

    /// Deciphers a block for a PAN under the PIN key and returns the PIN. A block that does not decode
    /// to a well-formed format 4 PIN field (wrong key, wrong PAN, tampering) is an error.
    public static func decipher(_ block: [UInt8], pan: String, key: SymmetricKey) throws(Error) -> String {
        guard block.count == 16 else { throw Error(reason: "a format 4 PIN block is 16 bytes, got \(block.count)") }
        let panField = try panField(pan)
        var field = block
        do {
            try AES.inversePermute(&field, key: key)
            for index in 0..<16 { field[index] ^= panField[index] }
            try AES.inversePermute(&field, key: key)
        } catch {
            throw Error(reason: "the PIN key is not an AES key")
        }
        var nibbles: [UInt8] = []
        for byte in field[0..<8] {
            nibbles.append(byte >> 4)
            nibbles.append(byte & 0x0F)
        }
        let length = Int(nibbles[1])
        guard nibbles[0] == 4, (4...12).contains(length) else {
            throw Error(reason: "the block is not a format 4 PIN block for this PAN and key")
        }
        var pin = ""
        for index in 0..<length {
            guard nibbles[2 + index] <= 9 else { throw Error(reason: "the PIN field holds a non-digit") }
            pin.append(Character(Unicode.Scalar(nibbles[2 + index] + 0x30)))
        }
        guard nibbles[(2 + length)...].allSatisfy({ $0 == 0xA }) else {
            throw Error(reason: "the PIN field's fill is not 0xA")
        }
        return pin
    }

    static func panField(_ pan: String) throws(Error) -> [UInt8] {
        var digits = Array(pan.utf8)
        guard (1...19).contains(digits.count), digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw Error(reason: "a PAN is 1 to 19 digits")
        }
        if digits.count < 12 {
            digits.insert(contentsOf: repeatElement(UInt8(ascii: "0"), count: 12 - digits.count), at: 0)
        }
        var nibbles = [UInt8](repeating: 0, count: 32)
        nibbles[0] = UInt8(digits.count - 12)
        for (index, digit) in digits.enumerated() { nibbles[1 + index] = digit - 0x30 }
        var field = [UInt8](repeating: 0, count: 16)
        for index in 0..<16 { field[index] = nibbles[2 * index] << 4 | nibbles[2 * index + 1] }
        return field
    }
}

/// The MAC of an ATM-87 message: AES-CMAC under the session MAC key, truncated to its first 8 bytes.
public enum MessageMAC {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "MAC: \(self.reason)" }
    }

    public static let length = 8

    /// The 8-byte MAC of `bytes`.
    public static func compute(over bytes: some Collection<UInt8>, key: SymmetricKey) throws(Error) -> [UInt8] {
        do {
            var cmac = try AES.CMAC(key: key)
            // The bytes where they are (a message's encoding, less its MAC): no copy, and no generic
            // `DataProtocol` path.
            let contiguous: Void? = bytes.withContiguousStorageIfAvailable { buffer in
                cmac.update(bufferPointer: UnsafeRawBufferPointer(buffer))
            }
            if contiguous == nil { cmac.update(data: Array(bytes)) }
            return cmac.finalize().withUnsafeBytes { Array($0.prefix(Self.length)) }
        } catch {
            throw Error(reason: "the MAC key is not an AES key")
        }
    }

    /// Whether `mac` is the MAC of `bytes`, compared in constant time.
    public static func verify(_ mac: [UInt8], over bytes: some Collection<UInt8>, key: SymmetricKey) -> Bool {
        guard mac.count == Self.length, let expected = try? compute(over: bytes, key: key) else { return false }
        return Bcrypt.constantTimeEqual(mac, expected)
    }
}

/// Session keys travel wrapped under the terminal's master key with AES key wrap (RFC 3394).
public enum KeyWrapping {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "key wrap: \(self.reason)" }
    }

    public static func wrap(_ key: SymmetricKey, under master: SymmetricKey) throws(Error) -> [UInt8] {
        do {
            return Array(try AES.KeyWrap.wrap(key, using: master))
        } catch {
            throw Error(reason: "cannot wrap: \(error)")
        }
    }

    /// Unwraps a key; a wrapped key altered in transit, or wrapped under another master key, fails.
    public static func unwrap(_ wrapped: [UInt8], under master: SymmetricKey) throws(Error) -> SymmetricKey {
        do {
            return try AES.KeyWrap.unwrap(wrapped, using: master)
        } catch {
            throw Error(reason: "the wrapped key does not unwrap under this master key")
        }
    }
}
