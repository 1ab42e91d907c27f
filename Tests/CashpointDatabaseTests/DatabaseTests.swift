import CashpointDatabase
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

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

    @Test(
        "bad URLs are refused with a reason",
        arguments: [
            "mysql://u@h/db", "postgres://u@h", "postgres://u@h/", "postgres://h:5432/db",
            "postgres://u@h:notaport/db", "postgres://u@h:70000/db", "postgres://u@:5432/db",
            "postgres://u@h/db?sslmode=maybe",
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
