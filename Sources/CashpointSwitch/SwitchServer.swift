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
public final class SwitchServer: Service, Sendable {
    let router: RequestRouter
    let configuration: SwitchConfiguration
    let group: any EventLoopGroup
    /// Each connection's task runs on its channel's event loop (see `EventLoopExecutor`).
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
            .bind(host: self.configuration.host, port: self.configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: idle))
                    try sync.addHandler(IdleConnectionCloser())
                    try sync.addHandler(FrameDeadlineHandler(deadline: frameDeadline))
                    try sync.addATM87Codec(maximumMessageLength: maxLength)
                    return try NIOAsyncChannel<ATM87Inbound, ATM87Message>(wrappingChannelSynchronously: channel)
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
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        guard
                            let id = self.connections.open(connection.channel, limit: self.configuration.maxConnections)
                        else {
                            self.logger.warning("too many connections: closing a new one")
                            Counter(label: "cashpoint_connections_refused_total").increment()
                            // Closed through executeThenClose, which finishes the connection's writer:
                            // swift-nio traps on a NIOAsyncChannel dropped without it.
                            group.addTask { try? await connection.executeThenClose { _, _ in } }
                            continue
                        }
                        let executor =
                            self.connectionsOnTheirLoops ? EventLoopExecutor(connection.channel.eventLoop) : nil
                        group.addTask(executorPreference: executor) {
                            await EventLoopExecutor.$preferred.withValue(executor) {
                                await self.serve(connection, id: id)
                            }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.logger.notice("shutting down: no new connections; answering the requests in flight")
            serverChannel.close(promise: nil)
            self.connections.shutDown()
        }
        self.logger.notice("atm-switch stopped")
    }

    func serve(_ connection: NIOAsyncChannel<ATM87Inbound, ATM87Message>, id: Int) async {
        let peer = Peer(ip: connection.channel.remoteAddress?.ipAddress, connection: id)
        var logger = self.logger
        logger[metadataKey: LogKey.connection] = "\(id)"
        logger[metadataKey: LogKey.peer] = "\(peer.ip ?? "?")"
        logger.debug("connection opened")
        defer {
            self.connections.close(id)
            logger.debug("connection closed")
        }
        do {
            try await connection.executeThenClose { inbound, outbound in
                try await self.readLoop(inbound, outbound, id: id, peer: peer)
            }
        } catch let error as ATM87FramingError {
            logger.warning("frame too long: connection closed", metadata: [LogKey.error: "\(error)"])
        } catch {
            logger.debug("connection ended with an error", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// A connection's frames, one at a time. The connection's task lives as long as the connection and
    /// keeps the memory its deepest call needed (its task allocator's slabs) until it ends, and an async
    /// function's frame is sized for everything inlined into it: with the answer and the write inlined,
    /// the read loop's frame alone was a 16 KiB slab for every connection, silent or not
    /// (`scripts/idle-footprint`). So the loop is a function of its own, not inlined, and each frame's
    /// work (the router, the write) runs in a child task whose memory goes when it ends.
    @inline(never)
    func readLoop(
        _ inbound: NIOAsyncChannelInboundStream<ATM87Inbound>,
        _ outbound: NIOAsyncChannelOutboundWriter<ATM87Message>,
        id: Int,
        peer: Peer
    ) async throws {
        for try await item in inbound {
            guard self.connections.begin(id) else { return }
            defer { self.connections.end(id) }
            guard try await self.handle(item, outbound, from: peer) else { return }
            if self.connections.isShuttingDown { return }
        }
    }

    /// Answers one frame in a child task on the connection's executor; false when the connection is to
    /// close (a malformed frame that cannot be answered).
    @inline(never)
    func handle(
        _ item: ATM87Inbound,
        _ outbound: NIOAsyncChannelOutboundWriter<ATM87Message>,
        from peer: Peer
    ) async throws -> Bool {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask(executorPreference: EventLoopExecutor.preferred) {
                switch item {
                case .message(let request):
                    if let response = await self.router.respond(to: request, from: peer) {
                        try await outbound.write(response)
                    }
                    return true
                case .malformed(let error):
                    guard let response = self.router.respond(toMalformed: error, from: peer) else { return false }
                    try await outbound.write(response)
                    return true
                }
            }
            return try await group.next() ?? false
        }
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
        self.state.withLock { _ = $0.open.removeValue(forKey: id) }
        Gauge(label: "cashpoint_connections").record(self.count)
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

    func end(_ id: Int) {
        self.state.withLock { $0.open[id]?.busy = false }
    }

    var isShuttingDown: Bool { self.state.withLock { $0.shuttingDown } }
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
