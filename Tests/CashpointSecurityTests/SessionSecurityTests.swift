import ATM87
import CashpointSecurity
import Crypto
import Foundation
import Testing

@Suite("Session keys, key material, message MACs, password blocks, the switch key")
struct SessionSecurityTests {
    let master = SymmetricKey(size: .bits256)

    @Test("field 120 round trip under the master key; another master key or a changed byte fails")
    func keyMaterial() throws {
        let keys = SessionKeys.generate()
        let material = try KeyMaterial.encode(keys, under: self.master)
        #expect(material.utf8.count == 190)
        #expect(material.hasPrefix("V1;PIN="))
        let back = try KeyMaterial.decode(material, under: self.master)
        #expect(KeyCheckValue.of(back.pin) == KeyCheckValue.of(keys.pin))
        #expect(KeyCheckValue.of(back.mac) == KeyCheckValue.of(keys.mac))
        #expect(throws: KeyMaterial.Error.self) {
            try KeyMaterial.decode(material, under: SymmetricKey(size: .bits256))
        }
        var altered = Array(material.utf8)
        altered[10] = altered[10] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(throws: KeyMaterial.Error.self) {
            try KeyMaterial.decode(String(decoding: altered, as: UTF8.self), under: self.master)
        }
        #expect(throws: KeyMaterial.Error.self) { try KeyMaterial.decode("V2;PIN=;MAC=;KCV=", under: self.master) }
    }

    @Test("key check value: AES-CMAC of a zero block, first 3 bytes (known answer)")
    func checkValue() throws {
        // RFC 4493's key; AES-CMAC(K, 16 zero bytes) is not in the RFC, so the value here was computed
        // independently with Python's cryptography package (CMAC(algorithms.AES(key))).
        let key = SymmetricKey(data: Hex.decode("2B7E151628AED2A6ABF7158809CF4F3C")!)
        #expect(KeyCheckValue.of(key) == "7AD386")
    }

    @Test("a signed message verifies; its MAC goes in 64 without a secondary bitmap and in 128 with one")
    func messageMAC() throws {
        let key = SymmetricKey(size: .bits256)
        var message = ATM87Message(mti: .financialRequest)
        for (field, value) in [(3, "310000"), (4, "000000000000"), (7, "1125093112"), (11, "000001"), (41, "ATM00001")]
        {
            try message.set(field, value)
        }
        let primary = try MessageAuthentication.sign(message, key: key)
        #expect(primary.contains(64) && !primary.contains(128))
        #expect(MessageAuthentication.verify(primary, key: key) == nil)
        #expect(MessageAuthentication.verify(primary, key: SymmetricKey(size: .bits256)) == .wrong)
        try message.set(102, "CP0000000001")
        let secondary = try MessageAuthentication.sign(message, key: key)
        #expect(secondary.contains(128) && !secondary.contains(64))
        #expect(MessageAuthentication.verify(secondary, key: key) == nil)
        // Any changed field breaks it.
        var changed = secondary
        try changed.set(4, "000000000001")
        #expect(MessageAuthentication.verify(changed, key: key) == .wrong)
        #expect(MessageAuthentication.verify(message, key: key) == .missing)
        var misplaced = secondary
        misplaced.remove(128)
        try misplaced.set(64, bytes: secondary.binary(128)!)
        #expect(MessageAuthentication.verify(misplaced, key: key) == .misplaced)
        // The decoded wire form verifies too.
        #expect(MessageAuthentication.verify(try ATM87Message(decoding: secondary.encodedBytes), key: key) == nil)
    }

    @Test("a password block is bound to its terminal, STAN and time")
    func passwordBlock() throws {
        let key = SymmetricKey(size: .bits256)
        let block = try PasswordBlock.encipher(
            password: "teller-test-password",
            key: key,
            terminal: "BRANCH01",
            stan: "000001",
            transmitted: "1125093112"
        )
        #expect(!block.contains("teller"))
        #expect(
            try PasswordBlock.decipher(block, key: key, terminal: "BRANCH01", stan: "000001", transmitted: "1125093112")
                == "teller-test-password"
        )
        #expect(throws: PasswordBlock.Error.self) {
            try PasswordBlock.decipher(block, key: key, terminal: "BRANCH01", stan: "000002", transmitted: "1125093112")
        }
        #expect(throws: PasswordBlock.Error.self) {
            try PasswordBlock.decipher(
                block,
                key: SymmetricKey(size: .bits256),
                terminal: "BRANCH01",
                stan: "000001",
                transmitted: "1125093112"
            )
        }
        #expect(throws: PasswordBlock.Error.self) {
            try PasswordBlock.decipher("zz", key: key, terminal: "BRANCH01", stan: "000001", transmitted: "1125093112")
        }
    }

    @Test("sealed keys open only under the same switch key and for the same terminal")
    func switchKeySealing() throws {
        let switchKey = SwitchKey(SecretKey.generate())
        let sealed = try switchKey.sealMasterKey(self.master, terminal: "ATM00001")
        #expect(sealed.count == 60)
        let opened = try switchKey.openMasterKey(sealed, terminal: "ATM00001")
        #expect(KeyCheckValue.of(opened) == KeyCheckValue.of(self.master))
        #expect(throws: SwitchKey.Error.self) { try switchKey.openMasterKey(sealed, terminal: "ATM00002") }
        #expect(throws: SwitchKey.Error.self) {
            try SwitchKey(SecretKey.generate()).openMasterKey(sealed, terminal: "ATM00001")
        }
        let keys = SessionKeys.generate()
        let sealedSession = try switchKey.sealSessionKeys(keys, terminal: "ATM00001")
        let back = try switchKey.openSessionKeys(sealedSession, terminal: "ATM00001")
        #expect(KeyCheckValue.of(back.mac) == KeyCheckValue.of(keys.mac))
        // A session-key blob cannot pass for a master key (different associated data).
        #expect(throws: SwitchKey.Error.self) { try switchKey.openMasterKey(sealedSession, terminal: "ATM00001") }
    }
}

@Suite("SCRAM-SHA-256 verifiers")
struct ScramVerifierTests {
    @Test("the verifier of RFC 7677's user (pencil, its salt) is what PostgreSQL stores for it")
    func knownVector() throws {
        let salt = [UInt8](Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!)
        #expect(
            try ScramVerifier.make(password: "pencil", salt: salt, iterations: 4_096)
                == "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
        )
    }

    @Test("a fresh salt each time")
    func salted() throws {
        #expect(try ScramVerifier.make(password: "x") != ScramVerifier.make(password: "x"))
    }
}
