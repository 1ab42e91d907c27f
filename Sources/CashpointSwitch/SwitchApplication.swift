import CashpointBank
public import CashpointDatabase
public import CashpointSecurity
import CashpointStore
import Foundation
public import Logging
import CashpointMetrics
import Metrics
import Prometheus
import NIOPosix
import PostgresNIO
public import ServiceLifecycle
public import UnixSignals
import Synchronization

/// Everything `atm-switch serve` needs, assembled: the PostgreSQL pool, the bank, terminal sessions,
/// tokens, the database health watch, the audit sealer, transaction monitoring's worker, the request
/// router and the TCP server, as swift-service-lifecycle
/// services (the pool outlives the server at shutdown).
public struct SwitchApplication: Sendable {
    public var url: DatabaseURL
    /// The server of `url` to start on (`DatabaseURL.locate`'s pick); nil: the first.
    public var endpoint: DatabaseEndpoint?
    public var hasher: CredentialHasher
    public var switchKey: SwitchKey
    public var configuration: SwitchConfiguration
    /// Database connections in the pool (on a 2-core machine 8 did best, see docs/performance.md).
    public var poolSize: Int
    /// Card-session postings in one transaction at most (`PostingService`); 0 or 1: none batched.
    public var batchPostings: Int
    /// Batches at the database at once.
    public var postingBatches: Int
    /// NIO event loops (threads) for the terminals' connections and the pool's, shared. With 1 or more,
    /// each terminal request's task runs on its connection's loop, so a request and the database
    /// answers it waits for need no hop between threads when they share a loop. 0: NIO's shared group,
    /// and request tasks on Swift's global executor.
    public var eventLoops: Int
    /// The audit chain's key: given, the switch seals the audit log while it runs.
    public var auditKey: SecretKey?
    /// The pool keeps all its connections but one open when idle (`atm-switch serve`), so returning one
    /// to the pool arms no idle timer; tests' switches open theirs on demand.
    public var poolStaysOpen = false
    public var logger: Logger

    public init(
        url: DatabaseURL,
        endpoint: DatabaseEndpoint? = nil,
        hasher: CredentialHasher,
        switchKey: SwitchKey,
        configuration: SwitchConfiguration,
        poolSize: Int = 8,
        batchPostings: Int = 64,
        postingBatches: Int = 1,
        eventLoops: Int = 1,
        auditKey: SecretKey? = nil,
        logger: Logger
    ) {
        self.eventLoops = eventLoops
        self.auditKey = auditKey
        self.url = url
        self.endpoint = endpoint
        self.hasher = hasher
        self.switchKey = switchKey
        self.configuration = configuration
        self.poolSize = poolSize
        self.batchPostings = batchPostings
        self.postingBatches = postingBatches
        self.logger = logger
    }

    /// Connects once and checks that the database has every migration and function file of this build; throws
    /// `SchemaNotReady` (saying to run `atm-switch migrate`) when it has not, so the switch refuses to
    /// start instead of answering every request 96.
    public func checkSchema() async throws {
        let migrations = try Migration.bundled()
        let repeatables = try RepeatableMigration.bundled()
        try await self.url.on(self.endpoint ?? self.url.endpoints[0]).withConnection(logger: self.logger) { connection in
            try await Migrator.check(
                connection: connection,
                migrations: migrations,
                repeatables: repeatables,
                database: self.url.database,
                logger: self.logger
            )
        }
    }

    /// The services to run, in start order, and the server (for its port and connection count).
    public func makeServices(
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) async -> (
        services: [any Service], server: SwitchServer, router: RequestRouter
    ) {
        let background = {
            var background = self.logger
            background.logLevel = max(self.logger.logLevel, .error)
            return background
        }()
        let loops: MultiThreadedEventLoopGroup? =
            self.eventLoops > 0 ? MultiThreadedEventLoopGroup(numberOfThreads: self.eventLoops) : nil
        let poolSize = self.poolSize
        let minimum = self.poolStaysOpen ? poolSize - 1 : 0
        // The pool on the server the URL's locate picked, moving to another when that one stops taking
        // the switch's sessions (a failover; DatabaseClient). No keep-alive queries: DatabaseHealth finds
        // a database that stopped answering (and answers a request whose connection died under it
        // within its deadline), and postgres-nio's keep-alive costs a timer around every lease.
        let client = DatabaseClient(url: self.url, endpoint: self.endpoint ?? self.url.endpoints[0], logger: self.logger) {
            $0.makePool(
                maximumConnections: poolSize,
                minimumConnections: minimum,
                keepAlive: false,
                eventLoopGroup: loops,
                connectTimeout: .seconds(2),
                logger: background
            )
        }
        Gauge(label: "cashpoint_database_pool_size").record(self.poolSize)
        var store = BankStore(client: client, logger: self.logger)
        if self.batchPostings > 1 {
            store.postings = PostingService(
                store: store,
                maxInFlight: self.postingBatches,
                maxSize: self.batchPostings,
                patience: self.configuration.requestDeadline
            )
        }
        let bank = Bank(
            records: store,
            hasher: self.hasher,
            switchKey: self.switchKey,
            now: self.configuration.now,
            logger: self.logger
        )
        let health = DatabaseHealth(
            client: client,
            probeAfter: self.configuration.databaseProbeAfter,
            probeTimeout: self.configuration.databaseProbeTimeout,
            deadline: self.configuration.requestDeadline,
            logger: self.logger
        )
        let router = RequestRouter(
            bank: bank,
            sessions: TerminalSessions(records: store, switchKey: self.switchKey),
            tokens: SessionTokens(switchKey: self.switchKey, now: self.configuration.now),
            health: health,
            configuration: self.configuration,
            screening: CustomerScreening(store: store, logger: self.logger),
            logger: self.logger
        )
        let server = SwitchServer(
            router: router,
            configuration: self.configuration,
            group: loops ?? MultiThreadedEventLoopGroup.singleton,
            connectionsOnTheirLoops: loops != nil,
            logger: self.logger,
            onBound: onBound
        )
        // Services stop in reverse order: the loops last, after the pool and the server.
        var services: [any Service] = loops.map { [EventLoopGroupService(group: $0)] } ?? []
        services.append(DatabasePoolService(client: client, executor: loops.map { EventLoopExecutor($0.next()) }))
        services.append(health)
        if let auditKey = self.auditKey {
            services.append(AuditSealingService(client: client, key: auditKey.key, logger: self.logger))
        }
        // Transaction monitoring's worker: after the server in stop order, so the postings of the last
        // requests are still examined while the pool is open.
        services.append(MonitoringService(store: store, logger: self.logger))
        services.append(server)
        return (services, server, router)
    }
}

extension SwitchApplication {
    /// How long graceful shutdown may take: the requests in flight are answered within the request
    /// deadline plus one probe (see `DatabaseHealth`); two seconds more seal the audit rows (the last
    /// sealing round is given 1.5 s, see `AuditSealingService`) and close the pool. After that the
    /// services are cancelled, and given 5 seconds to end.
    public var maximumGracefulShutdown: Duration {
        self.configuration.requestDeadline + self.configuration.databaseProbeTimeout + .seconds(2)
    }

    /// The one service group of a running switch: `services` in order, stopped in reverse, with the
    /// shutdown bounded (`maximumGracefulShutdown`, then cancellation).
    public func makeServiceGroup(_ services: [any Service], signals: [UnixSignal] = []) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            // A service that fails (a port in use) shuts the others down in order, the event loops last;
            // cancelling them all at once would shut the loops down under the server and the pool.
            services: services.map { .init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: signals,
            logger: self.logger
        )
        configuration.maximumGracefulShutdownDuration = self.maximumGracefulShutdown
        configuration.maximumCancellationDuration = .seconds(5)
        return ServiceGroup(configuration: configuration)
    }
}

extension SwitchApplication {
    /// The switch as `atm-switch serve` runs it, until SIGTERM or SIGINT: the schema checked (throws
    /// `SchemaNotReady` when the database needs `atm-switch migrate`), the metrics system bootstrapped
    /// with swift-prometheus and served at `http://HOST:metricsPort/metrics` (nil: no endpoint), then
    /// every service in the one group.
    public func serve(metricsHost: String, metricsPort: Int?) async throws {
        try await self.checkSchema()
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory.cashpoint(registry: registry))
        var (services, _, _) = await self.makeServices()
        if let metricsPort {
            // First in the group, so it stops last: the metrics can be read while the server drains.
            let logger = self.logger
            let endpoint = MetricsEndpoint(host: metricsHost, port: metricsPort, registry: registry, logger: logger) {
                logger.notice("metrics at http://\(metricsHost):\($0)/metrics")
            }
            services.insert(endpoint, at: 0)
        }
        try await self.makeServiceGroup(services, signals: [.sigterm, .sigint]).run()
    }
}

/// The switch's database pool as a service: it runs until the graceful shutdown reaches it (after the
/// server, the sealer and the monitoring worker have stopped), then closes its pools.
struct DatabasePoolService: Service {
    let client: DatabaseClient
    /// Where the pool's own task runs (its timers, leases and connection events): on the connections'
    /// event loop when the switch has its own loops, so a lease does not hop between threads.
    var executor: EventLoopExecutor? = nil

    func run() async throws {
        try await EventLoopExecutor.$preferred.withValue(self.executor) {
            try await withTaskExecutorPreference(self.executor) {
                try await cancelWhenGracefulShutdown { await self.client.run() }
            }
        }
    }
}

/// Owns an event loop group for the services after it, and shuts it down once they have stopped.
struct EventLoopGroupService: Service {
    let group: MultiThreadedEventLoopGroup

    func run() async throws {
        try? await gracefulShutdown()
        try await self.group.shutdownGracefully()
    }
}

/// A switch running in this process (the tests' way to start and restart one).
public final class RunningSwitch: Sendable {
    public let port: Int
    public let server: SwitchServer
    public let router: RequestRouter
    let group: ServiceGroup
    let task: Task<Void, any Error>

    init(port: Int, server: SwitchServer, router: RequestRouter, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.server = server
        self.router = router
        self.group = group
        self.task = task
    }

    /// Starts the services and returns once the server listens.
    public static func start(_ application: SwitchApplication) async throws -> RunningSwitch {
        try await application.checkSchema()
        let (bound, continuation) = AsyncStream<Int>.makeStream()
        let (services, server, router) = await application.makeServices { port in
            continuation.yield(port)
            continuation.finish()
        }
        let group = application.makeServiceGroup(services)
        let task = Task { try await group.run() }
        var iterator = bound.makeAsyncIterator()
        guard let port = await iterator.next() else {
            task.cancel()
            _ = try? await task.value
            throw LinkFailure(reason: "the switch did not start listening")
        }
        return RunningSwitch(port: port, server: server, router: router, group: group, task: task)
    }

    /// Graceful shutdown: in-flight requests are answered, then everything stops.
    public func stop() async throws {
        await self.group.triggerGracefulShutdown()
        try await self.task.value
    }
}

public struct LinkFailure: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { self.reason }
}
