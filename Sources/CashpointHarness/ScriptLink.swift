import ATM87
import NIOCore
import NIOPosix
import Synchronization

/// A script's connection to the switch: any bytes out (messages, raw frames, raw bytes), and what
/// comes back (messages, frames that do not decode, the close) kept in order until the script reads
/// it. Waiting for nothing does not close the connection, so a step can expect no answer and the
/// next one go on.
final class ScriptLink: Sendable {
    enum Event: Sendable, Equatable {
        case message(ATM87Message)
        case malformed(ATM87Error)
        case closed(String)
    }

    let channel: any Channel
    let mailbox: Mailbox

    private init(channel: any Channel, mailbox: Mailbox) {
        self.channel = channel
        self.mailbox = mailbox
    }

    static func connect(host: String, port: Int) async throws -> ScriptLink {
        let mailbox = Mailbox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(3))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ATM87FrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(Receiver(mailbox: mailbox))
                }
            }
            .connect(host: host, port: port)
            .get()
        return ScriptLink(channel: channel, mailbox: mailbox)
    }

    func send(_ bytes: [UInt8]) async throws {
        let written: EventLoopFuture<Void> = self.channel.writeAndFlush(ByteBuffer(bytes: bytes))
        try await written.get()
    }

    /// The next event, or nil if none came within `timeout`.
    func next(within timeout: Duration) async -> Event? {
        await self.mailbox.next(within: timeout)
    }

    /// Whatever has arrived and not been read, without waiting.
    func drain() -> [Event] {
        self.mailbox.drain()
    }

    func close() async {
        let closed: EventLoopFuture<Void> = self.channel.close()
        try? await closed.get()
    }

    /// Puts what the channel delivers in the mailbox.
    final class Receiver: ChannelInboundHandler, Sendable {
        typealias InboundIn = ATM87Inbound
        let mailbox: Mailbox

        init(mailbox: Mailbox) { self.mailbox = mailbox }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch self.unwrapInboundIn(data) {
            case .message(let message): self.mailbox.put(.message(message))
            case .malformed(let error): self.mailbox.put(.malformed(error))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            self.mailbox.put(.closed("the connection failed: \(error)"))
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.mailbox.put(.closed("the switch closed the connection"))
        }
    }

    /// Events in arrival order, and one reader waiting with a deadline. Once closed, it stays closed.
    final class Mailbox: Sendable {
        struct State {
            var queue: [Event] = []
            var closed: Event?
            var waiter: (id: Int, continuation: CheckedContinuation<Event?, Never>)?
            var nextID = 0
            /// A wait whose deadline passed before it began waiting.
            var expiredID: Int?
        }

        let state = Mutex(State())

        func put(_ event: Event) {
            let waiter: CheckedContinuation<Event?, Never>? = self.state.withLock { state in
                if case .closed = event {
                    guard state.closed == nil else { return nil }
                    state.closed = event
                }
                if let waiter = state.waiter {
                    state.waiter = nil
                    return waiter.continuation
                }
                if case .closed = event { return nil }
                state.queue.append(event)
                return nil
            }
            waiter?.resume(returning: event)
        }

        func drain() -> [Event] {
            self.state.withLock { state in
                defer { state.queue = [] }
                return state.queue
            }
        }

        func next(within timeout: Duration) async -> Event? {
            let id = self.state.withLock { state in
                state.nextID += 1
                return state.nextID
            }
            let timer = Task {
                try await Task.sleep(for: timeout)
                let waiter = self.state.withLock { state -> CheckedContinuation<Event?, Never>? in
                    guard let waiter = state.waiter, waiter.id == id else {
                        state.expiredID = id
                        return nil
                    }
                    state.waiter = nil
                    return waiter.continuation
                }
                waiter?.resume(returning: nil)
            }
            defer { timer.cancel() }
            return await withCheckedContinuation { continuation in
                enum Ready {
                    case event(Event)
                    case timedOut, waiting
                }
                let ready: Ready = self.state.withLock { state in
                    if !state.queue.isEmpty { return .event(state.queue.removeFirst()) }
                    if let closed = state.closed { return .event(closed) }
                    if state.expiredID == id { return .timedOut }
                    state.waiter = (id, continuation)
                    return .waiting
                }
                switch ready {
                case .event(let event): continuation.resume(returning: event)
                case .timedOut: continuation.resume(returning: nil)
                case .waiting: break
                }
            }
        }
    }
}
