public import Logging
import NIOCore
public import PostgresNIO

/// A query that was not sent because its connection had already closed (the server ended it, or it was
/// lost): nothing of it reached PostgreSQL.
public struct ConnectionClosed: Error, CustomStringConvertible, Sendable, Hashable {
    public init() {}

    public var description: String {
        "the database connection had closed before the query was sent; run it again on another connection"
    }
}

extension PostgresConnection {
    /// Runs `query` and returns all its rows, or throws `ConnectionClosed` at once if the connection has
    /// closed: a query that cannot wait forever on a dead connection.
    ///
    /// postgres-nio 1.33.2 writes a query into its channel without looking. Once the channel has closed,
    /// swift-nio removes the channel's handlers (in a task it schedules just after `channelInactive`), and
    /// a write after that is dropped together with the query's promise: `query` then never returns, and
    /// cancelling the task does not reach it. That is what a `ROLLBACK` meets after the server ended the
    /// connection under a transaction (`pg_terminate_backend`, `pg_ctl restart -m immediate`): the failed
    /// statement's error resumes the task, and by the time it writes `ROLLBACK` the handlers are gone. So
    /// is a connection that the pool hands out in the moment between its close and the pool hearing of it.
    ///
    /// Here the query is written on the connection's event loop, and only while the channel is active: the
    /// handlers cannot be removed before a close that has not happened yet, so the query reaches
    /// postgres-nio's state machine, which answers it, or fails it when the connection ends.
    public func queryIfOpen(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await self.eventLoop.flatSubmit { () -> EventLoopFuture<[PostgresRow]> in
            guard !self.isClosed else { return self.eventLoop.makeFailedFuture(ConnectionClosed()) }
            return self.query(query, logger: logger).map(\.rows)
        }.get()
    }
}
