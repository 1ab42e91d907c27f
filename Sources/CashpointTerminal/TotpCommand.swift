public import ArgumentParser
import CashpointSecurity
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The options of `atm-terminal totp`.
public struct TotpOptions: ParsableArguments, Sendable {
    @Option(help: "A file holding the base32 secret (whitespace, hyphens and '=' ignored).")
    public var secretFile: String

    @Option(help: "The time, in seconds since 1970 (default: now).")
    public var at: Int64?

    @Option(help: "6 or 8.")
    public var digits: Int = 6

    @Option(help: "SHA1, SHA256 or SHA512.")
    public var algorithm: String = "SHA1"

    public init() {}
}

/// Why a secret file gives no secret. The message names the file, never what is in it.
public struct SecretFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// It cannot be opened or read.
        case unreadable
        /// Over `TerminalCommands.secretFileLimit` bytes: no secret file is that long.
        case tooLarge
        /// Not UTF-8 text.
        case notText
        /// Nothing but whitespace (or padding).
        case empty
        /// A character outside A-Z, 2-7 (either case), or a length no base32 text has.
        case notBase32
    }

    public var code: Code
    public var file: String
    /// The system's reason when it cannot be read.
    public var reason: String?

    public init(_ code: Code, file: String, reason: String? = nil) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String {
        switch self.code {
        case .unreadable: "cannot read the secret file \(self.file): \(self.reason ?? "unknown error")"
        case .tooLarge:
            "the secret file \(self.file) is over \(TerminalCommands.secretFileLimit) bytes: it should hold one base32 secret"
        case .notText: "the secret file \(self.file) is not text: it should hold one base32 secret"
        case .empty: "the secret file \(self.file) holds no secret: write its base32 secret into it"
        case .notBase32:
            "the secret file \(self.file) does not hold a base32 secret (letters A-Z and digits 2-7, as an authenticator app shows it)"
        }
    }
}

extension TerminalCommands {
    /// The most bytes read from a secret file.
    public static let secretFileLimit = 4_096

    /// `atm-terminal totp`: the code at `--at` (else `now`, else the clock's time) from the secret in
    /// `--secret-file`, and the seconds left in its step, as "123456 (17 s left)". Bad options throw
    /// `ValidationError` (exit 64); a file that gives no secret throws `SecretFileError` (exit 1).
    public static func totp(_ options: TotpOptions, now: Int64? = nil) throws -> String {
        guard let algorithm = OTPAlgorithm(rawValue: options.algorithm.uppercased()) else {
            throw ValidationError("--algorithm takes SHA1, SHA256 or SHA512, got '\(options.algorithm)'")
        }
        guard let parameters = OTPParameters(algorithm: algorithm, digits: options.digits) else {
            throw ValidationError("--digits takes 6 or 8, got \(options.digits)")
        }
        let time = options.at ?? now ?? Int64(Date().timeIntervalSince1970.rounded(.down))
        guard time >= 0 else { throw ValidationError("--at takes seconds since 1970 (0 or more), got \(time)") }
        let secret = try self.totpSecret(file: options.secretFile)
        let code = OneTimePassword.code(secret: secret, at: time, parameters: parameters)
        return "\(code) (\(OneTimePassword.secondsLeft(at: time, period: parameters.period)) s left)"
    }

    /// The secret in a file holding it in base32; whitespace anywhere is ignored.
    public static func totpSecret(file: String) throws(SecretFileError) -> [UInt8] {
        let bytes = try self.readSecretFile(file)
        guard bytes.count <= self.secretFileLimit else { throw SecretFileError(.tooLarge, file: file) }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw SecretFileError(.notText, file: file) }
        let compact = String(text.unicodeScalars.filter { !$0.properties.isWhitespace })
        guard let secret = Base32.decode(compact) else { throw SecretFileError(.notBase32, file: file) }
        guard !secret.isEmpty else { throw SecretFileError(.empty, file: file) }
        return secret
    }

    /// Up to one byte more than `secretFileLimit` of the file, read with open(2) and read(2), so that the
    /// reason of a failure is the system's ("No such file or directory", "Is a directory").
    private static func readSecretFile(_ file: String) throws(SecretFileError) -> [UInt8] {
        func failure() -> SecretFileError {
            SecretFileError(.unreadable, file: file, reason: String(cString: strerror(errno)))
        }
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure() }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: self.secretFileLimit + 1)
        var filled = 0
        while filled < buffer.count {
            let count = buffer.withUnsafeMutableBytes { raw in
                read(descriptor, raw.baseAddress! + filled, raw.count - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure()
            }
            if count == 0 { break }
            filled += count
        }
        return Array(buffer[..<filled])
    }
}
