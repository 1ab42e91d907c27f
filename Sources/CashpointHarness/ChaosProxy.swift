public import NIOCore
public import NIOPosix
import Synchronization

/// A TCP proxy that misbehaves on demand, for the bank check: the switch reaches PostgreSQL through one
/// (delay, partition) and the terminals reach the switch through another (connections cut).
///
/// - `delay`: every chunk of bytes, both ways, is forwarded that much later (in order).
/// - `partition`: nothing is read from either side of any connection, new or open (a black hole: the
///   kernel's buffers fill, the peers see silence, as across a network partition); `heal` lets it flow
///   again, as TCP's retransmissions would.
/// - `cutAll`: every open connection closed, both sides.
public final class ChaosProxy: Sendable {
    struct State {
        var delay: TimeAmount = .zero
        var partitioned = false
        /// Every open connection, both sides, by a number of its own (never reused).
        var pairs: [Int: (any Channel, any Channel)] = [:]
        var nextPair = 0
    }

    let state = Mutex(State())
    let server: Mutex<(any Channel)?> = Mutex(nil)
    public let upstreamHost: String
    public let upstreamPort: Int
    let group: any EventLoopGroup

    /// The port it listens on (127.0.0.1), once started.
    public var port: Int { self.server.withLock { $0?.localAddress?.port ?? 0 } }

    public init(upstreamHost: String, upstreamPort: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.upstreamHost = upstreamHost
        self.upstreamPort = upstreamPort
        self.group = group
    }

    /// Listens on 127.0.0.1:`port` (0: any free port).
    public func start(port: Int) async throws {
        let channel = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] child in
                self.connect(child)
                return child.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        self.server.withLock { $0 = channel }
    }

    public func stop() async {
        let server = self.server.withLock { $0 }
        try? await server?.close()
        self.cutAll()
    }

    /// Every chunk of bytes forwarded `delay` later; zero for none.
    public func setDelay(_ delay: Duration) {
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        self.state.withLock { $0.delay = .nanoseconds(nanoseconds) }
    }

    public func partition() {
        let pairs = self.state.withLock {
            $0.partitioned = true
            return Array($0.pairs.values)
        }
        for (a, b) in pairs { Self.setReading(false, a, b) }
    }

    public func heal() {
        let pairs = self.state.withLock {
            $0.partitioned = false
            return Array($0.pairs.values)
        }
        for (a, b) in pairs { Self.setReading(true, a, b) }
    }

    /// Closes every open connection, both sides; returns how many there were.
    @discardableResult
    public func cutAll() -> Int {
        let pairs = self.state.withLock { Array($0.pairs.values) }
        for (a, b) in pairs {
            a.close(promise: nil)
            b.close(promise: nil)
        }
        return pairs.count
    }

    /// How many connections pass through it now.
    public var connections: Int { self.state.withLock { $0.pairs.count } }

    var delay: TimeAmount { self.state.withLock { $0.delay } }

    static func setReading(_ reading: Bool, _ channels: any Channel...) {
        for channel in channels {
            channel.eventLoop.execute {
                try? channel.syncOptions?.setOption(.autoRead, value: reading)
                if reading { channel.read() }
            }
        }
    }

    /// Connects the accepted `client` to the upstream, glues the two, and reads once not partitioned.
    func connect(_ client: any Channel) {
        ClientBootstrap(group: client.eventLoop)
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(3))
            .connect(host: self.upstreamHost, port: self.upstreamPort)
            .whenComplete { [self] result in
                switch result {
                case .failure:
                    client.close(promise: nil)
                case .success(let upstream):
                    do {
                        try client.pipeline.syncOperations.addHandler(ChaosGlue(proxy: self, peer: upstream))
                        try upstream.pipeline.syncOperations.addHandler(ChaosGlue(proxy: self, peer: client))
                    } catch {
                        client.close(promise: nil)
                        upstream.close(promise: nil)
                        return
                    }
                    let (id, partitioned) = self.state.withLock {
                        $0.nextPair += 1
                        $0.pairs[$0.nextPair] = (client, upstream)
                        return ($0.nextPair, $0.partitioned)
                    }
                    // When either closes (it may have already: the callback then runs at once), so does the
                    // other, and the pair is forgotten.
                    client.closeFuture.whenComplete { [self] _ in
                        upstream.close(promise: nil)
                        _ = self.state.withLock { $0.pairs.removeValue(forKey: id) }
                    }
                    upstream.closeFuture.whenComplete { [self] _ in
                        client.close(promise: nil)
                        _ = self.state.withLock { $0.pairs.removeValue(forKey: id) }
                    }
                    if !partitioned { Self.setReading(true, client, upstream) }
                }
            }
    }
}

/// One side of a proxied connection: what it reads goes to the peer (later, under a delay), and when it
/// closes the peer is closed. Both channels are on the same event loop.
final class ChaosGlue: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let proxy: ChaosProxy
    let peer: any Channel
    /// The deadline of the last chunk scheduled, so that a shorter delay never overtakes a longer one.
    var lastDeadline: NIODeadline = .uptimeNanoseconds(0)

    init(proxy: ChaosProxy, peer: any Channel) {
        self.proxy = proxy
        self.peer = peer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Self.unwrapInboundIn(data)
        let delay = self.proxy.delay
        let peer = self.peer
        if delay == .zero && self.lastDeadline <= .now() {
            peer.writeAndFlush(bytes, promise: nil)
            return
        }
        let deadline = max(NIODeadline.now() + delay, self.lastDeadline + .nanoseconds(1))
        self.lastDeadline = deadline
        context.eventLoop.scheduleTask(deadline: deadline) {
            peer.writeAndFlush(bytes, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        let peer = self.peer
        // After whatever is still scheduled for it.
        if self.lastDeadline > .now() {
            context.eventLoop.scheduleTask(deadline: self.lastDeadline + .nanoseconds(1)) { peer.close(promise: nil) }
        } else {
            peer.close(promise: nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
