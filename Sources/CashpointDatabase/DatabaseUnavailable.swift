// The one error for "no database now". It lives with the database's connections (this module), and the
// bank, the store and the switch all name it: CashpointBank maps it to a response code
// (`Bank.responseCode(for:)`) without knowing PostgreSQL.

/// The database could not be used: the one error for "no database now", whoever finds it (a command's
/// first connection, the switch's health probe, a pooled connection lost mid-request). `reason` says in
/// words what was tried and what answered; the switch answers `kind`'s response code (docs/protocol.md).
public struct DatabaseUnavailable: Error, CustomStringConvertible, Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// No server answers at the address (refused, timed out, or the probe failed): 91.
        case unreachable
        /// The server refused the connection (authentication, no such database).
        case refused
        /// The connection was lost or the server ended the session: 91.
        case connectionLost
        /// The server is reachable, but the request did not finish within the switch's deadline: 96.
        case deadlineExceeded
    }

    public var kind: Kind
    public var reason: String
    /// The database's own error code (PostgreSQL's SQLSTATE), when it gave one.
    public var sqlState: String?

    public init(_ kind: Kind, reason: String, sqlState: String? = nil) {
        self.kind = kind
        self.reason = reason
        self.sqlState = sqlState
    }

    public var description: String { self.reason }
}
