import CashpointBank
import CashpointStore
import CashpointSwitch
import CashpointTestSupport
import Foundation
import CashpointDatabase
import PostgresNIO
import Testing

@Suite("Start-up checks", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct StartupTests {
    @Test("a database that was never migrated is refused at start, with a sentence saying to run migrate")
    func neverMigrated() async throws {
        try await TestBank.withEmptyDatabase { url in
            let error = try await Self.refusal(url)
            #expect(error.kind == .notMigrated)
            #expect(error.description.contains("run `atm-switch migrate`"))
            #expect(error.description.contains(url.database))
        }
    }

    @Test("a database that lacks a migration of this build is refused at start, naming it")
    func behind() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            let latest = try #require(try Migration.bundled().last)
            try await bank.asSuperuser { connection in
                try await connection.query(
                    "DELETE FROM public.cashpoint_migrations WHERE version = \(latest.version)",
                    logger: quietLogger
                )
            }
            let error = try await Self.refusal(bank.switchURL)
            #expect(error.kind == .behind(missing: [latest.version]))
        }
    }

    @Test("a database without this build's definition of a function is refused at start, naming its file")
    func functionNotCurrent() async throws {
        try await TestBank.with { (bank: TestBank, _: Bank) async throws in
            try await bank.asSuperuser { connection in
                try await connection.query(
                    "UPDATE public.cashpoint_repeatable_migrations SET checksum = 'older' WHERE name = 'post'",
                    logger: quietLogger
                )
            }
            let error = try await Self.refusal(bank.switchURL)
            #expect(error.kind == .functionsNotCurrent(names: ["post"]))
            #expect(error.description.contains("functions/post.sql"))
            #expect(error.description.contains("run `atm-switch migrate`"))
        }
    }

    /// Starts a switch on the database, which must refuse it.
    static func refusal(_ url: DatabaseURL) async throws -> SchemaNotReady {
        let application = SwitchApplication(
            url: url,
            hasher: testHasher,
            switchKey: testSwitchKey,
            configuration: SwitchConfiguration(host: "127.0.0.1", port: 0),
            poolSize: 1,
            logger: quietLogger
        )
        return try await #require(throws: SchemaNotReady.self) {
            let running = try await RunningSwitch.start(application)
            try await running.stop()
        }
    }
}
