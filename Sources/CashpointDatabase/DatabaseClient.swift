public import Logging
public import PostgresNIO
import Synchronization

/// The pool a long-running process (the switch) queries through: a `PostgresClient` on the server its
/// URL's `locate` picked, and, when that server stops taking the process's sessions, a new one on the
/// server `locate` picks then, without a restart. With a replicated database
/// (`postgres://…@H1:P1,H2:P2/db?target_session_attrs=read-write`) that is how the switch follows a
/// failover: a write refused as read-only (SQLSTATE 25006: the node is a standby now), a session ended
/// by the server or a connection lost or refused (`DatabaseClient.meansRelocation`) starts one search
/// (`relocate`: `locate` again every `retryInterval` until a server qualifies); the request that met the
/// failure fails as before (the switch answers it 91), and once the new pool is in, the next request
/// goes to the new primary. The old pool is then closed: what was running on it fails, as it would on
/// a dead server. With one server, it is the one pool on it, and a search finds the same server.
///
/// The calls mirror `PostgresClient`'s (`query`, `execute`, `withConnection`, `withTransaction`), so
/// the store's code does not change; `run()` runs the pools (as `PostgresClient.run()` does).
public final class DatabaseClient: Sendable {
    /// Makes the pool for one server (the caller's configuration: pool size, event loops, timeouts).
    public typealias MakePool = @Sendable (DatabaseURL) -> PostgresClient

    public let url: DatabaseURL
    let makePool: MakePool
    let retryInterval: Duration
    let locateTimeout: Duration
    let logger: Logger
    let state: Mutex<State>

    struct Pool: Sendable {
        var client: PostgresClient
        var endpoint: DatabaseEndpoint
        var generation: Int
    }

    struct State: Sendable {
        var pool: Pool
        /// The pools' `run()` tasks, by generation; a retired pool's task is cancelled.
        var runners: [Int: Task<Void, Never>] = [:]
        var running = false
        var stopped = false
        var searching: Task<Void, Never>?
    }

    /// A client whose first pool is on `endpoint` (which `url.locate` picked).
    public init(
        url: DatabaseURL,
        endpoint: DatabaseEndpoint,
        retryInterval: Duration = .milliseconds(250),
        locateTimeout: Duration = .seconds(2),
        logger: Logger,
        makePool: @escaping MakePool
    ) {
        self.url = url
        self.makePool = makePool
        self.retryInterval = retryInterval
        self.locateTimeout = locateTimeout
        self.logger = logger
        self.state = Mutex(State(pool: Pool(client: makePool(url.on(endpoint)), endpoint: endpoint, generation: 0)))
    }

    /// The server the pool in use is on.
    public var endpoint: DatabaseEndpoint { self.state.withLock { $0.pool.endpoint } }

    /// How many times the pool has moved to another server.
    public var moves: Int { self.state.withLock { $0.pool.generation } }

    /// Runs the pools until cancelled, then closes them (a service runner ends it at graceful shutdown
    /// by cancelling it, as the switch's `DatabasePoolService` does).
    public func run() async {
        let first: Pool? = self.state.withLock { state in
            guard !state.running, !state.stopped else { return nil }
            state.running = true
            return state.pool
        }
        guard let first else { return }
        self.start(first)
        while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        // Cancelled: every pool closes (what runs on them fails), and run returns when they have.
        for task in self.stop() { await task.value }
    }

    /// A pool's task runs where the caller of `run` prefers (`EventLoopExecutor.preferred`: the switch's
    /// connections' event loop), so its leases and timers' ends do not hop between threads.
    private func start(_ pool: Pool) {
        let runner = Task(executorPreference: EventLoopExecutor.preferred) { await pool.client.run() }
        let cancelled = self.state.withLock { state in
            guard !state.stopped else { return true }
            state.runners[pool.generation] = runner
            return false
        }
        if cancelled { runner.cancel() }
    }

    private func stop() -> [Task<Void, Never>] {
        let tasks: [Task<Void, Never>] = self.state.withLock { state in
            state.stopped = true
            defer { state.runners = [:] }
            return Array(state.runners.values) + (state.searching.map { [$0] } ?? [])
        }
        for task in tasks { task.cancel() }
        return tasks
    }

    // MARK: Queries, as PostgresClient's

    @discardableResult
    public func query(
        _ query: PostgresQuery,
        logger: Logger? = nil,
        file: String = #fileID,
        line: Int = #line
    ) async throws -> PostgresRowSequence {
        let pool = self.current
        do {
            return try await pool.client.query(query, logger: Self.queryLogger(logger), file: file, line: line)
        } catch {
            self.noticeFailure(error, on: pool)
            throw self.retired(error, on: pool)
        }
    }

    public func execute<Statement: PostgresPreparedStatement, Row>(
        _ preparedStatement: Statement,
        logger: Logger? = nil,
        file: String = #fileID,
        line: Int = #line
    ) async throws -> AsyncThrowingMapSequence<PostgresRowSequence, Row> where Row == Statement.Row {
        let pool = self.current
        do {
            return try await pool.client.execute(
                preparedStatement,
                logger: Self.queryLogger(logger),
                file: file,
                line: line
            )
        } catch {
            self.noticeFailure(error, on: pool)
            throw self.retired(error, on: pool)
        }
    }

    public func withConnection<Result>(
        isolation: isolated (any Actor)? = #isolation,
        _ closure: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let pool = self.current
        do {
            return try await pool.client.withConnection(isolation: isolation, closure)
        } catch {
            self.noticeFailure(error, on: pool)
            throw self.retired(error, on: pool)
        }
    }

    public func withTransaction<Result>(
        logger: Logger,
        file: String = #file,
        line: Int = #line,
        isolation: isolated (any Actor)? = #isolation,
        _ closure: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        let pool = self.current
        do {
            return try await pool.client.withTransaction(
                logger: Self.queryLogger(logger) ?? Self.noLogger,
                file: file,
                line: line,
                isolation: isolation,
                closure
            )
        } catch {
            self.noticeFailure(error, on: pool)
            throw self.retired(error, on: pool)
        }
    }

    private var current: Pool { self.state.withLock { $0.pool } }

    /// The logger postgres-nio gets for a query: the caller's when it logs at debug or below, none
    /// otherwise. postgres-nio logs a query's progress at debug and trace only (its errors are thrown),
    /// yet tags the logger it is given with the connection's id on every query, and swift-log's
    /// `StreamLogHandler` renders its metadata again on each change: work per query for lines that are
    /// never written.
    static func queryLogger(_ logger: Logger?) -> Logger? {
        guard let logger, logger.logLevel <= .debug else { return nil }
        return logger
    }

    /// A logger that writes nothing (what postgres-nio uses when given none).
    static let noLogger = Logger(label: "cashpoint.database") { _ in SwiftLogNoOpLogHandler() }

    // MARK: Following the primary

    /// Whether an error can mean the server no longer takes this process's sessions: a write refused as
    /// read-only (25006), a session the server ended or cannot start (class 08, 57P01-57P03), or a
    /// connection lost or refused before the server said anything.
    public static func meansRelocation(_ error: any Error) -> Bool {
        if let error = error as? PostgresTransactionError {
            guard let inner = error.closureError ?? error.beginError ?? error.commitError else { return false }
            return Self.meansRelocation(inner)
        }
        if let unavailable = error as? DatabaseUnavailable {
            return unavailable.kind == .unreachable || unavailable.kind == .connectionLost
        }
        guard let error = error as? PSQLError else { return false }
        if let state = error.serverInfo?[.sqlState] {
            return state == "25006" || DatabaseUnavailable.isConnectionLost(sqlState: state)
        }
        return [.serverClosedConnection, .connectionError, .uncleanShutdown].contains(error.code)
    }

    /// A failure of a pool that has been retired since the call began (the client moved to another
    /// server and closed it: postgres-nio's pool then fails what waited on it with errors of its own,
    /// not `PSQLError`s) is a lost connection, as a failover's is; any other error as it is.
    private func retired(_ error: any Error, on pool: Pool) -> any Error {
        guard !(error is PSQLError), !(error is DatabaseUnavailable), self.current.generation != pool.generation else {
            return error
        }
        return DatabaseUnavailable(
            .connectionLost,
            reason: "the pool on \(pool.endpoint) closed as the client moved to \(self.current.endpoint): \(error)"
        )
    }

    private func noticeFailure(_ error: any Error, on pool: Pool) {
        guard Self.meansRelocation(error) else { return }
        self.relocate(from: pool.endpoint)
    }

    /// Looks for the server to be on, unless a search runs or the pool has moved from `endpoint`
    /// already: `locate` every `retryInterval` until one qualifies; a different server than the pool's
    /// gets a new pool, and the old one is closed. The DatabaseHealth probe calls it too, when the
    /// server stops answering.
    /// Answers the search running (nil: none, the pool has moved already or the client is not running).
    @discardableResult
    public func relocate(from endpoint: DatabaseEndpoint) -> Task<Void, Never>? {
        self.state.withLock { state in
            guard state.running, !state.stopped, state.pool.endpoint == endpoint else { return nil }
            if let searching = state.searching { return searching }
            self.logger.warning(
                "the database server stopped taking the switch's sessions: looking for the one to use",
                metadata: ["database.server": "\(endpoint)"]
            )
            let search = Task { await self.search() }
            state.searching = search
            return search
        }
    }

    private func search() async {
        defer { self.state.withLock { $0.searching = nil } }
        while !Task.isCancelled {
            do {
                let found = try await self.url.locate(timeout: self.locateTimeout, logger: self.logger)
                self.move(to: found)
                return
            } catch {
                self.logger.info(
                    "no database server to use yet",
                    metadata: ["database.reason": "\(error.reason)"]
                )
            }
            try? await Task.sleep(for: self.retryInterval)
        }
    }

    private func move(to endpoint: DatabaseEndpoint) {
        let (moved, old): (Pool?, Task<Void, Never>?) = self.state.withLock { state in
            guard !state.stopped, state.pool.endpoint != endpoint else { return (nil, nil) }
            let previous = state.pool.generation
            state.pool = Pool(
                client: self.makePool(self.url.on(endpoint)),
                endpoint: endpoint,
                generation: previous + 1
            )
            return (state.pool, state.runners.removeValue(forKey: previous))
        }
        guard let moved else {
            self.logger.notice("the database server in use still takes the switch's sessions")
            return
        }
        self.start(moved)
        old?.cancel()
        self.logger.notice(
            "the switch's database pool moved to another server",
            metadata: ["database.server": "\(endpoint)", "database.moves": "\(moved.generation)"]
        )
    }
}
