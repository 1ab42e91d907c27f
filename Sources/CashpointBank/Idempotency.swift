import Crypto

/// A request's identity: the terminal, its STAN (field 11) and its transmission time (field 7).
/// A repeat with the same key and content gets the original answer; the same key with other content
/// gets 94.
public struct IdempotencyKey: Hashable, Sendable, CustomStringConvertible {
    public var terminal: String
    public var stan: String
    public var transmitted: String

    public init(terminal: String, stan: String, transmitted: String) {
        self.terminal = terminal
        self.stan = stan
        self.transmitted = transmitted
    }

    public var description: String { "\(self.terminal)/\(self.stan)/\(self.transmitted)" }

    /// Whether the parts have the wire formats: terminal 1-8 letters or digits, STAN 6 digits,
    /// transmission time 10 digits.
    public var isWellFormed: Bool {
        let terminalOK =
            (1...8).contains(self.terminal.utf8.count)
            && self.terminal.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }
        let stanOK = self.stan.utf8.count == 6 && self.stan.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        let timeOK = self.transmitted.utf8.count == 10 && self.transmitted.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        return terminalOK && stanOK && timeOK
    }
}

/// The digest of what a request asks for, stored with its key so a repeat can be told from a
/// different request reusing the key.
public enum RequestDigest {
    /// SHA-256 over the parts, each length-prefixed.
    public static func of(_ parts: [String]) -> [UInt8] {
        var hasher = SHA256()
        for part in parts {
            var length = UInt32(part.utf8.count).bigEndian
            withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
            hasher.update(data: Array(part.utf8))
        }
        return Array(hasher.finalize())
    }
}
