import ArgumentParser
import CashpointTerminal

@main
struct ATMTerminal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm-terminal",
        abstract: "The ATM and teller terminal.",
        discussion: """
            atm: the ATM a customer uses, against a running switch; teller: a branch desk for tellers and \
            administrators. journal, totals, saf, cassettes, replenish and reconcile: the operator's commands \
            on an ATM's data folder (its electronic journal). totp: a staff member's one-time password.
            """,
        subcommands: [
            ATM.self, Teller.self, Journal.self, Totals.self, SAF.self, Cassettes.self, Replenish.self, Reconcile.self,
            Compose.self, Totp.self,
        ]
    )
}

/// Prints a command's text; exits 1 if it is not ok.
func report(_ result: (text: String, ok: Bool)) throws {
    print(result.text)
    if !result.ok { throw ExitCode(1) }
}

struct ATM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an ATM against a switch: card, PIN, function-key menus, cash from its cassettes, receipts.",
        discussion: """
            Full screen at a terminal; plain text (one screen after another, one line of input at a time) \
            with --plain or when standard input is not a terminal. Without --config: terminal ATM00001 with \
            500 notes of 20 and 200 of 50, and the demo fixture's test master key. Test cards and PINs: \
            fixtures/README.md; example configurations: fixtures/terminals/.
            """
    )

    @OptionGroup var options: TerminalOptions
    @Flag(help: "Plain text screens and line input (for scripts and tests), even at a terminal.") var plain = false
    @Option(help: "Inject a fault: jam:N stops the dispenser after N notes of the next dispense.") var fault: String?
    @Option(help: "A line shown beside the ATM (repeatable; the demo lists its test cards and PINs).")
    var note: [String] = []

    func run() async throws { try await TerminalCommands.atm(options, plain: plain, fault: fault, notes: note) }
}

struct Teller: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a branch desk against a switch: a teller, administrator or compliance officer signs on, then serves customers.",
        discussion: """
            Staff sign on with a password and a one-time code from an authenticator app (a member of staff \
            without one enrols with an enrolment code: the desk shows the secret, its QR code and recovery \
            codes once). Unlocks, limits, roles, new staff and big desk amounts are held until a second member \
            of staff approves them (menu: pending approvals). Test users: tina.teller / teller-test-password, \
            ada.admin / admin-test-password, tom.teller / teller2-test-password; their codes: atm-terminal \
            totp --secret-file fixtures/test-keys/USER.totp; nina.new / new-test-password enrols with \
            NEWST-AFF22 (fixtures/README.md).
            """
    )
    @OptionGroup var options: TerminalOptions

    func run() async throws { try await TerminalCommands.teller(options, io: ConsoleKeypad()) }
}

struct Journal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The ATM's electronic journal: print it, or verify its chain.",
        subcommands: [Show.self, Verify.self],
        defaultSubcommand: Show.self
    )

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the journal (the default).")
        @OptionGroup var options: TerminalOptions
        @Option(help: "Only this card session (the number after s in the listing).") var session: Int64?
        @Option(help: "Only records from this time on: 2026-12-01 or 2026-12-01T15:30:00Z (UTC).") var since: String?
        @Flag(help: "JSON, one object per record.") var json = false

        func run() async throws {
            print(try await TerminalCommands.journal(options, session: session, since: since, json: json))
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk the journal's chain: finds a record altered, removed or inserted (exit 1)."
        )
        @OptionGroup var options: TerminalOptions

        func run() async throws { try report(try await TerminalCommands.verifyJournal(options)) }
    }
}

struct Totals: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts and amounts per transaction type since the last cutover, and the cassettes."
    )
    @OptionGroup var options: TerminalOptions

    func run() async throws { print(try await TerminalCommands.totals(options)) }
}

struct SAF: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "saf",
        abstract: "The store-and-forward queue of reversal advices, with the entries left for the operator."
    )
    @OptionGroup var options: TerminalOptions

    func run() async throws { print(try await TerminalCommands.saf(options)) }
}

struct Cassettes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The cassettes' counts as the journal keeps them.")
    @OptionGroup var options: TerminalOptions

    func run() async throws { print(try await TerminalCommands.cassettes(options)) }
}

struct Replenish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "New cassettes: the cash out and in goes to the switch's ledger, the counts to the journal.",
        discussion: "The ATM must be stopped (its data folder is locked while it runs)."
    )
    @OptionGroup var options: TerminalOptions
    @Option(help: "The new count of each cassette, in order, e.g. 500,200.") var counts: String

    func run() async throws { print(try await TerminalCommands.replenish(options, counts: counts)) }
}

struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: """
            End of day: the totals since the last cutover against the switch's ledger (0500/0510), then a \
            cutover.
            """,
        discussion: "Exit status 1 when the two sides differ (both still close the period). The ATM must be stopped."
    )
    @OptionGroup var options: TerminalOptions

    func run() async throws { try report(try await TerminalCommands.reconcile(options)) }
}

struct Compose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build the 0200 request for a transaction and print it (masked) and its frame.",
        discussion: """
            The frame is printed as a hex dump. It carries no PIN block, session token or MAC: those need \
            the session keys a sign-on delivers.
            """
    )

    @OptionGroup var options: ComposeOptions

    func run() async throws { print(try TerminalCommands.compose(options)) }
}

struct Totp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the one-time password (RFC 6238 TOTP) of a base32 secret and the seconds left in its step.",
        discussion: "A file that gives no secret: the reason (never its content), exit status 1."
    )
    @OptionGroup var options: TotpOptions

    func run() async throws { print(try TerminalCommands.totp(options)) }
}
