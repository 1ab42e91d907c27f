import CashpointSecurity
import Crypto
import Testing

/// Always the same bytes, so a PIN block's random half is known and the block can be compared.
struct FixedGenerator: RandomNumberGenerator {
    var value: UInt64 = 0x1111_1111_1111_1111
    mutating func next() -> UInt64 { self.value }
}

func hexBytes(_ text: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = text.startIndex
    while index < text.endIndex {
        let next = text.index(index, offsetBy: 2)
        bytes.append(UInt8(text[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

@Suite("ISO 9564 format 4 PIN blocks, MACs, key wrapping")
struct PINBlockTests {
    let key = SymmetricKey(data: [UInt8](0..<16))

    @Test("a known block: computed independently with Python's cryptography package")
    func knownAnswer() throws {
        var generator = FixedGenerator()
        let block = try PINBlock.encipher(pin: "1234", pan: "4761739001010119", key: self.key, using: &generator)
        #expect(block == hexBytes("869F8F21BD52A6F7AA1AE5900DE927D1"))
        #expect(try PINBlock.decipher(block, pan: "4761739001010119", key: self.key) == "1234")
    }

    @Test("known answer with an AES-256 key, as the session PIN keys are (computed independently in Python)")
    func knownAnswer256() throws {
        var generator = FixedGenerator()
        let key = SymmetricKey(data: (0..<32).map { UInt8($0) })
        let block = try PINBlock.encipher(pin: "1234", pan: "4761739001010119", key: key, using: &generator)
        #expect(block == hexBytes("1393C98B43ED25CB29513C798961DC40"))
        #expect(try PINBlock.decipher(block, pan: "4761739001010119", key: key) == "1234")
    }

    @Test("round trip for every PIN length and PAN lengths 12-19", arguments: 4...12)
    func roundTrip(length: Int) throws {
        var generator = SystemRandomNumberGenerator()
        let pin = String((0..<length).map { _ in Character(String(Int.random(in: 0...9))) })
        for panLength in 12...19 {
            let pan = String((0..<panLength).map { _ in Character(String(Int.random(in: 0...9))) })
            let block = try PINBlock.encipher(pin: pin, pan: pan, key: self.key, using: &generator)
            #expect(try PINBlock.decipher(block, pan: pan, key: self.key) == pin)
        }
    }

    @Test("the same PIN gives a different block each time: half the field is random")
    func randomised() throws {
        var generator = SystemRandomNumberGenerator()
        let first = try PINBlock.encipher(pin: "1234", pan: "4761739001010119", key: self.key, using: &generator)
        let second = try PINBlock.encipher(pin: "1234", pan: "4761739001010119", key: self.key, using: &generator)
        #expect(first != second)
    }

    @Test("another PAN, another key or a changed block does not give the PIN back")
    func boundToPANAndKey() throws {
        var generator = FixedGenerator()
        let block = try PINBlock.encipher(pin: "1234", pan: "4761739001010119", key: self.key, using: &generator)
        let otherKey = SymmetricKey(data: [UInt8](repeating: 9, count: 16))
        #expect(throws: PINBlock.Error.self) { try PINBlock.decipher(block, pan: "4761739001010118", key: self.key) }
        #expect(throws: PINBlock.Error.self) { try PINBlock.decipher(block, pan: "4761739001010119", key: otherKey) }
        var changed = block
        changed[3] ^= 0x01
        #expect(throws: PINBlock.Error.self) { try PINBlock.decipher(changed, pan: "4761739001010119", key: self.key) }
        #expect(throws: PINBlock.Error.self) {
            try PINBlock.decipher(Array(block.prefix(8)), pan: "4761739001010119", key: self.key)
        }
    }

    @Test(
        "bad PINs and PANs are refused",
        arguments: [
            ("123", "4761739001010119"), ("12a4", "4761739001010119"), ("1234", "47617390010101190000"),
            ("1234", "4761-7390"),
        ]
    )
    func refused(pin: String, pan: String) {
        var generator = SystemRandomNumberGenerator()
        #expect(throws: PINBlock.Error.self) {
            try PINBlock.encipher(pin: pin, pan: pan, key: self.key, using: &generator)
        }
    }

    @Test("AES-CMAC: the RFC 4493 vectors, truncated to 8 bytes")
    func cmac() throws {
        let key = SymmetricKey(data: hexBytes("2B7E151628AED2A6ABF7158809CF4F3C"))
        #expect(try MessageMAC.compute(over: [], key: key) == hexBytes("BB1D6929E9593728"))
        let message = hexBytes("6BC1BEE22E409F96E93D7E117393172A")
        let mac = try MessageMAC.compute(over: message, key: key)
        #expect(mac == hexBytes("070A16B46B4D4144"))
        // The same from a slice (contiguous, read in place) and from a collection that is not contiguous.
        #expect(try MessageMAC.compute(over: (message + [0, 0])[..<16], key: key) == mac)
        #expect(try MessageMAC.compute(over: message.lazy.map { $0 }, key: key) == mac)
        #expect(MessageMAC.verify(mac, over: message, key: key))
        var changed = message
        changed[0] ^= 1
        #expect(!MessageMAC.verify(mac, over: changed, key: key))
        #expect(!MessageMAC.verify(Array(mac.prefix(7)), over: message, key: key))
    }

    @Test("AES key wrap: the RFC 3394 vector; a wrong master key or a changed byte fails")
    func keyWrap() throws {
        let master = SymmetricKey(data: hexBytes("000102030405060708090A0B0C0D0E0F"))
        let session = SymmetricKey(data: hexBytes("00112233445566778899AABBCCDDEEFF"))
        let wrapped = try KeyWrapping.wrap(session, under: master)
        #expect(wrapped == hexBytes("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"))
        let unwrapped = try KeyWrapping.unwrap(wrapped, under: master)
        #expect(unwrapped.withUnsafeBytes { Array($0) } == hexBytes("00112233445566778899AABBCCDDEEFF"))
        #expect(throws: KeyWrapping.Error.self) { try KeyWrapping.unwrap(wrapped, under: SymmetricKey(size: .bits128)) }
        var changed = wrapped
        changed[10] ^= 1
        #expect(throws: KeyWrapping.Error.self) { try KeyWrapping.unwrap(changed, under: master) }
    }
}
