import ATM87
import ArgumentParser
import CashpointSecurity
import CashpointTerminal
import Foundation

@main
struct ATMTerminal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm-terminal",
        abstract: "The ATM and teller terminal.",
        discussion: """
            atm: the ATM a customer uses, against a running switch; teller: a branch desk for tellers and \
            administrators. journal, totals, saf, cassettes, replenish and reconcile: the operator's commands \
            on an ATM's data folder (its electronic journal).
            """,
        subcommands: [
            ATM.self, Teller.self, Journal.self, Totals.self, SAF.self, Cassettes.self, Replenish.self, Reconcile.self,
            Compose.self,
        ]
    )
}

struct Compose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the 0200 request for a transaction and print it (masked) and its frame.",
        discussion: """
            The frame is printed as a hex dump. It carries no PIN block, session token or MAC: those need \
            the session keys a sign-on delivers.
            """
    )

    @Argument(help: "withdrawal, deposit, balance, transfer, statement or pin-change.")
    var kind: String

    @Option(help: "The card number (digits).")
    var pan: String

    @Option(help: "The amount in minor units (cents).")
    var amount: Int = 0

    @Option(help: "The terminal id (up to 8 characters).")
    var terminal = "ATM00001"

    @Option(help: "ISO 4217 numeric currency code.")
    var currency = "978"

    @Option(help: "The systems trace audit number, 1-999999.")
    var stan = 1

    @Option(help: "The account to pay into (transfers).")
    var toAccount: String?

    @Option(help: "The account to take from, when the card has more than one.")
    var fromAccount: String?

    func run() async throws {
        guard let kind = TransactionKind(rawValue: self.kind) else {
            throw ValidationError(
                "unknown transaction '\(self.kind)'; choose one of "
                    + TransactionKind.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        let builder = TransactionRequestBuilder(terminalID: self.terminal, currency: self.currency)
        let message: ATM87Message
        do {
            message = try builder.request(
                kind,
                pan: self.pan,
                amount: self.amount,
                stan: self.stan,
                time: TransmissionTime(unixSeconds: Int(Date().timeIntervalSince1970)),
                fromAccount: self.fromAccount,
                toAccount: self.toAccount
            )
        } catch let error as RequestError {
            throw ValidationError(error.reason)
        }
        print(ATM87PrettyPrinter.format(message))
        print(HexDump.format(message.framedBytes))
    }
}

/// Where the switch is, which terminal this is, and its master key: a configuration file, and flags
/// that override its entries.
struct TerminalOptions: ParsableArguments {
    @Option(help: "The terminal's configuration file (JSON; docs/operations.md lists its entries).")
    var config: String?

    @Option(help: "The switch's host (default 127.0.0.1).")
    var host: String?

    @Option(help: "The switch's ATM-87 port (default 8583).")
    var port: Int?

    @Option(help: "The terminal id (default: ATM00001 for atm, BRANCH01 for teller).")
    var terminal: String?

    @Option(help: "A file holding the terminal's master key (64 hex characters).")
    var masterKeyFile: String?

    @Option(help: "A demo bank fixture whose terminals carry TEST master keys (default fixtures/bank.json).")
    var fixture: String?

    @Option(help: "The terminal's data folder: its journal and queue (default: the configuration's, else .data/terminals/ID).")
    var dataFolder: String?

    /// The configuration file (or the defaults) with the flags applied.
    func configuration(defaultTerminal: String) throws -> TerminalConfiguration {
        var configuration: TerminalConfiguration
        if let file = self.config {
            do {
                configuration = try TerminalConfiguration(contentsOfFile: file)
            } catch {
                throw ValidationError(error.description)
            }
        } else {
            configuration = TerminalConfiguration(
                terminal: defaultTerminal,
                cassettes: [
                    Cassette(denomination: 2_000, count: 500, currency: "978", lowThreshold: 50),
                    Cassette(denomination: 5_000, count: 200, currency: "978", lowThreshold: 20),
                ]
            )
        }
        if let host = self.host { configuration.host = host }
        if let port = self.port {
            guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1 to 65535") }
            configuration.port = port
        }
        if let terminal = self.terminal { configuration.terminal = terminal }
        if let folder = self.dataFolder { configuration.dataFolder = folder }
        if let file = self.masterKeyFile {
            configuration.masterKeyFile = file
            configuration.fixture = nil
        } else if let fixture = self.fixture {
            configuration.fixture = fixture
            configuration.masterKeyFile = nil
        } else if configuration.masterKeyFile == nil && configuration.fixture == nil {
            configuration.fixture = "fixtures/bank.json"
        }
        return configuration
    }

    /// Signs on, runs `body` with the session, signs off.
    func withSession(
        defaultTerminal: String,
        _ body: (TerminalSession, ConsoleKeypad) async throws -> Void
    )
        async throws
    {
        let configuration = try self.configuration(defaultTerminal: defaultTerminal)
        let terminal = configuration.terminal
        let key: SecretKey
        do {
            key = try configuration.loadMasterKey()
        } catch {
            throw ValidationError(error.description)
        }
        let io = ConsoleKeypad()
        do {
            try await SwitchLink.with(host: configuration.host, port: configuration.port) { link in
                let session = TerminalSession(link: link, terminal: terminal, masterKey: key.key)
                let answer = try await session.signOn()
                guard answer[39] == "00" else {
                    throw ValidationError("the switch refused the sign-on of \(terminal) (\(answer[39] ?? "no code"))")
                }
                io.show("== Cashpoint \(terminal): signed on, session keys received ==")
                try await body(session, io)
                _ = try? await session.signOff()
                io.show("== signed off ==")
            }
        } catch let error as LinkError {
            throw ValidationError("the switch at \(configuration.host):\(configuration.port): \(error)")
        }
    }
}

struct Teller: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a branch desk against a switch: a teller or administrator signs on, then serves customers.",
        discussion:
            "Test users: tina.teller / teller-test-password, ada.admin / admin-test-password (fixtures/README.md)."
    )

    @OptionGroup var options: TerminalOptions

    func run() async throws {
        try await self.options.withSession(defaultTerminal: "BRANCH01") { session, io in
            try await TellerDesk(session: session, io: io).run()
        }
    }
}

struct ATM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm",
        abstract: "Run an ATM against a switch: card, PIN, function-key menus, cash from its cassettes, receipts.",
        discussion: """
            Full screen at a terminal; plain text (one screen after another, one line of input at a time) \
            with --plain or when standard input is not a terminal. Without --config: terminal ATM00001 with \
            500 notes of 20 and 200 of 50, and the demo fixture's test master key. Test cards and PINs: \
            fixtures/README.md; example configurations: fixtures/terminals/.
            """
    )

    @OptionGroup var options: TerminalOptions

    @Flag(help: "Plain text screens and line input (for scripts and tests), even at a terminal.")
    var plain = false

    @Option(help: "Inject a fault: jam:N stops the dispenser after N notes of the next dispense.")
    var fault: String?

    @Option(help: "A line shown beside the ATM (repeatable; the demo lists its test cards and PINs).")
    var note: [String] = []

    func run() async throws {
        var dispenser = EmulatedDispenser()
        if let fault = self.fault {
            guard fault.hasPrefix("jam:"), let notes = Int(fault.dropFirst(4)), notes >= 0 else {
                throw ValidationError("--fault takes jam:N (N notes, 0 or more), got '\(fault)'")
            }
            dispenser.jamAfter = notes
        }
        let configuration = try self.options.configuration(defaultTerminal: "ATM00001")
        do {
            try await ATMConsole.run(configuration: configuration, plain: self.plain, dispenser: dispenser, notes: self.note)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

// MARK: The operator's commands

extension TerminalOptions {
    /// The terminal's data folder, locked: the ATM must not be serving while its cash changes.
    func lock() throws -> TerminalLock {
        let configuration = try self.configuration(defaultTerminal: "ATM00001")
        do {
            return try TerminalLock.take(folder: configuration.dataFolderPath)
        } catch {
            throw ValidationError(error.description)
        }
    }
}

/// Runs an operator's command on the terminal's journal, turning its failures into one-line errors.
func onJournal<T>(_ options: TerminalOptions, defaultTerminal: String = "ATM00001", _ body: (TerminalConfiguration, ElectronicJournal) async throws -> T) async throws -> T {
    let configuration = try options.configuration(defaultTerminal: defaultTerminal)
    do {
        let journal = try configuration.openJournal()
        return try await body(configuration, journal)
    } catch let error as TerminalConfiguration.StartError {
        throw ValidationError(error.description)
    } catch let error as TerminalOperations.Failure {
        throw ValidationError(error.description)
    } catch let error as JournalError {
        throw ValidationError(error.description)
    }
}

struct Journal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The ATM's electronic journal: print it, or verify its chain.",
        subcommands: [Show.self, Verify.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print the journal (the default).")

        @OptionGroup var options: TerminalOptions

        @Option(help: "Only this card session (the number after s in the listing).")
        var session: Int64?

        @Option(help: "Only records from this time on: 2026-12-01 or 2026-12-01T15:30:00Z (UTC).")
        var since: String?

        @Flag(help: "JSON, one object per record.")
        var json = false

        func run() async throws {
            var since: Int64?
            if let text = self.since {
                guard let date = Self.parse(text) else {
                    throw ValidationError("--since takes a UTC date or time such as 2026-12-01 or 2026-12-01T15:30:00Z")
                }
                since = Int64(date.timeIntervalSince1970 * 1_000)
            }
            let text = try await onJournal(self.options) { _, journal in
                try TerminalOperations.journal(journal, session: self.session, since: since, json: self.json)
            }
            print(text)
        }

        static func parse(_ text: String) -> Date? {
            let full = ISO8601DateFormatter()
            if let date = full.date(from: text) { return date }
            let day = ISO8601DateFormatter()
            day.formatOptions = [.withFullDate]
            return day.date(from: text)
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the journal's chain: finds a record altered, removed or inserted (exit 1)."
        )

        @OptionGroup var options: TerminalOptions

        func run() async throws {
            let result = try await onJournal(self.options) { _, journal in try TerminalOperations.verify(journal) }
            print(result.text)
            if !result.ok { throw ExitCode(1) }
        }
    }
}

struct Totals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts and amounts per transaction type since the last cutover, and the cassettes."
    )

    @OptionGroup var options: TerminalOptions

    func run() async throws {
        print(try await onJournal(self.options) { configuration, journal in
            try TerminalOperations.totals(journal, currency: configuration.currency)
        })
    }
}

struct SAF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saf",
        abstract: "The store-and-forward queue of reversal advices, with the entries left for the operator."
    )

    @OptionGroup var options: TerminalOptions

    func run() async throws {
        print(try await onJournal(self.options) { _, journal in try TerminalOperations.saf(journal) })
    }
}

struct Cassettes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The cassettes' counts as the journal keeps them.")

    @OptionGroup var options: TerminalOptions

    func run() async throws {
        print(try await onJournal(self.options) { _, journal in try TerminalOperations.cassettes(journal).joined(separator: "\n") })
    }
}

struct Replenish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "New cassettes: the cash out and in goes to the switch's ledger, the counts to the journal.",
        discussion: "The ATM must be stopped (its data folder is locked while it runs)."
    )

    @OptionGroup var options: TerminalOptions

    @Option(help: "The new count of each cassette, in order, e.g. 500,200.")
    var counts: String

    func run() async throws {
        let counts = try self.counts.split(separator: ",").map { part -> Int in
            guard let count = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--counts takes whole numbers separated by commas, e.g. 500,200")
            }
            return count
        }
        let lock = try self.options.lock()
        defer { lock.release() }
        print(try await onJournal(self.options) { configuration, journal in
            try await TerminalOperations.replenish(configuration, journal: journal, counts: counts)
        })
    }
}

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "End of day: the totals since the last cutover against the switch's ledger (0500/0510), then a cutover.",
        discussion: "Exit status 1 when the two sides differ (both still close the period). The ATM must be stopped."
    )

    @OptionGroup var options: TerminalOptions

    func run() async throws {
        let lock = try self.options.lock()
        defer { lock.release() }
        let result = try await onJournal(self.options) { configuration, journal in
            try await TerminalOperations.reconcile(configuration, journal: journal)
        }
        print(result.text)
        if !result.balanced { throw ExitCode(1) }
    }
}
