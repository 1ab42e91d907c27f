public import Crypto
import Foundation

/// A 32-byte secret kept outside the database: the pepper under which PANs, PINs and passwords are
/// digested before bcrypt, or the audit chain's key. Read from a file or an environment variable as
/// 64 hex characters; never printed.
public struct SecretKey: Sendable, CustomStringConvertible {
    public let key: SymmetricKey
    /// The key prepared for `digest` (a PAN's digest is taken on every card request).
    let prepared: PreparedHMAC.Key

    public struct LoadError: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { self.reason }
    }

    public init(bytes: [UInt8]) throws(LoadError) {
        guard bytes.count == 32 else {
            throw LoadError(reason: "a key is 32 bytes (64 hex characters), got \(bytes.count) bytes")
        }
        self.key = SymmetricKey(data: bytes)
        self.prepared = PreparedHMAC.Key(self.key)
    }

    /// 64 hex characters, surrounding white space ignored.
    public init(hex text: String, name: String) throws(LoadError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count == 64, let bytes = Hex.decode(trimmed) else {
            throw LoadError(reason: "the \(name) must be 64 hex characters (32 bytes)")
        }
        try self.init(bytes: bytes)
    }

    /// Reads a key file holding 64 hex characters (lines starting with # are comments).
    public init(contentsOfFile path: String, name: String) throws(LoadError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw LoadError(reason: "cannot read the \(name) file \(path): \(error.localizedDescription)")
        }
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined()
        try self.init(hex: lines, name: "\(name) in \(path)")
    }

    /// A new random key.
    public static func generate() -> SecretKey {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        return try! SecretKey(bytes: bytes)
    }

    /// The key as hex, for writing a new key file once. Never log it.
    public var hexForKeyFile: String {
        self.key.withUnsafeBytes { Hex.lowercase($0) }
    }

    public var description: String { "SecretKey(<redacted>)" }

    /// HMAC-SHA-256 of the parts, each preceded by its length so no two part lists collide.
    public func digest(_ parts: [String]) -> [UInt8] {
        var hmac = PreparedHMAC(key: self.prepared)
        for var part in parts {
            part.withUTF8 { bytes in
                var length = UInt32(bytes.count).bigEndian
                withUnsafeBytes(of: &length) { hmac.update($0) }
                hmac.update(UnsafeRawBufferPointer(bytes))
            }
        }
        return Array(hmac.finalize())
    }
}

/// How PANs, PINs and staff passwords are kept: never in clear, never as a bare hash.
///
/// - A card is found by `panDigest`: HMAC-SHA-256(pepper, PAN).
/// - A PIN is kept as bcrypt over HMAC-SHA-256(pepper, PAN, PIN) in hex: without the pepper a stolen
///   table cannot be brute-forced offline (10,000 PINs would otherwise fall in minutes), and a hash
///   copied to another card's row does not verify there.
/// - A staff password is kept as bcrypt over HMAC-SHA-256(pepper, user name, password).
public struct CredentialHasher: Sendable {
    public let pepper: SecretKey
    public let cost: Int

    public init(pepper: SecretKey, cost: Int = Bcrypt.defaultCost) {
        self.pepper = pepper
        self.cost = cost
    }

    public func panDigest(_ pan: String) -> [UInt8] {
        self.pepper.digest(["cashpoint.pan.v1", pan])
    }

    /// An identity document's number as the bank keeps it (`bank.customer_identities`): HMAC-SHA-256
    /// under the pepper, as a PAN, of the issuing country, the type and the number in canonical form
    /// (upper case, letters and digits only), so the same document is found again and the number
    /// cannot be read back.
    public func documentDigest(type: String, country: String, number: String) -> [UInt8] {
        self.pepper.digest(["cashpoint.document.v1", country, type, Self.canonicalDocumentNumber(number)])
    }

    /// A document number in canonical form: upper case letters and digits, spaces and dashes dropped.
    public static func canonicalDocumentNumber(_ number: String) -> String {
        String(number.uppercased().unicodeScalars.filter { ("A"..."Z").contains($0) || ("0"..."9").contains($0) }.map(Character.init))
    }

    /// A one-time enrolment code's digest (`bank.enrolment_codes`): the code is short-lived and used
    /// once, so a keyed digest suffices where a recovery code, which lives on, gets bcrypt.
    public func enrolmentCodeDigest(_ code: String) -> [UInt8] {
        self.pepper.digest(["cashpoint.enrolment.v1", code])
    }

    /// bcrypt of a recovery code (canonical form), keyed as a password is. Slow: off the event loop.
    public func hashRecoveryCode(userName: String, code: String) throws(Bcrypt.Error) -> String {
        try Bcrypt.hash(self.passwordInput(userName: userName, password: "recovery|" + code), cost: self.cost)
    }

    public func verifyRecoveryCode(userName: String, code: String, against hash: String) -> Bool {
        Bcrypt.verify(self.passwordInput(userName: userName, password: "recovery|" + code), against: hash)
    }

    func pinInput(pan: String, pin: String) -> [UInt8] {
        Array(Hex.lowercase(self.pepper.digest(["cashpoint.pin.v1", pan, pin])).utf8)
    }

    func passwordInput(userName: String, password: String) -> [UInt8] {
        Array(Hex.lowercase(self.pepper.digest(["cashpoint.password.v1", userName, password])).utf8)
    }

    /// A PIN is 4 to 12 digits.
    public static func isValidPIN(_ pin: String) -> Bool {
        (4...12).contains(pin.utf8.count) && pin.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// bcrypt of the keyed PIN digest. Slow by design: call off the event loop.
    public func hashPIN(pan: String, pin: String) throws(Bcrypt.Error) -> String {
        try Bcrypt.hash(self.pinInput(pan: pan, pin: pin), cost: self.cost)
    }

    public func verifyPIN(pan: String, pin: String, against hash: String) -> Bool {
        Bcrypt.verify(self.pinInput(pan: pan, pin: pin), against: hash)
    }

    public func hashPassword(userName: String, password: String) throws(Bcrypt.Error) -> String {
        try Bcrypt.hash(self.passwordInput(userName: userName, password: password), cost: self.cost)
    }

    public func verifyPassword(userName: String, password: String, against hash: String) -> Bool {
        Bcrypt.verify(self.passwordInput(userName: userName, password: password), against: hash)
    }
}
