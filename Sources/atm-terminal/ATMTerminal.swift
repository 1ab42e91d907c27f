import ATM87
import ArgumentParser
import CashpointTerminal
import Foundation

@main
struct ATMTerminal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm-terminal",
        abstract: "The ATM and teller terminal.",
        discussion: """
            The keypad session, the teller mode, the electronic journal and store-and-forward come with \
            the switch's network service and are not built yet. Today it composes the requests it will send.
            """,
        subcommands: [Compose.self]
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
