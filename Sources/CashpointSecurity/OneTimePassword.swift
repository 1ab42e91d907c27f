import Crypto

// The pure pieces of a staff second factor: RFC 4226 HOTP, RFC 6238 TOTP, RFC 4648 base32, the
// otpauth:// URI an authenticator app scans, and single-use recovery codes. Nothing here logs: a secret,
// a code or a recovery code never reaches a log line, and none of these types prints one by itself.

/// The HMAC of a one-time password (RFC 6238 section 1.2: SHA-1, SHA-256 or SHA-512). The raw values are
/// the names the otpauth URI and oathtool use.
public enum OTPAlgorithm: String, Sendable, Hashable, CaseIterable, Codable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"
}

/// How a user's codes are made: the HMAC, 6 or 8 digits, a 30-second step from the Unix epoch (T0 = 0).
/// Decoding refuses other digit counts or periods, as `init?` does.
public struct OTPParameters: Sendable, Hashable, Codable {
    public var algorithm: OTPAlgorithm
    /// 6 or 8.
    public var digits: Int
    /// Seconds per time step: 30, the only period the authenticator apps all honour.
    public var period: Int

    /// SHA-1, 6 digits, 30 seconds: what every authenticator app does without being told.
    public static let standard = OTPParameters(checkedAlgorithm: .sha1, digits: 6, period: 30)

    /// The digit counts allowed: RFC 4226's 6, and 8.
    public static let allowedDigits: Set<Int> = [6, 8]
    /// The one period allowed.
    public static let allowedPeriod = 30

    /// Nil for digits other than 6 or 8, or a period other than 30.
    public init?(algorithm: OTPAlgorithm = .sha1, digits: Int = 6, period: Int = 30) {
        guard Self.allowedDigits.contains(digits), period == Self.allowedPeriod else { return nil }
        self.init(checkedAlgorithm: algorithm, digits: digits, period: period)
    }

    private init(checkedAlgorithm algorithm: OTPAlgorithm, digits: Int, period: Int) {
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    private enum CodingKeys: String, CodingKey { case algorithm, digits, period }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let algorithm = try container.decode(OTPAlgorithm.self, forKey: .algorithm)
        let digits = try container.decode(Int.self, forKey: .digits)
        let period = try container.decode(Int.self, forKey: .period)
        guard let parameters = OTPParameters(algorithm: algorithm, digits: digits, period: period) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: decoder.codingPath,
                    debugDescription: "one-time password parameters take 6 or 8 digits and a period of 30 s"
                )
            )
        }
        self = parameters
    }
}

/// HOTP (RFC 4226) and TOTP (RFC 6238).
public enum OneTimePassword {
    /// The digit counts `hotp` can make: 10^10 exceeds the 31-bit truncated value.
    public static let possibleDigits = 1...10

    /// The HOTP value of `counter`: HMAC over the counter's 8 big-endian bytes, dynamic truncation to 31
    /// bits (RFC 4226 section 5.3), the last `digits` decimal digits, zero-padded.
    /// Precondition: `digits` is in `possibleDigits`.
    public static func hotp(secret: [UInt8], counter: UInt64, digits: Int, algorithm: OTPAlgorithm) -> String {
        precondition(self.possibleDigits.contains(digits), "a one-time password has 1 to 10 digits")
        let message = withUnsafeBytes(of: counter.bigEndian) { Array($0) }
        let key = SymmetricKey(data: secret)
        let mac: [UInt8]
        switch algorithm {
        case .sha1: mac = Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        case .sha256: mac = Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha512: mac = Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
        }
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary =
            UInt64(mac[offset] & 0x7F) << 24 | UInt64(mac[offset + 1]) << 16 | UInt64(mac[offset + 2]) << 8
            | UInt64(mac[offset + 3])
        var modulus: UInt64 = 1
        for _ in 0..<digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }

    /// The time step of `unixSeconds`: floor(t / period), from T0 = 0 (negative before 1970).
    /// Precondition: `period` is positive.
    public static func step(at unixSeconds: Int64, period: Int = 30) -> Int64 {
        precondition(period > 0, "a time step is at least one second")
        let period = Int64(period)
        let quotient = unixSeconds / period
        return unixSeconds % period < 0 ? quotient - 1 : quotient
    }

    /// Seconds from `unixSeconds` to the end of its time step (1 to `period`).
    public static func secondsLeft(at unixSeconds: Int64, period: Int = 30) -> Int {
        Int((self.step(at: unixSeconds, period: period) + 1) * Int64(period) - unixSeconds)
    }

    /// The TOTP code at `unixSeconds` (RFC 6238): the HOTP value of its time step. A step before 1970
    /// counts as its 64-bit two's complement, as an unsigned counter would wrap.
    public static func code(secret: [UInt8], at unixSeconds: Int64, parameters: OTPParameters = .standard) -> String {
        let step = self.step(at: unixSeconds, period: parameters.period)
        return self.hotp(
            secret: secret,
            counter: UInt64(bitPattern: step),
            digits: parameters.digits,
            algorithm: parameters.algorithm
        )
    }

    /// The time step (within `window` steps either side of `unixSeconds`'s) whose code equals `code`, or nil.
    /// Compares in constant time; a code of the wrong length or with non-digits is nil. Checks the
    /// current step first, then -1, +1 (then -2, +2 for a wider window). A negative window is 0; steps
    /// before 1970 never match.
    ///
    /// The caller keeps the step returned for the user and refuses any code whose step is not later than
    /// the last one accepted, so that a code seen over a shoulder cannot be replayed within its window.
    public static func matchingStep(
        _ code: String,
        secret: [UInt8],
        at unixSeconds: Int64,
        parameters: OTPParameters = .standard,
        window: Int = 1
    ) -> Int64? {
        let typed = Array(code.utf8)
        guard parameters.period > 0, self.possibleDigits.contains(parameters.digits),
            typed.count == parameters.digits, typed.allSatisfy({ (0x30...0x39).contains($0) })
        else { return nil }
        let current = self.step(at: unixSeconds, period: parameters.period)
        // A window wider than a year of steps would be a mistake; it is bounded so the loop ends.
        let window = min(max(window, 0), 1_051_200)
        for distance in 0...window {
            for offset in distance == 0 ? [0] : [-distance, distance] {
                let (step, overflow) = current.addingReportingOverflow(Int64(offset))
                guard !overflow, step >= 0 else { continue }
                let expected = self.hotp(
                    secret: secret,
                    counter: UInt64(step),
                    digits: parameters.digits,
                    algorithm: parameters.algorithm
                )
                if Bcrypt.constantTimeEqual(Array(expected.utf8), typed) { return step }
            }
        }
        return nil
    }

    /// 20 random bytes (RFC 4226's recommended length for SHA-1).
    public static func newSecret(using generator: inout some RandomNumberGenerator) -> [UInt8] {
        (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}

/// Base32 (RFC 4648 section 6, the alphabet A-Z 2-7), as authenticator apps show and take a secret.
public enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// `bytes` in base32: uppercase, without '=' padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                output.append(self.alphabet[Int(buffer >> UInt32(bits) & 0x1F)])
            }
            buffer &= (1 << UInt32(bits)) - 1
        }
        if bits > 0 {
            output.append(self.alphabet[Int(buffer << UInt32(5 - bits) & 0x1F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes `text` encodes: case-insensitive; spaces, hyphens and '=' padding are ignored. Nil on
    /// any other character, or for a length no encoding has (1, 3 or 6 symbols past a multiple of 8).
    /// Bits left over past the last whole byte are dropped.
    public static func decode(_ text: String) -> [UInt8]? {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        var symbols = 0
        for character in text.utf8 {
            let value: UInt8
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = character - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = character - UInt8(ascii: "a")
            case UInt8(ascii: "2")...UInt8(ascii: "7"): value = character - UInt8(ascii: "2") + 26
            case UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "="): continue
            default: return nil
            }
            symbols += 1
            buffer = buffer << 5 | UInt32(value)
            bits += 5
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        guard ![1, 3, 6].contains(symbols % 8) else { return nil }
        return output
    }
}

/// The Key Uri Format (Google Authenticator's wiki) that authenticator apps read from a QR code.
public enum OTPAuthURI {
    /// otpauth://totp/Cashpoint:USER?secret=BASE32&issuer=Cashpoint&algorithm=SHA1&digits=6&period=30
    /// (label and issuer percent-encoded per the Key Uri Format; user names are [a-z0-9._-] in practice).
    /// The URI carries the secret: show it once, to its user, and never log it.
    public static func make(
        user: String,
        secret: [UInt8],
        parameters: OTPParameters = .standard,
        issuer: String = "Cashpoint"
    ) -> String {
        let issuerText = self.percentEncoded(issuer)
        return "otpauth://totp/\(issuerText):\(self.percentEncoded(user))?secret=\(Base32.encode(secret))"
            + "&issuer=\(issuerText)&algorithm=\(parameters.algorithm.rawValue)"
            + "&digits=\(parameters.digits)&period=\(parameters.period)"
    }

    private static let hex = Array("0123456789ABCDEF".unicodeScalars)

    /// Every byte of the UTF-8 text but RFC 3986's unreserved characters as %XX (a space is %20; a colon,
    /// which separates issuer from account, is %3A).
    static func percentEncoded(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                output.unicodeScalars.append("%")
                output.unicodeScalars.append(self.hex[Int(byte >> 4)])
                output.unicodeScalars.append(self.hex[Int(byte & 0x0F)])
            }
        }
        return output
    }
}

/// Single-use codes for a staff member who has lost the authenticator: shown once, kept only as digests.
public enum RecoveryCodes {
    /// The 32 symbols of a code: digits and capitals without 0, O, 1 and I, which read alike.
    public static let alphabet = Array("23456789ABCDEFGHJKLMNPQRSTUVWXYZ".utf8)

    /// `count` single-use codes, each 10 characters from "23456789ABCDEFGHJKLMNPQRSTUVWXYZ" (no 0/O/1/I),
    /// shown as XXXXX-XXXXX: 50 random bits each.
    public static func generate(count: Int = 10, using generator: inout some RandomNumberGenerator) -> [String] {
        (0..<max(count, 0)).map { _ in
            let symbols = (0..<10).map { _ in self.alphabet[Int(UInt8.random(in: 0..<32, using: &generator))] }
            return self.shown(symbols)
        }
    }

    /// The canonical form of a typed recovery code (uppercase, hyphens and spaces removed, then
    /// XXXXX-XXXXX), or nil if it is not one.
    public static func normalize(_ text: String) -> String? {
        let symbols = Array(text.uppercased().utf8.filter { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: " ") })
        guard symbols.count == 10, symbols.allSatisfy({ self.alphabet.contains($0) }) else { return nil }
        return self.shown(symbols)
    }

    private static func shown(_ symbols: [UInt8]) -> String {
        String(decoding: symbols[0..<5], as: UTF8.self) + "-" + String(decoding: symbols[5..<10], as: UTF8.self)
    }
}
