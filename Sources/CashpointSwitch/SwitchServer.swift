import ATM87
import CashpointDatabase
public import Logging
import Metrics
public import NIOCore
public import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The switch's TCP service: framed ATM-87 in, one `RequestRouter` answer out per request, in order per
/// connection (a connection's next request is read after its previous one is answered; STANs are
/// echoed, so a terminal may also match by STAN).
///
/// - A malformed frame whose MTI and STAN can be read is answered 30; otherwise, and for a declared
///   length over the maximum, the connection is closed. Nothing one connection sends reaches another.
/// - A connection idle longer than `idleTimeout` is closed; connections beyond `maxConnections` are
///   closed at once.
/// - Graceful shutdown (SIGTERM/SIGINT through swift-service-lifecycle): the listening socket closes,
///   idle connections close, a connection with a request in flight closes after answering it, and
///   `run()` returns when every connection is done.
///
/// A connection has no task of its own: its pipeline's last handler (`ConnectionHandler`) reads a frame,
/// starts one task to answer it, writes the answer and only then reads again. A silent connection is
/// its channel and handlers alone (docs/performance.md, "Idle terminals").
public final class SwitchServer: Service, Sendable {
    let router: RequestRouter
    let configuration: SwitchConfiguration
    let group: any EventLoopGroup
    /// Each request's task runs on its connection's event loop (see `EventLoopExecutor`).
    let connectionsOnTheirLoops: Bool
    let logger: Logger
    let onBound: @Sendable (Int) -> Void
    let connections = ConnectionRegistry()

    public init(
        router: RequestRouter,
        configuration: SwitchConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectionsOnTheirLoops: Bool = false,
        logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.router = router
        self.configuration = configuration
        self.group = group
        self.connectionsOnTheirLoops = connectionsOnTheirLoops
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let idle = TimeAmount.nanoseconds(self.configuration.idleTimeout.totalNanoseconds)
        let maxLength = self.configuration.maxMessageLength
        let frameDeadline = TimeAmount.nanoseconds(self.configuration.frameDeadline.totalNanoseconds)
        let server = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.receiveAllocator)
            .childChannelOption(.maxMessagesPerRead, value: Self.readsPerWakeup)
            // A connection reads when its ConnectionHandler asks: once counted, then after each answer.
            .childChannelOption(.autoRead, value: false)
            .bind(host: self.configuration.host, port: self.configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: idle))
                    try sync.addHandler(IdleConnectionCloser())
                    try sync.addHandler(FrameDeadlineHandler(deadline: frameDeadline))
                    try sync.addATM87Codec(maximumMessageLength: maxLength)
                    try sync.addHandler(ConnectionHandler(server: self))
                    return channel
                }
            }
        let port = server.channel.localAddress?.port ?? self.configuration.port
        self.logger.notice(
            "atm-switch listening",
            metadata: [LogKey.host: "\(self.configuration.host)", LogKey.port: "\(port)"]
        )
        self.onBound(port)
        let serverChannel = server.channel
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            self.accept(connection)
                        }
                    }
                } catch {
                    // The listening socket failed: its connections end too (their requests cancelled).
                    self.connections.cancelAll()
                    await self.connections.allClosed()
                    throw error
                }
                // Every connection accepted is in the registry now: wait until the last one closes.
                await self.connections.allClosed()
            } onCancel: {
                serverChannel.close(promise: nil)
                self.connections.cancelAll()
            }
        } onGracefulShutdown: {
            self.logger.notice("shutting down: no new connections; answering the requests in flight")
            serverChannel.close(promise: nil)
            self.connections.shutDown()
        }
        self.logger.notice("atm-switch stopped")
    }

    /// Counts a new connection (or closes it, beyond the limit) and lets its handler start reading. No
    /// task: the connection's work runs when its frames arrive (`ConnectionHandler`).
    func accept(_ channel: any Channel) {
        guard let id = self.connections.open(channel, limit: self.configuration.maxConnections) else {
            self.logger.warning("too many connections: closing a new one")
            Counter(label: "cashpoint_connections_refused_total").increment()
            channel.close(promise: nil)
            return
        }
        self.logger.debug(
            "connection opened",
            metadata: [LogKey.connection: "\(id)", LogKey.peer: "\(channel.remoteAddress?.ipAddress ?? "?")"]
        )
        channel.closeFuture.whenComplete { _ in
            self.connections.close(id)
            self.logger.debug("connection closed", metadata: [LogKey.connection: "\(id)"])
        }
        channel.pipeline.fireUserInboundEventTriggered(ConnectionHandler.Start(id: id))
    }

    /// How a connection reads. NIO keeps each read's buffer in the channel for the next read, so a
    /// connection holds its receive buffer for its whole life: with NIO's default (2,048 bytes first,
    /// up to four buffers kept when a handler still holds the last one) that is 2-8 KiB for every idle
    /// terminal. A terminal's frames are a few hundred bytes (at most `maxMessageLength`): 512 bytes
    /// first, growing after a full read, and one read a wakeup, so one buffer is kept.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 16_384)
    static let readsPerWakeup: UInt = 1

    /// The channels of the connections open now (tests read their options).
    package var openChannels: [any Channel] { self.connections.channels }

    /// Connections open now.
    public var connectionCount: Int { self.connections.count }

    /// Connections answering a request now.
    public var busyConnectionCount: Int { self.connections.busyCount }
}

/// The open connections, whether each is answering a request, and whether the switch is stopping.
final class ConnectionRegistry: Sendable {
    struct State {
        var next = 0
        /// `spoke`: the connection has sent a whole frame. At the limit, a new connection takes the
        /// place of the oldest one that has not (a peer that connects and says nothing, or too slowly).
        var open: [Int: (channel: any Channel, busy: Bool, spoke: Bool)] = [:]
        var shuttingDown = false
        /// `allClosed()` callers, resumed when the last connection closes.
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let state = Mutex(State())

    func open(_ channel: any Channel, limit: Int) -> Int? {
        let (id, evicted): (Int?, (any Channel)?) = self.state.withLock { state in
            guard !state.shuttingDown else { return (nil, nil) }
            var evicted: (any Channel)?
            if state.open.count >= limit {
                guard let silent = state.open.filter({ !$0.value.spoke }).keys.min() else { return (nil, nil) }
                evicted = state.open.removeValue(forKey: silent)?.channel
            }
            state.next += 1
            state.open[state.next] = (channel, false, false)
            return (state.next, evicted)
        }
        if let evicted {
            evicted.close(promise: nil)
            Counter(label: "cashpoint_connections_evicted_total").increment()
        }
        Gauge(label: "cashpoint_connections").record(self.count)
        return id
    }

    func close(_ id: Int) {
        let (count, waiters) = self.state.withLock { state in
            _ = state.open.removeValue(forKey: id)
            guard state.open.isEmpty else { return (state.open.count, [CheckedContinuation<Void, Never>]()) }
            defer { state.waiters = [] }
            return (0, state.waiters)
        }
        Gauge(label: "cashpoint_connections").record(count)
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when no connection is open.
    func allClosed() async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let empty = self.state.withLock { state in
                if state.open.isEmpty { return true }
                state.waiters.append(waiter)
                return false
            }
            if empty { waiter.resume() }
        }
    }

    /// Marks a request in flight; false when the switch is stopping (the request is not started).
    func begin(_ id: Int) -> Bool {
        self.state.withLock { state in
            guard !state.shuttingDown else { return false }
            state.open[id]?.busy = true
            state.open[id]?.spoke = true
            return true
        }
    }

    /// Marks the connection's request answered; true when the switch is stopping (the connection is to
    /// close after the answer).
    func end(_ id: Int) -> Bool {
        self.state.withLock { state in
            state.open[id]?.busy = false
            return state.shuttingDown
        }
    }

    var count: Int { self.state.withLock { $0.open.count } }
    var channels: [any Channel] { self.state.withLock { $0.open.values.map(\.channel) } }
    var busyCount: Int { self.state.withLock { $0.open.values.filter(\.busy).count } }

    /// Closes every idle connection; busy ones close after answering.
    func shutDown() {
        let idle: [any Channel] = self.state.withLock { state in
            state.shuttingDown = true
            return state.open.values.filter { !$0.busy }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }

    /// Closes every connection and cancels the requests in flight (the server's task was cancelled).
    func cancelAll() {
        let all: [any Channel] = self.state.withLock { state in
            state.shuttingDown = true
            return state.open.values.map(\.channel)
        }
        for channel in all {
            channel.pipeline.fireUserInboundEventTriggered(ConnectionHandler.CancelRequest())
            channel.close(promise: nil)
        }
    }
}

/// Closes a connection when `IdleStateHandler` reports no inbound bytes for the idle timeout.
final class IdleConnectionCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? IdleStateHandler.IdleStateEvent, event == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
