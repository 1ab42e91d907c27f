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
            atm: a customer's keypad session against a running switch; teller: a branch desk for tellers \
            and administrators. The electronic journal and store-and-forward are not built yet.
            """,
        subcommands: [ATM.self, Teller.self, Compose.self]
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

/// Where the switch is, which terminal this is, and its master key.
struct TerminalOptions: ParsableArguments {
    @Option(help: "The switch's host.")
    var host = "127.0.0.1"

    @Option(help: "The switch's ATM-87 port.")
    var port = 8583

    @Option(help: "The terminal id (default: ATM00001 for atm, BRANCH01 for teller).")
    var terminal: String?

    @Option(help: "A file holding the terminal's master key (64 hex characters).")
    var masterKeyFile: String?

    @Option(help: "The demo bank fixture, whose terminals carry test master keys.")
    var fixture = "fixtures/bank.json"

    /// Signs on, runs `body` with the session, signs off.
    func withSession(
        defaultTerminal: String,
        _ body: (TerminalSession, ConsoleKeypad) async throws -> Void
    )
        async throws
    {
        let terminal = self.terminal ?? defaultTerminal
        let key = try self.masterKey(terminal)
        let io = ConsoleKeypad()
        do {
            try await SwitchLink.with(host: self.host, port: self.port) { link in
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
            throw ValidationError("the switch at \(self.host):\(self.port): \(error)")
        }
    }

    func masterKey(_ terminal: String) throws -> SecretKey {
        do {
            if let file = self.masterKeyFile {
                return try SecretKey(contentsOfFile: file, name: "master key")
            }
            let data = try Data(contentsOf: URL(fileURLWithPath: self.fixture))
            struct Fixture: Decodable {
                struct Terminal: Decodable {
                    var id: String
                    var masterKey: String?
                }
                var terminals: [Terminal]
            }
            let fixture = try JSONDecoder().decode(Fixture.self, from: data)
            guard let hex = fixture.terminals.first(where: { $0.id == terminal })?.masterKey else {
                throw ValidationError("\(self.fixture) has no master key for \(terminal): pass --master-key-file")
            }
            return try SecretKey(hex: hex, name: "master key of \(terminal)")
        } catch let error as SecretKey.LoadError {
            throw ValidationError(error.description)
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
        abstract: "Run an ATM against a switch: insert a card, enter the PIN (masked), choose transactions.",
        discussion: """
            Signs on as the terminal with its master key (from --master-key-file, or the demo fixture's \
            test keys), then serves customers until q or the end of input. Test cards and PINs: \
            fixtures/README.md.
            """
    )

    @OptionGroup var options: TerminalOptions

    func run() async throws {
        try await self.options.withSession(defaultTerminal: "ATM00001") { session, io in
            try await ATMKeypad(session: session, io: io).run()
        }
    }
}
