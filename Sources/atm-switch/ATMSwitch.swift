import ArgumentParser
import CashpointDatabase
import Foundation
import Logging
import PostgresNIO

@main
struct ATMSwitch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atm-switch",
        abstract: "The Cashpoint switch.",
        discussion: """
            The bank (migrate, seed, ledger and audit verification) and the network service (serve) are \
            not built yet. Today it checks that the database it will use answers.
            """,
        subcommands: [CheckDatabase.self]
    )
}

struct CheckDatabase: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-database",
        abstract: "Connect to PostgreSQL and report its version and durability settings.",
        discussion: "Exits 1 if the URL is invalid or the database does not answer within 10 seconds."
    )

    @Option(help: "postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: $CASHPOINT_DATABASE_URL).")
    var databaseURL: String?

    func run() async throws {
        guard let text = self.databaseURL ?? ProcessInfo.processInfo.environment["CASHPOINT_DATABASE_URL"] else {
            throw ValidationError(
                "no database: pass --database-url or set CASHPOINT_DATABASE_URL (scripts/pg url prints it)"
            )
        }
        let url: DatabaseURL
        do {
            url = try DatabaseURL(text)
        } catch {
            throw ValidationError(error.description)
        }
        var logger = Logger(label: "atm-switch")
        logger.logLevel = .warning
        do {
            let report = try await DatabaseCheck.run(url, logger: logger)
            print("database \(url): \(report.version)")
            print("fsync=\(report.fsync) synchronous_commit=\(report.synchronousCommit)")
        } catch {
            print("database \(url) did not answer: \(String(reflecting: error))")
            throw ExitCode(1)
        }
    }
}
