import ATM87
import NIOCore
import NIOPosix

/// The switch simulator on the network: a TCP server whose connections, timers and core all live on
/// one event loop of its own. Each connection's frames go to the core (`SwitchSimulator`) as events;
/// the shell performs the actions it returns (write, close, a timer whose firing comes back as the
/// next event, a line to print, the end) and nothing else.
public final class SwitchSimulatorServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let shell: NIOLoopBound<SimulatorShell>
    let ended: EventLoopFuture<String>
    /// The port it listens on (the one asked for, or the one given for 0).
    public let port: Int

    init(group: MultiThreadedEventLoopGroup, shell: NIOLoopBound<SimulatorShell>, ended: EventLoopFuture<String>, port: Int) {
        self.group = group
        self.shell = shell
        self.ended = ended
        self.port = port
    }

    /// Listens on `host`:`port` (0: a free port) and answers with `simulator`. The run ends with
    /// `stop`, after `duration`, at a rule's `stop`, or (`untilPassed`) once every expectation has held
    /// for `settle`.
    public static func start(
        _ simulator: SwitchSimulator,
        host: String,
        port: Int,
        duration: Duration? = nil,
        untilPassed: Bool = false,
        settle: Duration = .seconds(2),
        say: @escaping @Sendable (String) -> Void
    ) async throws -> SwitchSimulatorServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let ended = loop.makePromise(of: String.self)
        let shell = try await loop.submit {
            NIOLoopBound(
                SimulatorShell(simulator, loop: loop, ended: ended, untilPassed: untilPassed, settle: settle, say: say),
                eventLoop: loop
            )
        }.get()
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { child in
                    child.eventLoop.makeCompletedFuture {
                        try child.pipeline.syncOperations.addATM87Codec()
                        try child.pipeline.syncOperations.addHandler(SimulatorConnectionHandler(shell: shell.value))
                    }
                }
                .bind(host: host, port: port)
                .get()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await loop.submit { shell.value.listening(channel, duration: duration) }.get()
        return SwitchSimulatorServer(group: group, shell: shell, ended: ended.futureResult, port: channel.localAddress?.port ?? port)
    }

    /// Ends the run (from any thread): no new connection, every open one closed.
    public func stop(_ reason: String) {
        let shell = self.shell
        self.group.next().execute { shell.value.end(reason) }
    }

    /// Waits for the end of the run; returns why it ended and the core as it ended (its record).
    public func finished() async -> (reason: String, simulator: SwitchSimulator?) {
        let reason = (try? await self.ended.get()) ?? "ended"
        let shell = self.shell
        let simulator = try? await self.group.next().submit { shell.value.core }.get()
        try? await self.group.shutdownGracefully()
        return (reason, simulator)
    }
}

/// The shell's state, on the loop only.
final class SimulatorShell {
    var core: SwitchSimulator
    let loop: any EventLoop
    let ended: EventLoopPromise<String>
    let untilPassed: Bool
    let settle: TimeAmount
    let say: @Sendable (String) -> Void
    let start = NIODeadline.now()
    var server: (any Channel)?
    var channels: [Int: any Channel] = [:]
    var nextConnection = 0
    var settling: Scheduled<Void>?
    var done = false

    init(
        _ core: SwitchSimulator,
        loop: any EventLoop,
        ended: EventLoopPromise<String>,
        untilPassed: Bool,
        settle: Duration,
        say: @escaping @Sendable (String) -> Void
    ) {
        self.core = core
        self.loop = loop
        self.ended = ended
        self.untilPassed = untilPassed
        self.settle = TimeAmount(settle)
        self.say = say
    }

    /// Milliseconds since the start.
    var now: Int64 { (NIODeadline.now() - self.start).nanoseconds / 1_000_000 }

    func listening(_ server: any Channel, duration: Duration?) {
        self.server = server
        guard let duration else { return }
        self.loop.assumeIsolated().scheduleTask(in: TimeAmount(duration)) { [self] in
            self.end("its duration, \(ScriptDuration.text(duration)), is over")
        }
    }

    func opened(_ channel: any Channel) -> Int {
        self.nextConnection += 1
        self.channels[self.nextConnection] = channel
        if self.done { channel.close(promise: nil) }
        self.say("#\(self.nextConnection): a terminal connects from \(channel.remoteAddress.map { "\($0)" } ?? "?")")
        return self.nextConnection
    }

    func received(_ inbound: ATM87Inbound, connection: Int) {
        self.perform(self.core.received(inbound, connection: connection, at: self.now))
    }

    func failed(_ connection: Int, _ error: any Error) {
        self.perform(self.core.garbage(connection: connection, "\(error)", at: self.now))
    }

    func closed(_ connection: Int) {
        guard self.channels.removeValue(forKey: connection) != nil else { return }
        self.core.closed(connection: connection, at: self.now)
        self.say("#\(connection): the connection is closed")
    }

    func perform(_ actions: [SwitchSimulator.Action]) {
        for action in actions {
            switch action {
            case .send(let message, let connection):
                self.channels[connection]?.writeAndFlush(message, promise: nil)
            case .close(let connection):
                self.channels[connection]?.close(promise: nil)
            case .schedule(let id, let after):
                self.loop.assumeIsolated().scheduleTask(in: TimeAmount(after)) { [self] in
                    self.perform(self.core.delivery(id, at: self.now))
                }
            case .say(let text):
                self.say(text)
            case .stop:
                self.end("a rule stopped it")
            }
        }
        self.checkUntil()
    }

    /// With `--until passed`: once every expectation holds, and still holds `settle` later, the run ends.
    func checkUntil() {
        guard self.untilPassed, !self.done, self.settling == nil, self.passes else { return }
        self.settling = self.loop.assumeIsolated().scheduleTask(in: self.settle) { [self] in
            self.settling = nil
            if self.passes { self.end("every expectation held") }
        }
    }

    var passes: Bool {
        HostExpectationCheck.allPass(self.core.script.expectations, record: self.core.record, variables: self.core.variables)
    }

    func end(_ reason: String) {
        guard !self.done else { return }
        self.done = true
        self.settling?.cancel()
        self.server?.close(promise: nil)
        for channel in self.channels.values { channel.close(promise: nil) }
        self.ended.succeed(reason)
    }
}

/// One terminal's connection: what comes in goes to the shell.
final class SimulatorConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ATM87Inbound

    let shell: SimulatorShell
    var connection = 0

    init(shell: SimulatorShell) { self.shell = shell }

    func channelActive(context: ChannelHandlerContext) {
        self.connection = self.shell.opened(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.shell.received(Self.unwrapInboundIn(data), connection: self.connection)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.shell.closed(self.connection)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        self.shell.failed(self.connection, error)
        context.close(promise: nil)
    }
}
