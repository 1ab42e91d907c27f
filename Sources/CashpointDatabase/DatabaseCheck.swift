public import Logging
import PostgresNIO

/// What a database says of itself: enough to know the switch can use it.
public struct DatabaseReport: Sendable, Hashable {
    /// `SELECT version()`.
    public var version: String
    /// The server's major version number, e.g. 15.
    public var majorVersion: Int
    public var fsync: String
    public var synchronousCommit: String
}

public enum DatabaseCheck {
    /// Connects once, asks the server for its version and durability settings, and disconnects.
    /// Gives up after `timeout`.
    public static func run(
        _ url: DatabaseURL,
        timeout: Duration = .seconds(10),
        logger: Logger
    ) async throws -> DatabaseReport {
        var configuration = url.clientConfiguration()
        configuration.options.connectTimeout = timeout
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return try await withThrowingTaskGroup(of: DatabaseReport?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            group.addTask {
                // The pool retries a refused connection (a wrong password, say) until cancelled:
                // the check gives up at the deadline instead of waiting for ever.
                try? await Task.sleep(for: timeout)
                if Task.isCancelled { return nil }
                throw DatabaseCheckError(reason: "no answer within \(timeout)")
            }
            group.addTask {
                let rows = try await client.query(
                    """
                    SELECT version(), current_setting('server_version_num')::int / 10000,
                           current_setting('fsync'), current_setting('synchronous_commit')
                    """,
                    logger: logger
                )
                for try await (version, major, fsync, synchronousCommit) in rows.decode(
                    (String, Int, String, String).self
                ) {
                    return DatabaseReport(
                        version: version,
                        majorVersion: major,
                        fsync: fsync,
                        synchronousCommit: synchronousCommit
                    )
                }
                throw DatabaseCheckError(reason: "the server answered no row")
            }
            var report: DatabaseReport? = nil
            do {
                while let result = try await group.next() {
                    if let result {
                        report = result
                        group.cancelAll()
                    }
                }
            } catch {
                group.cancelAll()
                throw error
            }
            guard let report else { throw DatabaseCheckError(reason: "no answer") }
            return report
        }
    }
}

public struct DatabaseCheckError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { self.reason }
}

extension DatabaseUnavailable {
    /// SQLSTATEs that mean the server, not the statement, is gone: connection exceptions (class 08),
    /// admin shutdown (57P01, `pg_terminate_backend`), crash shutdown (57P02), cannot connect now (57P03).
    public static func isConnectionLost(sqlState: String) -> Bool {
        sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }
}

extension DatabaseURL {
    /// Connects once (no pool, no retries) and disconnects, so a command fails at once with a readable
    /// reason when the server is down, the address is wrong or the password is refused.
    public func probe(timeout: Duration = .seconds(5), logger: Logger) async throws(DatabaseUnavailable) {
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await self.withConnection(logger: logger) { connection in
                        try await connection.query("SELECT 1", logger: logger)
                    }
                    return true
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return false
                }
                let answered = try await group.next() ?? false
                group.cancelAll()
                if !answered {
                    throw DatabaseUnavailable(.unreachable, reason: "\(self.host):\(self.port) did not answer within \(timeout)")
                }
            }
        } catch let error as DatabaseUnavailable {
            throw error
        } catch let error as PSQLError {
            if let message = error.serverInfo?[.message] {
                throw DatabaseUnavailable(
                    .refused,
                    reason: "the server at \(self.host):\(self.port) refused \(self.username): \(message)"
                )
            }
            let underlying = error.underlying.map { String(describing: $0) } ?? String(describing: error.code)
            throw DatabaseUnavailable(.unreachable, reason: "cannot connect to \(self.host):\(self.port): \(underlying)")
        } catch {
            throw DatabaseUnavailable(.unreachable, reason: "cannot use \(self): \(error)")
        }
    }
}
