public import Foundation

/// What `atm-switch serve` is told: where to listen and how long things may take.
public struct SwitchConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// A connection with no inbound bytes for this long is closed.
    public var idleTimeout: Duration
    /// Connections beyond this many are closed at once: memory stays bounded. At the limit, a new
    /// connection takes the place of the oldest that has not yet sent a whole frame.
    public var maxConnections: Int
    /// A frame must arrive whole within this long of its first byte, or the connection is closed.
    public var frameDeadline: Duration
    /// A card session's token lives this long (at most 2 minutes).
    public var cardTokenLifetime: Duration
    /// A teller's or administrator's token lives this long.
    public var staffTokenLifetime: Duration
    /// The largest frame accepted; a longer declared length closes the connection.
    public var maxMessageLength: Int
    /// When a request has not finished after this long, the database is probed (see `DatabaseHealth`).
    public var databaseProbeAfter: Duration
    public var databaseProbeTimeout: Duration
    /// A request not finished after this long is answered 96 and abandoned (see `DatabaseHealth`).
    public var requestDeadline: Duration
    /// The switch's clock (tokens, card expiry).
    public var now: @Sendable () -> Date
    /// The bank's BIN (6 or 8 digits): the PANs the bank allocates start with it.
    public var cardBIN: String

    public init(
        host: String = "127.0.0.1",
        port: Int = 8583,
        idleTimeout: Duration = .seconds(300),
        maxConnections: Int = 2048,
        frameDeadline: Duration = .seconds(5),
        cardTokenLifetime: Duration = .seconds(120),
        staffTokenLifetime: Duration = .seconds(900),
        maxMessageLength: Int = 8192,
        databaseProbeAfter: Duration = .milliseconds(250),
        databaseProbeTimeout: Duration = .milliseconds(600),
        requestDeadline: Duration = .seconds(8),
        now: @escaping @Sendable () -> Date = { Date() },
        cardBIN: String = "476173"
    ) {
        self.host = host
        self.port = port
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.frameDeadline = frameDeadline
        self.cardTokenLifetime = min(cardTokenLifetime, .seconds(120))
        self.staffTokenLifetime = staffTokenLifetime
        self.maxMessageLength = maxMessageLength
        self.databaseProbeAfter = databaseProbeAfter
        self.databaseProbeTimeout = databaseProbeTimeout
        self.requestDeadline = requestDeadline
        self.now = now
        self.cardBIN = cardBIN
    }

    /// Whether `bin` can head the bank's PANs: 6 or 8 digits.
    public static func isValidBIN(_ bin: String) -> Bool {
        (bin.utf8.count == 6 || bin.utf8.count == 8) && bin.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}
