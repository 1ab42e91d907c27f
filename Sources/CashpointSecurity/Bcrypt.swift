import CCrypt

#if canImport(Glibc)
import Glibc
#endif

/// bcrypt through libcrypt (libxcrypt): `$2b$` hashes, cost 4-31.
///
/// Hashing is deliberately slow (cost 10 is about 50 ms here): call it off the event loop, e.g. from a
/// task on a thread pool, never from a channel handler.
public enum Bcrypt {
    public struct Error: Swift.Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String { "bcrypt: \(self.reason)" }
    }

    /// The default work factor.
    public static let defaultCost = 10

    /// A new `$2b$` hash of `secret` with a fresh random salt from libcrypt.
    public static func hash(_ secret: some Collection<UInt8>, cost: Int = defaultCost) throws(Error) -> String {
        guard (4...31).contains(cost) else {
            throw Error(reason: "cost \(cost) is outside 4-31")
        }
        guard secret.count <= 72 else {
            throw Error(reason: "bcrypt reads at most 72 bytes; hash a digest of longer secrets")
        }
        guard !secret.contains(0) else {
            throw Error(reason: "the secret contains a NUL byte; hash a hex or base64 digest instead")
        }
        var settingBuffer = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        let salt = "$2b$".withCString { prefix in
            crypt_gensalt_rn(prefix, UInt(cost), nil, 0, &settingBuffer, Int32(settingBuffer.count))
        }
        guard salt != nil else {
            throw Error(reason: "libcrypt could not make a salt")
        }
        return try crypt(secret, setting: settingBuffer)
    }

    /// Whether `secret` matches `hash`, compared in constant time. A malformed hash never matches.
    public static func verify(_ secret: some Collection<UInt8>, against hash: String) -> Bool {
        guard hash.hasPrefix("$2b$") || hash.hasPrefix("$2a$") || hash.hasPrefix("$2y$") else { return false }
        guard secret.count <= 72, !secret.contains(0) else { return false }
        let setting = Array(hash.utf8CString)
        guard let computed = try? crypt(secret, setting: setting) else { return false }
        return constantTimeEqual(Array(computed.utf8), Array(hash.utf8))
    }

    /// Equal-length byte strings compared without an early exit.
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices {
            difference |= lhs[index] ^ rhs[index]
        }
        return difference == 0
    }

    private static func crypt(_ secret: some Collection<UInt8>, setting: [CChar]) throws(Error) -> String {
        var phrase = [CChar](repeating: 0, count: secret.count + 1)
        for (index, byte) in secret.enumerated() { phrase[index] = CChar(bitPattern: byte) }
        // crypt_ra allocates its own scratch space; it is wiped and freed here.
        var scratch: UnsafeMutableRawPointer? = nil
        var scratchSize: Int32 = 0
        let result: String? = {
            guard let output = crypt_ra(phrase, setting, &scratch, &scratchSize) else { return nil }
            let text = String(cString: output)
            // libxcrypt signals failure with a hash starting with '*'.
            return text.hasPrefix("*") ? nil : text
        }()
        // Wipe the clear secret and libcrypt's scratch space.
        for index in phrase.indices { phrase[index] = 0 }
        if let scratch {
            scratch.initializeMemory(as: UInt8.self, repeating: 0, count: Int(scratchSize))
            free(scratch)
        }
        guard let result else { throw Error(reason: "libcrypt refused the setting (malformed hash or cost)") }
        return result
    }
}
