import Crypto
import CryptoExtras
import Foundation

/// A PostgreSQL SCRAM-SHA-256 password verifier (RFC 5802, RFC 7677), computed on the client as
/// `psql \password` does, so `ALTER ROLE ... PASSWORD` carries the verifier and the password itself never
/// reaches the server or its statement log:
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64, where
/// SaltedPassword = PBKDF2-HMAC-SHA256(password, salt, iterations), StoredKey = SHA-256(HMAC(SaltedPassword,
/// "Client Key")) and ServerKey = HMAC(SaltedPassword, "Server Key").
public enum ScramVerifier {
    /// PostgreSQL's own default (`scram_iterations`).
    public static let iterations = 4_096

    /// The verifier for a password, with a fresh 16-byte salt.
    public static func make(password: String) throws -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return try Self.make(password: password, salt: salt, iterations: Self.iterations)
    }

    /// The verifier for a password and salt (tests give a known salt).
    public static func make(password: String, salt: [UInt8], iterations: Int) throws -> String {
        let salted = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8),
            salt: salt,
            using: .sha256,
            outputByteCount: 32,
            unsafeUncheckedRounds: iterations
        )
        let clientKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Client Key".utf8), using: salted))
        let storedKey = Data(SHA256.hash(data: clientKey))
        let serverKey = Data(HMAC<SHA256>.authenticationCode(for: Data("Server Key".utf8), using: salted))
        return "SCRAM-SHA-256$\(iterations):\(Data(salt).base64EncodedString())$"
            + "\(storedKey.base64EncodedString()):\(serverKey.base64EncodedString())"
    }
}
