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
