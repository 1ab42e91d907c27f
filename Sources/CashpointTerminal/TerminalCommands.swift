public import ATM87
public import ArgumentParser
public import Foundation

extension TerminalConfiguration {
    /// The cassettes of a terminal without a configuration file: 500 notes of 20 and 200 of 50.
    public static let defaultCassettes = [
        Cassette(denomination: 2_000, count: 500, currency: "978", lowThreshold: 50),
        Cassette(denomination: 5_000, count: 200, currency: "978", lowThreshold: 20),
    ]

    /// The demo bank fixture whose TEST master keys a terminal uses when it is given no key.
    public static let defaultFixture = "fixtures/bank.json"

    /// The configuration `arguments` name: their file, else the defaults for `defaultTerminal`, with
    /// their overrides applied. A master key file named by the options wins over a fixture, and either
    /// over the file's; with none anywhere, the demo fixture's test key.
    public init(_ arguments: TerminalOptions, defaultTerminal: String) throws(ValidationError) {
        if let file = arguments.config {
            do {
                self = try TerminalConfiguration(contentsOfFile: file)
            } catch {
                throw ValidationError(error.description)
            }
        } else {
            self = TerminalConfiguration(terminal: defaultTerminal, cassettes: Self.defaultCassettes)
        }
        if !arguments.switches.isEmpty {
            guard arguments.host == nil, arguments.port == nil else {
                throw ValidationError("--switch cannot be given with --host or --port: list every switch with --switch HOST:PORT")
            }
            var addresses: [SwitchAddress] = []
            for text in arguments.switches {
                let address: SwitchAddress
                do {
                    address = try SwitchAddress(parsing: text)
                } catch {
                    throw ValidationError("--switch \(error)")
                }
                guard !addresses.contains(address) else { throw ValidationError("--switch \(text) is given twice") }
                addresses.append(address)
            }
            self.switches = addresses
        }
        if arguments.host != nil || arguments.port != nil {
            // One switch: the flags' host and port, each else the first configured switch's.
            let first = self.switches[0]
            let port = arguments.port ?? first.port
            guard (1...65_535).contains(port) else { throw ValidationError("--port must be 1 to 65535") }
            self.switches = [SwitchAddress(host: arguments.host ?? first.host, port: port)]
        }
        if let terminal = arguments.terminal { self.terminal = terminal }
        if let folder = arguments.dataFolder { self.dataFolder = folder }
        if let file = arguments.masterKeyFile {
            self.masterKeyFile = file
            self.fixture = nil
        } else if let fixture = arguments.fixture {
            self.fixture = fixture
            self.masterKeyFile = nil
        } else if self.masterKeyFile == nil && self.fixture == nil {
            self.fixture = Self.defaultFixture
        }
    }
}

/// The `atm-terminal` commands, one function each: the executable parses the options and calls one.
/// The operator's commands work on an ATM's data folder (default terminal ATM00001) and return what
/// they print; `ok` false makes the command exit 1.
/// A command that cannot run as asked throws `ValidationError`: it exits 64 with the reason, as for a
/// bad option.
public enum TerminalCommands {
    /// The ATM at the console (`ATMConsole`), with the fault `--fault` injects.
    public static func atm(
        _ arguments: TerminalOptions,
        plain: Bool,
        fault: String?,
        notes: [String]
    ) async throws(ValidationError) {
        var dispenser = EmulatedDispenser()
        if let fault { dispenser.jamAfter = try self.jamAfter(fault: fault) }
        let configuration = try TerminalConfiguration(arguments, defaultTerminal: "ATM00001")
        do {
            try await ATMConsole.run(configuration: configuration, plain: plain, dispenser: dispenser, notes: notes)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// `--fault jam:N`: the notes the dispenser gives before it jams.
    public static func jamAfter(fault: String) throws(ValidationError) -> Int {
        guard fault.hasPrefix("jam:"), let notes = Int(fault.dropFirst(4)), notes >= 0 else {
            throw ValidationError("--fault takes jam:N (N notes, 0 or more), got '\(fault)'")
        }
        return notes
    }

    /// The branch desk: signs on, serves tellers and administrators at `io`, signs off.
    public static func teller(_ arguments: TerminalOptions, io: some KeypadIO) async throws {
        let configuration = try TerminalConfiguration(arguments, defaultTerminal: "BRANCH01")
        try await self.teller(configuration, connector: TCPConnector(), io: io)
    }

    /// The branch desk of `configuration` through `connector`: after a lost link it signs on to the
    /// next switch of the list that answers and goes on (the staff token stays valid there: it is the
    /// bank's); it stops when none answers.
    public static func teller(
        _ configuration: TerminalConfiguration,
        connector: any ATMConnector,
        io: some KeypadIO
    ) async throws {
        do {
            try await TerminalSession.withSignedOn(configuration, connector: connector) { session, links in
                io.show("== Cashpoint \(configuration.terminal): signed on to the switch at \(links.current), session keys received ==")
                let desk = TellerDesk(session: session, io: io)
                desk.relink = { try await links.signOn(session, next: true) }
                try await desk.run()
            }
            io.show("== signed off ==")
        } catch let error as TerminalConfiguration.StartError {
            throw ValidationError(error.description)
        } catch let error as SignOnRefused {
            throw ValidationError(error.description)
        } catch let error as LinkError {
            throw ValidationError("\(configuration.switchesText): \(error)")
        }
    }

    /// The 0200 of `compose`, masked, and its frame as a hex dump.
    public static func compose(_ options: ComposeOptions) throws -> String {
        guard let kind = TransactionKind(rawValue: options.kind) else {
            throw ValidationError(
                "unknown transaction '\(options.kind)'; choose one of "
                    + TransactionKind.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        let builder = TransactionRequestBuilder(terminalID: options.terminal, currency: options.currency)
        let message: ATM87Message
        do {
            message = try builder.request(
                kind,
                pan: options.pan,
                amount: options.amount,
                stan: options.stan,
                time: TransmissionTime(unixSeconds: Int(Date().timeIntervalSince1970)),
                fromAccount: options.fromAccount,
                toAccount: options.toAccount
            )
        } catch let error as RequestError {
            throw ValidationError(error.reason)
        }
        return ATM87PrettyPrinter.format(message) + "\n" + HexDump.format(message.framedBytes)
    }

    // MARK: The operator's commands

    /// `--since`: a UTC date or time (2026-12-01, 2026-12-01T15:30:00Z), in milliseconds since 1970.
    public static func since(_ text: String) throws(ValidationError) -> Int64 {
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        guard let date = ISO8601DateFormatter().date(from: text) ?? day.date(from: text) else {
            throw ValidationError("--since takes a UTC date or time such as 2026-12-01 or 2026-12-01T15:30:00Z")
        }
        return Int64(date.timeIntervalSince1970 * 1_000)
    }

    /// `--counts`: one whole number per cassette, separated by commas.
    public static func counts(_ text: String) throws(ValidationError) -> [Int] {
        var counts: [Int] = []
        for part in text.split(separator: ",") {
            guard let count = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--counts takes whole numbers separated by commas, e.g. 500,200")
            }
            counts.append(count)
        }
        return counts
    }

    public static func journal(
        _ arguments: TerminalOptions,
        session: Int64?,
        since: String?,
        json: Bool
    ) async throws -> String {
        let from = try since.map { text throws(ValidationError) in try Self.since(text) }
        return try await self.onJournal(arguments) { _, journal in
            try TerminalOperations.journal(journal, session: session, since: from, json: json)
        }
    }

    public static func verifyJournal(_ arguments: TerminalOptions) async throws -> (text: String, ok: Bool) {
        try await self.onJournal(arguments) { _, journal in try TerminalOperations.verify(journal) }
    }

    public static func totals(_ arguments: TerminalOptions) async throws -> String {
        try await self.onJournal(arguments) { configuration, journal in
            try TerminalOperations.totals(journal, currency: configuration.currency)
        }
    }

    public static func saf(_ arguments: TerminalOptions) async throws -> String {
        try await self.onJournal(arguments) { _, journal in try TerminalOperations.saf(journal) }
    }

    public static func cassettes(_ arguments: TerminalOptions) async throws -> String {
        try await self.onJournal(arguments) { _, journal in
            try TerminalOperations.cassettes(journal).joined(separator: "\n")
        }
    }

    /// New counts, with the ATM stopped (its data folder locked meanwhile).
    public static func replenish(_ arguments: TerminalOptions, counts text: String) async throws -> String {
        let counts = try self.counts(text)
        let lock = try self.lock(arguments)
        defer { lock.release() }
        return try await self.onJournal(arguments) { configuration, journal in
            try await TerminalOperations.replenish(configuration, journal: journal, counts: counts)
        }
    }

    /// End of day, with the ATM stopped; not ok when the two sides differ.
    public static func reconcile(_ arguments: TerminalOptions) async throws -> (text: String, ok: Bool) {
        let lock = try self.lock(arguments)
        defer { lock.release() }
        let result = try await self.onJournal(arguments) { configuration, journal in
            try await TerminalOperations.reconcile(configuration, journal: journal)
        }
        return (result.text, result.balanced)
    }

    /// The terminal's data folder, locked: the ATM must not be serving while its cash changes.
    static func lock(_ arguments: TerminalOptions) throws(ValidationError) -> TerminalLock {
        let configuration = try TerminalConfiguration(arguments, defaultTerminal: "ATM00001")
        do {
            return try TerminalLock.take(folder: configuration.dataFolderPath)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Runs an operator's command on the terminal's journal; its failures become one-line errors.
    static func onJournal<T>(
        _ arguments: TerminalOptions,
        _ body: (TerminalConfiguration, ElectronicJournal) async throws -> T
    ) async throws -> T {
        let configuration = try TerminalConfiguration(arguments, defaultTerminal: "ATM00001")
        do {
            return try await body(configuration, try configuration.openJournal())
        } catch let error as TerminalConfiguration.StartError {
            throw ValidationError(error.description)
        } catch let error as TerminalOperations.Failure {
            throw ValidationError(error.description)
        } catch let error as JournalError {
            throw ValidationError(error.description)
        }
    }
}
