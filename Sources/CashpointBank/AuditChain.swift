public import CashpointSecurity
public import Crypto

/// One audit row as the chain sees it. Every column takes part in the hash.
public struct AuditRow: Sendable, Hashable {
    public var id: Int64
    /// The timestamp as the database renders it for the chain (UTC, microseconds).
    public var at: String
    public var actor: String
    public var action: String
    public var outcome: String
    /// The details as PostgreSQL's canonical `jsonb` text.
    public var details: String
    public var ip: String?
    public var device: String?

    public init(
        id: Int64,
        at: String,
        actor: String,
        action: String,
        outcome: String,
        details: String,
        ip: String?,
        device: String?
    ) {
        self.id = id
        self.at = at
        self.actor = actor
        self.action = action
        self.outcome = outcome
        self.details = details
        self.ip = ip
        self.device = device
    }
}

/// The audit log's hash chain: link n is HMAC-SHA-256(key, link n-1 || row n), over a length-prefixed
/// encoding of every column, starting from 32 zero bytes. The key lives outside the database, so a
/// database superuser who changes, removes or inserts a row cannot recompute the links after it.
public enum AuditChain {
    public static let genesis = [UInt8](repeating: 0, count: 32)

    public static func link(previous: [UInt8], row: AuditRow, key: SymmetricKey) -> [UInt8] {
        self.link(previous: previous, row: row, key: PreparedHMAC.Key(key))
    }

    /// The link with the key prepared once (`PreparedHMAC.Key`), as a sealer or a verifier that links
    /// many rows does.
    public static func link(previous: [UInt8], row: AuditRow, key: PreparedHMAC.Key) -> [UInt8] {
        var hmac = PreparedHMAC(key: key)
        previous.withUnsafeBytes { hmac.update($0) }
        for field in self.fields(of: row) {
            if var field {
                // In place over the string's UTF-8: no copy per column (the sealer hashes every row).
                field.withUTF8 { bytes in
                    var length = UInt32(bytes.count).bigEndian
                    withUnsafeBytes(of: &length) { hmac.update($0) }
                    hmac.update(UnsafeRawBufferPointer(bytes))
                }
            } else {
                var absent = UInt32.max.bigEndian
                withUnsafeBytes(of: &absent) { hmac.update($0) }
            }
        }
        return Array(hmac.finalize())
    }

    static func fields(of row: AuditRow) -> [String?] {
        [String(row.id), row.at, row.actor, row.action, row.outcome, row.details, row.ip, row.device]
    }
}
