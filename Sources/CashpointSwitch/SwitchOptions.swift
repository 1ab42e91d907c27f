public import ArgumentParser
import CashpointSecurity
import Logging

// The option groups of `atm-switch`: what `SwitchCommands` takes, parsed by the executable's commands.

/// The settings every database command shares, from flags or the environment (`DatabaseRole`).
public struct DatabaseOptions: ParsableArguments, Sendable {
    @Option(help: "postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: $CASHPOINT_DATABASE_URL).")
    public var databaseURL: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default: warning; serve: info).")
    public var logLevel: String?

    public init() {}

    public func validate() throws {
        if let level = self.logLevel, Logger.Level(rawValue: level) == nil {
            throw ValidationError("unknown log level '\(level)': trace, debug, info, notice, warning, error, critical")
        }
    }
}

/// The pepper (PAN, PIN and password digests), from a key file or the environment (`KeySource.pepper`).
public struct PepperOptions: ParsableArguments, Sendable {
    @Option(
        help: """
            Key file with the pepper, 64 hex characters (default: $CASHPOINT_PEPPER_FILE, or $CASHPOINT_PEPPER \
            itself).
            """
    )
    public var pepperFile: String?

    @Option(help: "bcrypt cost for new PIN and password hashes (4-31).")
    public var bcryptCost: Int = Bcrypt.defaultCost

    public init() {}

    public func validate() throws {
        guard (4...31).contains(self.bcryptCost) else { throw ValidationError("--bcrypt-cost must be 4 to 31") }
    }
}

/// The audit chain's key (`KeySource.auditKey`).
public struct AuditKeyOptions: ParsableArguments, Sendable {
    @Option(
        help: "Key file with the audit chain key (default: $CASHPOINT_AUDIT_KEY_FILE, or $CASHPOINT_AUDIT_KEY itself)."
    )
    public var auditKeyFile: String?

    public init() {}
}

/// The switch key: seals terminal keys in the database, signs session tokens (`KeySource.switchKey`).
public struct SwitchKeyOptions: ParsableArguments, Sendable {
    @Option(
        help: """
            Key file with the switch key, 64 hex characters (default: $CASHPOINT_SWITCH_KEY_FILE, or \
            $CASHPOINT_SWITCH_KEY itself).
            """
    )
    public var switchKeyFile: String?

    public init() {}
}

/// Everything `atm-switch serve` is told.
public struct ServeOptions: ParsableArguments, Sendable {
    @OptionGroup public var database: DatabaseOptions
    @OptionGroup public var pepper: PepperOptions
    @OptionGroup public var switchKey: SwitchKeyOptions

    @Option(help: "Address to listen on.")
    public var host: String = "127.0.0.1"

    @Option(help: "TCP port for ATM-87 (0: any free port).")
    public var port: Int = 8583

    @Option(help: "Close a connection idle this many seconds.")
    public var idleTimeout: Int = 300

    @Option(help: "Connections beyond this many are closed at once.")
    public var maxConnections: Int = 2048

    @Option(help: "Answer 96 to a request not finished after this many seconds (the database reachable but stuck).")
    public var requestDeadline: Int = 8

    @Option(help: "Close a connection whose frame has not arrived whole this many seconds after its first byte.")
    public var frameDeadline: Int = 5

    @Option(help: "Lifetime of a card session's token in seconds (at most 120).")
    public var cardTokenLifetime: Int = 120

    @Option(help: "Lifetime of a teller's or administrator's token in seconds.")
    public var staffTokenLifetime: Int = 900

    @Option(help: "PostgreSQL connections in the pool.")
    public var poolSize: Int = 8

    @Option(
        help: """
            Card-session postings in one database transaction at most (batched postings: those that \
            arrive while the database is busy go together). 0 or 1: each posting its own transaction.
            """
    )
    public var batchPostings: Int = 64

    @Option(help: "Batches of postings at the database at once (with --batch-postings above 1).")
    public var postingBatches: Int = 1

    @Option(
        name: .customLong("card-bin"),
        help: "The bank's BIN (6 or 8 digits): the card numbers the bank allocates start with it."
    )
    public var cardBIN: String = "476173"

    @Option(
        help: """
            NIO event loops (threads) shared by the terminals' connections and the pool's; each \
            connection's requests run on its loop. 0: NIO's shared group and Swift's global executor.
            """
    )
    public var eventLoops: Int = 1

    @Option(help: "Port of the Prometheus endpoint GET /metrics on the same host (0: any free port).")
    public var metricsPort: Int = 9583

    @Flag(help: "No metrics endpoint.")
    public var noMetrics = false

    @Option(
        help: """
            Audit chain key file: the switch seals the audit log while it runs (default: \
            $CASHPOINT_AUDIT_KEY_FILE, or $CASHPOINT_AUDIT_KEY; none: no sealing).
            """
    )
    public var auditKeyFile: String?

    public init() {}

    /// Each range, refused with the option's name.
    public func validate() throws {
        func check(_ ok: Bool, _ reason: String) throws {
            if !ok { throw ValidationError(reason) }
        }
        try check((0...65535).contains(self.port), "--port must be 0 to 65535")
        try check((-1...65535).contains(self.metricsPort), "--metrics-port must be -1 to 65535")
        try check(self.idleTimeout > 0, "--idle-timeout must be above 0 seconds")
        try check(self.maxConnections > 0, "--max-connections must be above 0")
        try check((1...60).contains(self.requestDeadline), "--request-deadline must be 1 to 60 seconds")
        try check((1...300).contains(self.frameDeadline), "--frame-deadline must be 1 to 300 seconds")
        try check((1...120).contains(self.cardTokenLifetime), "--card-token-lifetime must be 1 to 120 seconds")
        try check((1...86_400).contains(self.staffTokenLifetime), "--staff-token-lifetime must be 1 to 86400 seconds")
        try check((1...256).contains(self.poolSize), "--pool-size must be 1 to 256")
        try check((0...1000).contains(self.batchPostings), "--batch-postings must be 0 to 1000")
        try check((1...256).contains(self.postingBatches), "--posting-batches must be 1 to 256")
        try check(SwitchConfiguration.isValidBIN(self.cardBIN), "--card-bin must be 6 or 8 digits")
        try check((0...64).contains(self.eventLoops), "--event-loops must be 0 to 64")
    }
}

/// The switch role's password for `atm-switch migrate`.
public struct SwitchPasswordOptions: ParsableArguments, Sendable {
    @Option(
        help:
            "Password for the cashpoint_switch role (16+ letters and digits). Shows in ps: prefer --switch-password-file."
    )
    public var switchPassword: String?

    @Option(help: "A file holding the cashpoint_switch role's password (its first line).")
    public var switchPasswordFile: String?

    public init() {}
}

/// A terminal to register with `atm-switch terminal add`.
public struct NewTerminalOptions: ParsableArguments, Sendable {
    @Argument(help: "The terminal id (field 41): 1-8 capital letters or digits.")
    public var id: String

    @Option(help: "atm or branch.")
    public var kind: String = "atm"

    @Option(help: "Where it stands.")
    public var location: String = ""

    public init() {}

    public func validate() throws {
        _ = try SwitchCommands.newTerminal(self)
    }
}
