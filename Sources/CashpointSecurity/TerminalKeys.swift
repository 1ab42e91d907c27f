public import ATM87
public import Crypto
import CryptoExtras

/// The keys of one terminal session: the PIN key (ISO 9564 format 4 PIN blocks, staff passwords) and
/// the MAC key (AES-CMAC of every message after sign-on). Both AES-256, fresh at each sign-on and key
/// change.
public struct SessionKeys: Sendable {
    public let pin: SymmetricKey
    public let mac: SymmetricKey

    public init(pin: SymmetricKey, mac: SymmetricKey) {
        self.pin = pin
        self.mac = mac
    }

    public static func generate() -> SessionKeys {
        SessionKeys(pin: SymmetricKey(size: .bits256), mac: SymmetricKey(size: .bits256))
    }
}

/// Key check values: the first 3 bytes of AES-CMAC over a block of zero bytes (ANSI X9.24-1:2017 for
/// AES keys), as 6 uppercase hex characters. They name a key without revealing it.
public enum KeyCheckValue {
    public static func of(_ key: SymmetricKey) -> String {
        guard var cmac = try? AES.CMAC(key: key) else { return "000000" }
        cmac.update(data: [UInt8](repeating: 0, count: 16))
        return Hex.encode(Array(cmac.finalize()).prefix(3))
    }
}

/// The key that authenticates a sign-on (0800, field 70 = 001): AES-CMAC under the terminal's master
/// key of the ASCII text `cashpoint sign-on v1`, 16 bytes (an AES-128 key). The sign-on's MAC is
/// computed under it exactly as every other MAC is under the session MAC key.
public enum SignOnKey {
    public static func derive(from master: SymmetricKey) -> SymmetricKey {
        guard var cmac = try? AES.CMAC(key: master) else { return SymmetricKey(size: .bits128) }
        cmac.update(data: Array("cashpoint sign-on v1".utf8))
        return SymmetricKey(data: Array(cmac.finalize()))
    }
}

/// Field 120 of a sign-on or key-change 0810: the new session keys, each wrapped under the terminal
/// master key with AES key wrap (RFC 3394, 40 bytes for a 32-byte key), then their check values:
///
///     V1;PIN=<80 hex>;MAC=<80 hex>;KCV=<6 hex>,<6 hex>
public enum KeyMaterial {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "key material: \(self.reason)" }
    }

    public static func encode(_ keys: SessionKeys, under master: SymmetricKey) throws(KeyWrapping.Error) -> String {
        let pin = try KeyWrapping.wrap(keys.pin, under: master)
        let mac = try KeyWrapping.wrap(keys.mac, under: master)
        return
            "V1;PIN=\(Hex.encode(pin));MAC=\(Hex.encode(mac));KCV=\(KeyCheckValue.of(keys.pin)),\(KeyCheckValue.of(keys.mac))"
    }

    public static func decode(_ text: String, under master: SymmetricKey) throws(Error) -> SessionKeys {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "V1", parts[1].hasPrefix("PIN="), parts[2].hasPrefix("MAC="),
            parts[3].hasPrefix("KCV="),
            let wrappedPIN = Hex.decode(String(parts[1].dropFirst(4))),
            let wrappedMAC = Hex.decode(String(parts[2].dropFirst(4)))
        else {
            throw Error(reason: "not V1;PIN=…;MAC=…;KCV=…,…")
        }
        let checks = parts[3].dropFirst(4).split(separator: ",").map(String.init)
        let keys: SessionKeys
        do {
            keys = SessionKeys(
                pin: try KeyWrapping.unwrap(wrappedPIN, under: master),
                mac: try KeyWrapping.unwrap(wrappedMAC, under: master)
            )
        } catch {
            throw Error(reason: error.reason)
        }
        guard checks == [KeyCheckValue.of(keys.pin), KeyCheckValue.of(keys.mac)] else {
            throw Error(reason: "the check values do not match the unwrapped keys")
        }
        return keys
    }
}

/// The switch key, kept outside the database (a key file). Two independent keys are derived from it
/// with HKDF-SHA-256: one seals terminal master keys and session keys for storage in PostgreSQL
/// (AES-256-GCM, the terminal id bound in as associated data, so a sealed key cannot be moved to
/// another terminal's row), one signs session tokens (HS256).
public struct SwitchKey: Sendable {
    let sealing: SymmetricKey
    public let tokenSigning: SymmetricKey

    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "switch key: \(self.reason)" }
    }

    public init(_ secret: SecretKey) {
        self.sealing = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: secret.key,
            info: Array("cashpoint terminal key sealing v1".utf8),
            outputByteCount: 32
        )
        self.tokenSigning = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: secret.key,
            info: Array("cashpoint session token v1".utf8),
            outputByteCount: 32
        )
    }

    public func sealMasterKey(_ key: SymmetricKey, terminal: String) throws(Error) -> [UInt8] {
        try self.seal(key, context: "master key|\(terminal)")
    }

    public func openMasterKey(_ sealed: [UInt8], terminal: String) throws(Error) -> SymmetricKey {
        try self.open(sealed, context: "master key|\(terminal)")
    }

    public func sealSessionKeys(_ keys: SessionKeys, terminal: String) throws(Error) -> [UInt8] {
        let both = keys.pin.withUnsafeBytes { Array($0) } + keys.mac.withUnsafeBytes { Array($0) }
        return try self.seal(SymmetricKey(data: both), context: "session keys|\(terminal)")
    }

    public func openSessionKeys(_ sealed: [UInt8], terminal: String) throws(Error) -> SessionKeys {
        let both = try self.open(sealed, context: "session keys|\(terminal)").withUnsafeBytes { Array($0) }
        guard both.count == 64 else { throw Error(reason: "sealed session keys have the wrong length") }
        return SessionKeys(pin: SymmetricKey(data: both[0..<32]), mac: SymmetricKey(data: both[32..<64]))
    }

    /// A member of staff's TOTP secret, sealed for `bank.staff_factors`: bound to the user's id, so a
    /// sealed secret cannot be moved to another user's row.
    public func sealFactorSecret(_ secret: [UInt8], userID: Int64) throws(Error) -> [UInt8] {
        try self.seal(SymmetricKey(data: secret), context: "totp secret|\(userID)")
    }

    public func openFactorSecret(_ sealed: [UInt8], userID: Int64) throws(Error) -> [UInt8] {
        try self.open(sealed, context: "totp secret|\(userID)").withUnsafeBytes { Array($0) }
    }

    func seal(_ key: SymmetricKey, context: String) throws(Error) -> [UInt8] {
        do {
            let box = try AES.GCM.seal(
                key.withUnsafeBytes { Array($0) },
                using: self.sealing,
                authenticating: Array("cashpoint|\(context)".utf8)
            )
            guard let combined = box.combined else { throw Error(reason: "cannot seal") }
            return Array(combined)
        } catch let error as Error {
            throw error
        } catch {
            throw Error(reason: "cannot seal: \(error)")
        }
    }

    func open(_ sealed: [UInt8], context: String) throws(Error) -> SymmetricKey {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            let bytes = try AES.GCM.open(box, using: self.sealing, authenticating: Array("cashpoint|\(context)".utf8))
            return SymmetricKey(data: bytes)
        } catch {
            throw Error(
                reason: "a sealed key does not open under this switch key (wrong key file, or moved between rows)"
            )
        }
    }
}

/// A secret in field 48 of a 0600 or 0610: AES-256-GCM under the session PIN key, with the block's
/// purpose, the terminal id, STAN and transmission time (fields 41, 11, 7) as associated data, so it
/// cannot be replayed in another message or read as another kind of secret. The value is hex of
/// nonce (12 bytes) || ciphertext || tag (16 bytes).
public enum MessageBlock {
    /// What a block holds: the word in its associated data (docs/protocol.md).
    public enum Purpose: String, Sendable, Hashable, CaseIterable {
        /// PW: a staff password.
        case password
        /// OT: a one-time code or a recovery code.
        case code
        /// EC: a one-time enrolment code.
        case enrolment
        /// SK: a new TOTP secret, base32.
        case secret
        /// RC: recovery codes, separated by spaces.
        case recovery
        /// IN: an identity document's number (CREATE).
        case document
    }

    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "message block: \(self.reason)" }
    }

    static func context(_ purpose: Purpose, terminal: String, stan: String, transmitted: String) -> [UInt8] {
        Array("cashpoint \(purpose.rawValue)|\(terminal)|\(stan)|\(transmitted)".utf8)
    }

    public static func encipher(
        _ text: String,
        purpose: Purpose,
        key: SymmetricKey,
        terminal: String,
        stan: String,
        transmitted: String
    ) throws(Error) -> String {
        do {
            let box = try AES.GCM.seal(
                Array(text.utf8),
                using: key,
                authenticating: context(purpose, terminal: terminal, stan: stan, transmitted: transmitted)
            )
            guard let combined = box.combined else { throw Error(reason: "cannot encipher") }
            return Hex.encode(Array(combined))
        } catch let error as Error {
            throw error
        } catch {
            throw Error(reason: "cannot encipher: \(error)")
        }
    }

    public static func decipher(
        _ hex: String,
        purpose: Purpose,
        key: SymmetricKey,
        terminal: String,
        stan: String,
        transmitted: String
    ) throws(Error) -> String {
        guard let bytes = Hex.decode(hex), bytes.count > 28 else { throw Error(reason: "not hex, or too short") }
        do {
            let box = try AES.GCM.SealedBox(combined: bytes)
            let clear = try AES.GCM.open(
                box,
                using: key,
                authenticating: context(purpose, terminal: terminal, stan: stan, transmitted: transmitted)
            )
            guard let text = String(validating: clear, as: UTF8.self) else { throw Error(reason: "not UTF-8") }
            return text
        } catch let error as Error {
            throw error
        } catch {
            throw Error(reason: "does not decipher under this session's PIN key for this message")
        }
    }
}

extension MessageBlock {
    /// Why a code block in an answer could not be read.
    public struct RevealError: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The clear text of a code block in a 0610's field 48 (`SK`, `RC`, `EC`): deciphered under the
    /// session PIN key with the 0600's fields 11 and 7, which the 0610 echoes. Nil when the answer has no
    /// such element; an error when it does not decipher (the caller must not use it).
    public static func reveal(_ tag: AdminTag, in answer: ATM87Message, key: SymmetricKey, terminal: String)
        throws(RevealError) -> String?
    {
        guard let hex = answer[48].flatMap({ try? ATM87TLV(parsing: $0) })?[tag] else { return nil }
        guard let purpose = tag.blockPurpose else { throw RevealError(description: "not a code block") }
        guard let stan = answer[11], let time = answer[7] else {
            throw RevealError(description: "the answer lacks the STAN or time its code block is bound to")
        }
        do {
            return try Self.decipher(hex, purpose: purpose, key: key, terminal: terminal, stan: stan, transmitted: time)
        } catch {
            throw RevealError(description: "does not decipher under the session PIN key: \(error.reason)")
        }
    }
}

extension AdminTag {
    /// The purpose of a code block this tag carries (docs/protocol.md, "Code blocks"); nil for a tag
    /// whose value travels in clear.
    public var blockPurpose: MessageBlock.Purpose? {
        switch self {
        case .password: .password
        case .oneTimeCode: .code
        case .enrolmentCode: .enrolment
        case .secret: .secret
        case .recoveryCodes: .recovery
        case .documentNumber: .document
        default: nil
        }
    }
}

/// A staff password in field 48 (TLV tag PW): a `MessageBlock` whose purpose is `password`.
public enum PasswordBlock {
    public typealias Error = MessageBlock.Error

    public static func encipher(
        password: String,
        key: SymmetricKey,
        terminal: String,
        stan: String,
        transmitted: String
    ) throws(Error) -> String {
        try MessageBlock.encipher(
            password, purpose: .password, key: key, terminal: terminal, stan: stan, transmitted: transmitted)
    }

    public static func decipher(
        _ hex: String,
        key: SymmetricKey,
        terminal: String,
        stan: String,
        transmitted: String
    ) throws(Error) -> String {
        try MessageBlock.decipher(
            hex, purpose: .password, key: key, terminal: terminal, stan: stan, transmitted: transmitted)
    }
}

/// Hex text: uppercase for ATM-87's binary fields, lowercase for digests, key files and the audit
/// chain's links. One table lookup per nibble (formatting each byte with `String(format:)` cost the
/// audit sealer most of its time).
public enum Hex {
    public enum Case: Sendable { case upper, lower }

    public static func encode(_ bytes: some Sequence<UInt8>, case letterCase: Case = .upper) -> String {
        let digits: StaticString = letterCase == .upper ? "0123456789ABCDEF" : "0123456789abcdef"
        let table = UnsafeRawBufferPointer(start: digits.utf8Start, count: 16)
        let input = Array(bytes)
        return String(unsafeUninitializedCapacity: input.count * 2) { out in
            var index = 0
            for byte in input {
                out[index] = table[Int(byte >> 4)]
                out[index + 1] = table[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }

    /// Lowercase hex, as digests and key files are written.
    public static func lowercase(_ bytes: some Sequence<UInt8>) -> String {
        self.encode(bytes, case: .lower)
    }

    /// The bytes of upper- or lowercase hex text; `nil` for an odd length or a non-hex character.
    public static func decode(_ text: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count / 2)
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = Self.nibble(high), let l = Self.nibble(low) else { return nil }
            out.append(h << 4 | l)
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x37
        case 0x61...0x66: return c - 0x57
        default: return nil
        }
    }
}
