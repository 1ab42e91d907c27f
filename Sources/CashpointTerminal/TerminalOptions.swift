public import ArgumentParser

// The option groups of `atm-terminal`: what `TerminalCommands` takes, parsed by the executable's commands.

/// Where the switch is, which terminal this is, and its master key: a configuration file, and flags
/// that override its entries (`TerminalConfiguration.init(_:defaultTerminal:)`).
public struct TerminalOptions: ParsableArguments, Sendable {
    @Option(help: "The terminal's configuration file (JSON; docs/operations.md lists its entries).")
    public var config: String?

    @Option(
        name: .customLong("switch"),
        help: ArgumentHelp(
            "A switch, HOST:PORT ([IPV6]:PORT); repeat it for more, tried in order when the link is lost.",
            valueName: "host:port"
        )
    )
    public var switches: [String] = []

    @Option(help: "The switch's host (default 127.0.0.1); one switch (instead of --switch).")
    public var host: String?

    @Option(help: "The switch's ATM-87 port (default 8583).")
    public var port: Int?

    @Option(help: "The terminal id (default: ATM00001 for atm, BRANCH01 for teller).")
    public var terminal: String?

    @Option(help: "A file holding the terminal's master key (64 hex characters).")
    public var masterKeyFile: String?

    @Option(help: "A demo bank fixture whose terminals carry TEST master keys (default fixtures/bank.json).")
    public var fixture: String?

    @Option(
        help:
            "The terminal's data folder: its journal and queue (default: the configuration's, else .data/terminals/ID)."
    )
    public var dataFolder: String?

    public init() {}
}

/// The transaction `atm-terminal compose` builds.
public struct ComposeOptions: ParsableArguments, Sendable {
    @Argument(help: "withdrawal, deposit, balance, transfer, statement or pin-change.")
    public var kind: String

    @Option(help: "The card number (digits).")
    public var pan: String

    @Option(help: "The amount in minor units (cents).")
    public var amount: Int = 0

    @Option(help: "The terminal id (up to 8 characters).")
    public var terminal: String = "ATM00001"

    @Option(help: "ISO 4217 numeric currency code.")
    public var currency: String = "978"

    @Option(help: "The systems trace audit number, 1-999999.")
    public var stan: Int = 1

    @Option(help: "The account to pay into (transfers).")
    public var toAccount: String?

    @Option(help: "The account to take from, when the card has more than one.")
    public var fromAccount: String?

    public init() {}
}
