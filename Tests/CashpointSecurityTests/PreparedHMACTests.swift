import CashpointSecurity
import Crypto
import Foundation
import Testing

@Suite("HMAC-SHA-256 with the key prepared once")
struct PreparedHMACTests {
    /// Keys shorter than, as long as and longer than SHA-256's 64-byte block (a longer key is hashed
    /// first), and messages from empty to several blocks, in one part and in several.
    @Test("the same codes as swift-crypto's HMAC<SHA256>, whole or in parts", arguments: [0, 1, 32, 63, 64, 65, 100, 200])
    func sameCodes(keyLength: Int) {
        var generator = SystemRandomNumberGenerator()
        let key = SymmetricKey(data: (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let prepared = PreparedHMAC.Key(key)
        for messageLength in [0, 1, 55, 56, 63, 64, 65, 127, 128, 300, 1_000] {
            let message = (0..<messageLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let expected = Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
            let whole = message.withUnsafeBytes { Array(PreparedHMAC.code(for: $0, using: prepared)) }
            #expect(whole == expected, "key \(keyLength) bytes, message \(messageLength)")
            var parts = PreparedHMAC(key: prepared)
            let cut = messageLength / 3
            message.withUnsafeBytes { bytes in
                parts.update(UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
                parts.update(UnsafeRawBufferPointer(rebasing: bytes[cut...]))
            }
            #expect(Array(parts.finalize()) == expected)
            // A prepared key serves any number of codes: the first one left it as it was.
            let again = message.withUnsafeBytes { Array(PreparedHMAC.code(for: $0, using: prepared)) }
            #expect(again == expected)
        }
    }

    @Test("RFC 4231 test case 2: key \"Jefe\"")
    func rfc4231() {
        let prepared = PreparedHMAC.Key(SymmetricKey(data: Array("Jefe".utf8)))
        let code = Array("what do ya want for nothing?".utf8).withUnsafeBytes { PreparedHMAC.code(for: $0, using: prepared) }
        #expect(code.map { String(format: "%02x", $0) }.joined()
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("a code is valid only for its message, whole and of the right length")
    func validity() {
        let prepared = PreparedHMAC.Key(SymmetricKey(size: .bits256))
        let message = Array("header.payload".utf8)
        let code = message.withUnsafeBytes { Array(PreparedHMAC.code(for: $0, using: prepared)) }
        message.withUnsafeBytes { bytes in
            #expect(PreparedHMAC.isValid(code, authenticating: bytes, using: prepared))
            var flipped = code
            flipped[31] ^= 1
            #expect(!PreparedHMAC.isValid(flipped, authenticating: bytes, using: prepared))
            #expect(!PreparedHMAC.isValid(Array(code.dropLast()), authenticating: bytes, using: prepared))
            #expect(!PreparedHMAC.isValid(code + [0], authenticating: bytes, using: prepared))
            #expect(!PreparedHMAC.isValid([UInt8](), authenticating: bytes, using: prepared))
        }
        let other = Array("header.payloaD".utf8)
        other.withUnsafeBytes { #expect(!PreparedHMAC.isValid(code, authenticating: $0, using: prepared)) }
    }
}
