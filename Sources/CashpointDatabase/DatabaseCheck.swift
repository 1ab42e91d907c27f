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
    /// reason when the server is down, the address is wrong or the password is refused. With several
    /// servers, the one `locate` picks.
    public func probe(timeout: Duration = .seconds(5), logger: Logger) async throws(DatabaseUnavailable) {
        _ = try await self.locate(timeout: timeout, logger: logger)
    }

    /// The server a session belongs on, as libpq picks it: each server in the URL's order is connected
    /// to once (no pool, no retries, at most `timeout` each), and the first that answers (`any`) or whose
    /// sessions accept writes (`read-write`: `SHOW transaction_read_only` is `off`, so not a standby) is
    /// the one. Throws `DatabaseUnavailable` saying what each server answered.
    public func locate(timeout: Duration = .seconds(5), logger: Logger) async throws(DatabaseUnavailable)
        -> DatabaseEndpoint
    {
        var answers: [DatabaseUnavailable] = []
        for endpoint in self.endpoints {
            do {
                let readOnly = try await self.on(endpoint).readOnly(timeout: timeout, logger: logger)
                if self.targetSessionAttributes == .any || !readOnly { return endpoint }
                answers.append(DatabaseUnavailable(.unreachable, reason: "\(endpoint) is read-only (a standby)"))
            } catch {
                answers.append(error)
            }
        }
        guard answers.count > 1 else { throw answers[0] }
        let kind: DatabaseUnavailable.Kind = answers.allSatisfy { $0.kind == .refused } ? .refused : .unreachable
        throw DatabaseUnavailable(
            kind,
            reason: "no server of \(self) takes \(self.targetSessionAttributes == .any ? "sessions" : "writes"): "
                + answers.map(\.reason).joined(separator: "; ")
        )
    }

    /// Whether sessions on this URL's (first) server are read-only, asked on one connection.
    private func readOnly(timeout: Duration, logger: Logger) async throws(DatabaseUnavailable) -> Bool {
        do {
            return try await withThrowingTaskGroup(of: Bool?.self) { group in
                group.addTask {
                    try await self.withConnection(logger: logger) { connection in
                        let rows = try await connection.query("SHOW transaction_read_only", logger: logger)
                        for try await value in rows.decode(String.self) { return value == "on" }
                        return false
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let answer = try await group.next() ?? nil
                group.cancelAll()
                guard let answer else {
                    throw DatabaseUnavailable(.unreachable, reason: "\(self.host):\(self.port) did not answer within \(timeout)")
                }
                return answer
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
