import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Testing

@testable import CashpointDatabase

/// The private cluster's URL, which scripts/test sets. In CI the suite must run, so a missing URL fails
/// there instead of skipping.
let testDatabaseURL = ProcessInfo.processInfo.environment["CASHPOINT_TEST_DATABASE_URL"]
let mustRunDatabaseTests = ProcessInfo.processInfo.environment["CI"] == "true"

/// Quiet: postgres-nio reports each refused connection attempt at info level.
let quietLogger: Logger = {
    var logger = Logger(label: "cashpoint.test")
    logger.logLevel = .critical
    return logger
}()

@Suite("database URLs")
struct DatabaseURLTests {
    @Test("a full URL is read into its parts; the password stays out of the description")
    func parse() throws {
        let url = try DatabaseURL("postgres://cash%40point:s3cr%2Ft@127.0.0.1:54329/cashpoint?sslmode=disable")
        #expect(url.username == "cash@point")
        #expect(url.password == "s3cr/t")
        #expect(url.host == "127.0.0.1")
        #expect(url.port == 54329)
        #expect(url.database == "cashpoint")
        #expect(url.sslMode == "disable")
        #expect(!url.description.contains("s3cr"))
    }

    @Test("the port defaults to 5432 and postgresql:// is accepted")
    func defaults() throws {
        let url = try DatabaseURL("postgresql://u@db/bank")
        #expect(url.port == 5432)
        #expect(url.password == nil)
    }

    @Test("several servers, as pg_autoctl show uri prints them: each with its port, the target kept")
    func severalServers() throws {
        let url = try DatabaseURL(
            "postgres://cashpoint_switch:pw@127.0.0.1:6001,127.0.0.1:6002/cashpoint"
                + "?target_session_attrs=read-write&sslmode=prefer&connect_timeout=5"
        )
        #expect(url.endpoints == [.init(host: "127.0.0.1", port: 6001), .init(host: "127.0.0.1", port: 6002)])
        #expect(url.targetSessionAttributes == .readWrite)
        #expect(url.sslMode == "prefer")
        #expect(url.host == "127.0.0.1" && url.port == 6001)
        #expect(url.description == "postgres://cashpoint_switch:***@127.0.0.1:6001,127.0.0.1:6002/cashpoint?target_session_attrs=read-write")
        let second = url.on(url.endpoints[1])
        #expect(second.endpoints == [.init(host: "127.0.0.1", port: 6002)])
        #expect(second.password == "pw" && second.targetSessionAttributes == .readWrite)
        let mixed = try DatabaseURL("postgresql://u@db1,db2:6432,[::1]:7000,[fe80::2]/bank")
        #expect(mixed.endpoints.map(\.description) == ["db1:5432", "db2:6432", "[::1]:7000", "[fe80::2]:5432"])
        #expect(mixed.targetSessionAttributes == .any)
    }

    @Test(
        "bad URLs are refused with a reason",
        arguments: [
            "mysql://u@h/db", "postgres://u@h", "postgres://u@h/", "postgres://h:5432/db",
            "postgres://u@h:notaport/db", "postgres://u@h:70000/db", "postgres://u@:5432/db",
            "postgres://u@h/db?sslmode=maybe",
            // Several servers: an empty one, a bad port in the second, one named twice, an open bracket,
            // a target the switch does not honour, a parameter without a value.
            "postgres://u@h1:5432,/db", "postgres://u@,h2/db", "postgres://u@h1,h2:0/db", "postgres://u@h1:5432,h1/db",
            "postgres://u@[::1:5432/db", "postgres://u@[::1]5432/db", "postgres://u@h1,h2/db?target_session_attrs=standby",
            "postgres://u@h/db?sslmode",
        ]
    )
    func refused(text: String) {
        #expect(throws: DatabaseURL.ParseError.self) { try DatabaseURL(text) }
    }
}

@Suite("the private PostgreSQL", .enabled(if: testDatabaseURL != nil || mustRunDatabaseTests))
struct PrivateClusterTests {
    @Test("it answers, is PostgreSQL 15, and keeps fsync and synchronous commit on")
    func answers() async throws {
        let text = try #require(testDatabaseURL, "CASHPOINT_TEST_DATABASE_URL is not set: run scripts/test")
        let url = try DatabaseURL(text)
        let report = try await DatabaseCheck.run(url, logger: quietLogger)
        #expect(report.majorVersion == 15)
        #expect(report.version.hasPrefix("PostgreSQL 15"))
        #expect(report.fsync == "on")
        #expect(report.synchronousCommit == "on")
    }

    @Test("probe says why a database cannot be used: nothing listening, or a refused password")
    func probe() async throws {
        let url = try DatabaseURL(try #require(testDatabaseURL))
        try await url.probe(logger: quietLogger)
        var closed = url
        closed.port = 1
        let refused = await #expect(throws: DatabaseUnavailable.self) { try await closed.probe(logger: quietLogger) }
        #expect(refused?.reason.hasPrefix("cannot connect to \(url.host):1") == true)
        var wrong = url
        wrong.password = "wrong-password"
        let denied = await #expect(throws: DatabaseUnavailable.self) { try await wrong.probe(logger: quietLogger) }
        #expect(denied?.reason.contains("password authentication failed") == true)
    }

    @Test("locate: the first server that answers; with read-write, the first that takes writes; else why each did not")
    func locate() async throws {
        let url = try DatabaseURL(try #require(testDatabaseURL))
        let live = url.endpoints[0]
        let closed = DatabaseEndpoint(host: "127.0.0.1", port: 1)
        var list = url
        list.endpoints = [closed, live]
        #expect(try await list.locate(logger: quietLogger) == live)
        list.targetSessionAttributes = .readWrite
        #expect(try await list.locate(logger: quietLogger) == live)
        // A role whose sessions are read-only stands in for a standby: with read-write nothing qualifies,
        // and the error names what each server said.
        let role = "cp_locate_\(UInt32.random(in: 0...UInt32.max))"
        try await url.withConnection(logger: quietLogger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE ROLE \(role) LOGIN PASSWORD 'locate'"), logger: quietLogger)
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER ROLE \(role) SET default_transaction_read_only = on"),
                logger: quietLogger
            )
        }
        var standby = list.withUser(role, password: "locate")
        let refused = await #expect(throws: DatabaseUnavailable.self) { try await standby.locate(logger: quietLogger) }
        standby.targetSessionAttributes = .any
        let anyServer = try? await standby.locate(logger: quietLogger)
        try await url.withConnection(logger: quietLogger) { connection in
            try await connection.query(PostgresQuery(unsafeSQL: "DROP ROLE \(role)"), logger: quietLogger)
        }
        #expect(refused?.kind == .unreachable)
        #expect(refused?.reason.contains("cannot connect to 127.0.0.1:1") == true)
        #expect(refused?.reason.contains("\(live) is read-only (a standby)") == true)
        #expect(anyServer == live)
        // What a command gets: the URL of the server picked.
        let text = try #require(testDatabaseURL).replacingOccurrences(of: "@\(live)/", with: "@127.0.0.1:1,\(live)/")
        let picked = try await DatabaseURL.reachable(option: text, logger: quietLogger)
        #expect(text.contains(",\(live)/"))
        #expect(picked.endpoints == [live])
    }

    @Test("a wrong password is refused, not hung on")
    func wrongPassword() async throws {
        let text = try #require(testDatabaseURL)
        var url = try DatabaseURL(text)
        url.password = "wrong-password"
        await #expect(throws: (any Error).self) {
            try await DatabaseCheck.run(url, timeout: .seconds(5), logger: quietLogger)
        }
    }
}

@Suite("event loop executor")
struct EventLoopExecutorTests {
    @Test("a task that prefers the executor runs on its event loop, after suspensions too")
    func runsOnTheLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = group.next()
        let other = group.next()
        let executor = EventLoopExecutor(loop)
        let observed = await withTaskExecutorPreference(executor) {
            var seen = [loop.inEventLoop]
            await Task.yield()
            seen.append(loop.inEventLoop)
            // A future completed on another loop resumes the task back on its own.
            _ = try? await other.submit { 1 }.get()
            seen.append(loop.inEventLoop)
            return seen
        }
        #expect(observed == [true, true, true])
        let elsewhere = await Task.detached { loop.inEventLoop }.value
        #expect(!elsewhere)
        try await group.shutdownGracefully()
    }
}

@Suite("the database a command uses: its option, else its role's environment variables")
struct DatabaseURLEnvironmentTests {
    static let owner = "postgres://owner:pw@127.0.0.1:5432/cashpoint"
    static let switchRole = "postgres://cashpoint_switch:pw@127.0.0.1:5432/cashpoint"

    @Test("the switch role reads its own variable first, then the owner's; the owner only its own")
    func roles() throws {
        let both = ["CASHPOINT_DATABASE_URL": Self.owner, "CASHPOINT_SWITCH_DATABASE_URL": Self.switchRole]
        #expect(try DatabaseURL(option: nil, role: .switchRole, environment: both).username == "cashpoint_switch")
        #expect(try DatabaseURL(option: nil, role: .owner, environment: both).username == "owner")
        let ownerOnly = ["CASHPOINT_DATABASE_URL": Self.owner]
        #expect(try DatabaseURL(option: nil, role: .switchRole, environment: ownerOnly).username == "owner")
        let switchOnly = ["CASHPOINT_SWITCH_DATABASE_URL": Self.switchRole]
        let error = #expect(throws: DatabaseSettingError.self) {
            try DatabaseURL(option: nil, role: .owner, environment: switchOnly)
        }
        #expect(error?.code == .notGiven)
    }

    @Test("--database-url wins over every variable")
    func optionFirst() throws {
        let environment = ["CASHPOINT_DATABASE_URL": Self.owner, "CASHPOINT_SWITCH_DATABASE_URL": Self.switchRole]
        let url = try DatabaseURL(option: "postgres://other@db:6432/bank", role: .switchRole, environment: environment)
        #expect(url.username == "other")
        #expect(url.port == 6432)
    }

    @Test("no URL anywhere: the reason names the option and each variable; a bad one says why")
    func refused() {
        let missing = #expect(throws: DatabaseSettingError.self) {
            try DatabaseURL(option: nil, role: .switchRole, environment: [:])
        }
        #expect(missing?.code == .notGiven)
        #expect(
            missing?.reason
                == "no database: pass --database-url or set CASHPOINT_SWITCH_DATABASE_URL or CASHPOINT_DATABASE_URL "
                + "(scripts/pg env prints it)"
        )
        let invalid = #expect(throws: DatabaseSettingError.self) {
            try DatabaseURL(option: nil, environment: ["CASHPOINT_DATABASE_URL": "mysql://u@h/db"])
        }
        #expect(invalid?.code == .invalid)
        #expect(invalid?.reason.hasPrefix("invalid database URL: ") == true)
    }

    @Test("the variables of each role, in the order they are read")
    func variables() {
        #expect(DatabaseRole.owner.environmentVariables == ["CASHPOINT_DATABASE_URL"])
        #expect(
            DatabaseRole.switchRole.environmentVariables == ["CASHPOINT_SWITCH_DATABASE_URL", "CASHPOINT_DATABASE_URL"]
        )
    }
}

@Suite("the pool that follows the primary", .enabled(if: testDatabaseURL != nil || mustRunDatabaseTests))
struct DatabaseClientTests {
    @Test("started on a server that is gone, a search moves the pool to the one that answers; queries then run there")
    func movesToTheServerThatAnswers() async throws {
        var url = try DatabaseURL(try #require(testDatabaseURL))
        let live = url.endpoints[0]
        let gone = DatabaseEndpoint(host: "127.0.0.1", port: 1)
        url.endpoints = [gone, live]
        url.targetSessionAttributes = .readWrite
        let client = DatabaseClient(url: url, endpoint: gone, retryInterval: .milliseconds(50), logger: quietLogger) {
            $0.makePool(maximumConnections: 2, connectTimeout: .seconds(1), logger: quietLogger)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            // Not running yet, or running: either way the first search is the one to wait for.
            var search = client.relocate(from: gone)
            while search == nil && client.endpoint == gone {
                await Task.yield()
                search = client.relocate(from: gone)
            }
            await search?.value
            #expect(client.endpoint == live)
            #expect(client.moves == 1)
            let rows = try await client.query("SELECT 41 + 1", logger: quietLogger)
            for try await value in rows.decode(Int.self) { #expect(value == 42) }
            // On the right server already: nothing to search for.
            #expect(client.relocate(from: gone) == nil)
            group.cancelAll()
        }
    }

    @Test("which errors mean the server no longer takes the sessions: a read-only refusal does, a missing table does not")
    func classifies() async throws {
        let url = try DatabaseURL(try #require(testDatabaseURL))
        let errors: [any Error] = try await url.withConnection(logger: quietLogger) { connection in
            var caught: [any Error] = []
            for sql in [
                "BEGIN READ ONLY", "CREATE TEMP TABLE cp_locate_written (x int)", "ROLLBACK",
                "SELECT * FROM cp_no_such_table",
            ] {
                do {
                    try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger)
                } catch {
                    caught.append(error)
                }
            }
            return caught
        }
        try #require(errors.count == 2)
        #expect(DatabaseClient.meansRelocation(errors[0]))
        #expect(!DatabaseClient.meansRelocation(errors[1]))
        #expect(DatabaseClient.meansRelocation(DatabaseUnavailable(.connectionLost, reason: "test")))
        #expect(!DatabaseClient.meansRelocation(DatabaseUnavailable(.deadlineExceeded, reason: "test")))
    }
}

@Suite("the logger postgres-nio gets")
struct QueryLoggerTests {
    @Test("the caller's at debug and trace, none above: postgres-nio logs a query at debug and trace only")
    func levels() {
        for level in Logger.Level.allCases {
            var logger = Logger(label: "test") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = level
            #expect((DatabaseClient.queryLogger(logger) != nil) == (level <= .debug), "\(level)")
        }
        #expect(DatabaseClient.queryLogger(nil) == nil)
    }
}
