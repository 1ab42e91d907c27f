public import Crypto

/// HMAC-SHA-256 (RFC 2104) with its key prepared once: the SHA-256 states after the key's inner and
/// outer padded blocks, copied for each message. swift-crypto's `HMAC<SHA256>` pads and hashes the key
/// again for every code, and its `update<D: DataProtocol>` is reached unspecialized from other modules
/// (generic metadata lookups at every call: 5% of the switch's CPU at 05e98f5, for the session token
/// and the audit chain). The codes are the same (`PreparedHMACTests` compares them).
public struct PreparedHMAC: Sendable {
    /// A key, prepared: made once per key, used for any number of codes.
    public struct Key: Sendable {
        fileprivate let inner: SHA256
        fileprivate let outer: SHA256

        public init(_ key: SymmetricKey) {
            let blockSize = SHA256.blockByteCount
            var block = [UInt8](repeating: 0, count: blockSize)
            key.withUnsafeBytes { raw in
                if raw.count > blockSize {
                    var hash = SHA256()
                    hash.update(bufferPointer: raw)
                    hash.finalize().withUnsafeBytes { digest in
                        for index in digest.indices { block[index] = digest[index] }
                    }
                } else {
                    for index in raw.indices { block[index] = raw[index] }
                }
            }
            var inner = SHA256()
            var outer = SHA256()
            var pad = block.map { $0 ^ 0x36 }
            pad.withUnsafeBytes { inner.update(bufferPointer: $0) }
            pad = block.map { $0 ^ 0x5c }
            pad.withUnsafeBytes { outer.update(bufferPointer: $0) }
            for index in block.indices { block[index] = 0 }
            self.inner = inner
            self.outer = outer
        }
    }

    private var inner: SHA256
    private let outer: SHA256

    /// A code under way: `update` with the message's parts, then `finalize`.
    public init(key: Key) {
        self.inner = key.inner
        self.outer = key.outer
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        self.inner.update(bufferPointer: bytes)
    }

    public func finalize() -> SHA256.Digest {
        var outer = self.outer
        self.inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize()
    }

    /// The code of one message.
    public static func code(for message: UnsafeRawBufferPointer, using key: Key) -> SHA256.Digest {
        var hmac = PreparedHMAC(key: key)
        hmac.update(message)
        return hmac.finalize()
    }

    /// Whether `code` is the message's code, compared in constant time. (Concrete types: a generic
    /// collection here is reached unspecialized from other modules, a metadata lookup per byte.)
    public static func isValid(
        _ code: [UInt8],
        authenticating message: UnsafeRawBufferPointer,
        using key: Key
    ) -> Bool {
        guard code.count == SHA256.byteCount else { return false }
        return Self.code(for: message, using: key).withUnsafeBytes { expected in
            code.withUnsafeBufferPointer { code in
                var difference: UInt8 = 0
                for index in 0..<SHA256.byteCount { difference |= expected[index] ^ code[index] }
                return difference == 0
            }
        }
    }
}
