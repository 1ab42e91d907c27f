import ATM87
import CashpointDatabase
import Logging
import NIOCore

/// One terminal connection's requests, answered in order, with nothing of its own running while the
/// connection is silent: the last handler of a connection's pipeline (after the idle timer, the frame
/// deadline and the ATM-87 codec).
///
/// The channel reads only when this handler asks (`autoRead` is off). It asks when the connection has
/// its place in the `ConnectionRegistry` (the `Start` event) and again each time it has answered every
/// frame read so far, so a connection's next request is read after its previous one is answered. A
/// frame starts the work of answering it: a malformed one is answered (30) or closes the connection at
/// once; a request starts one task (on the connection's event loop when the server asks for that) that
/// asks the router and hands the answer back to the event loop, where it is written and flushed.
///
/// Backpressure: one read brings at most one receive buffer's bytes (`SwitchServer.receiveAllocator`,
/// one read a wakeup, 16 KiB at most), and a read is asked for only when every frame before is
/// answered, so `pending` holds at most the frames of two reads (the one being decoded when the read
/// was asked for, and the next). The next read also waits until the answers' writes have drained below
/// the channel's high-water mark (`channelWritabilityChanged`): a peer that floods frames and reads no
/// answers is not read from.
///
/// A silent connection costs this object and the pipeline's: no task, no stream, no continuation
/// (`scripts/idle-footprint`, docs/performance.md).
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ATM87Inbound
    typealias OutboundOut = ATM87Message

    /// Fired by the accept loop once the connection is counted (`ConnectionRegistry.open`): its id, and
    /// the handler starts reading.
    struct Start: Sendable {
        let id: Int
    }

    /// Fired by the registry when the server's task is cancelled: the request in flight is cancelled.
    struct CancelRequest: Sendable {}

    let server: SwitchServer
    private var context: ChannelHandlerContext?
    /// 0 until `Start`.
    private var id = 0
    private var ip: String?
    /// Frames read and not yet answered, from `nextPending` on: at most two reads' worth.
    private var pending: [ATM87Inbound] = []
    private var nextPending = 0
    /// A frame is being answered (its task runs, or its answer is being handed back).
    private var answering = false
    /// The answers written are above the channel's high-water mark: nothing more is read or answered
    /// until they drain.
    private var waitingForWritability = false
    /// The decoder failed (a frame too long): the frames read before it are answered, then the
    /// connection closes.
    private var closeWhenAnswered = false
    /// The connection is closing (perhaps after a last answer is written): nothing more is read.
    private var closing = false
    private var request: Task<Void, Never>?

    init(server: SwitchServer) {
        self.server = server
    }

    var peer: Peer { Peer(ip: self.ip, connection: self.id) }

    /// The server's logger with the connection's metadata, made only when a line is logged.
    var logger: Logger {
        var logger = self.server.logger
        logger[metadataKey: LogKey.connection] = "\(self.id)"
        logger[metadataKey: LogKey.peer] = "\(self.ip ?? "?")"
        return logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let start as Start:
            self.id = start.id
            self.ip = context.channel.remoteAddress?.ipAddress
            self.proceed(context)
        case is CancelRequest:
            self.request?.cancel()
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        if self.nextPending == self.pending.count, self.canGoOn, context.channel.isActive {
            // The usual case, nothing before it: answered without being queued.
            self.answer(frame, context)
        } else {
            self.pending.append(frame)
        }
        self.proceed(context)
    }

    /// A read that brought only part of a frame (longer than the receive buffer, or split by the
    /// network) asks for the rest here: nothing is pending, nothing is being answered.
    func channelReadComplete(context: ChannelHandlerContext) {
        self.proceed(context)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if self.waitingForWritability, context.channel.isWritable {
            self.waitingForWritability = false
            self.proceed(context)
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.pending = []
        self.nextPending = 0
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? ATM87FramingError {
            self.logger.warning("frame too long: connection closed", metadata: [LogKey.error: "\(error)"])
        } else {
            self.logger.debug("connection ended with an error", metadata: [LogKey.error: "\(error)"])
        }
        self.closeWhenAnswered = true
        self.proceed(context)
    }

    /// What the connection does next, when nothing is being answered: answer the frames read, one
    /// after the other (a loop, not recursion: one read may bring hundreds of malformed frames, each
    /// answered at once), until one needs a task; or (every frame answered) read more, or close.
    private func proceed(_ context: ChannelHandlerContext) {
        while self.canGoOn, context.channel.isActive {
            guard self.nextPending < self.pending.count else {
                // Nothing kept for a silent connection.
                self.pending = []
                self.nextPending = 0
                if self.closeWhenAnswered {
                    self.close(context)
                } else {
                    context.read()
                }
                return
            }
            let frame = self.pending[self.nextPending]
            self.nextPending += 1
            self.answer(frame, context)
        }
    }

    /// The connection is started and may answer a frame now.
    private var canGoOn: Bool {
        self.id > 0 && !self.answering && !self.waitingForWritability && !self.closing
    }

    /// Starts answering `frame`: at once when malformed, in a task when a request.
    private func answer(_ frame: ATM87Inbound, _ context: ChannelHandlerContext) {
        // The switch is stopping: a request not begun is not read (the connection closes).
        guard self.server.connections.begin(self.id) else {
            self.close(context)
            return
        }
        self.answering = true
        switch frame {
        case .malformed(let error):
            // Answered at once (30), or the connection closes: no task needed.
            let response = self.server.router.respond(toMalformed: error, from: self.peer)
            self.finish(response, close: response == nil, context)
        case .message(let request):
            self.start(request, on: context.eventLoop)
        }
    }

    /// Starts the task that answers `request`; it hands the answer back on the connection's event loop.
    private func start(_ request: ATM87Message, on loop: any EventLoop) {
        let executor = self.server.connectionsOnTheirLoops ? EventLoopExecutor(loop) : nil
        let router = self.server.router
        let peer = self.peer
        let handler = NIOLoopBound(self, eventLoop: loop)
        self.request = Task(executorPreference: executor) {
            // Work that leaves this task (`DatabaseHealth.guarding`'s body) stays on the same loop.
            let response = await EventLoopExecutor.$preferred.withValue(executor) {
                await router.respond(to: request, from: peer)
            }
            if loop.inEventLoop {
                handler.value.answered(response)
            } else {
                loop.execute { handler.value.answered(response) }
            }
        }
    }

    /// A request's task is done: its answer goes out, and the connection goes on.
    private func answered(_ response: ATM87Message?) {
        self.request = nil
        guard let context = self.context else {
            self.answering = false
            _ = self.server.connections.end(self.id)
            return
        }
        self.finish(response, close: false, context)
        self.proceed(context)
    }

    /// The frame being answered is done: its answer (if any) is written and flushed; the connection
    /// closes when the frame could not be answered, or when the switch is stopping (after the write).
    private func finish(_ response: ATM87Message?, close: Bool, _ context: ChannelHandlerContext) {
        self.answering = false
        let stopping = self.server.connections.end(self.id)
        guard context.channel.isActive else { return }
        if close {
            self.close(context)
            return
        }
        if let response {
            if stopping {
                // Closed once the answer is written, not before.
                self.closing = true
                let channel = context.channel
                context.writeAndFlush(self.wrapOutboundOut(response)).whenComplete { _ in
                    channel.close(promise: nil)
                }
                return
            }
            context.writeAndFlush(self.wrapOutboundOut(response), promise: nil)
        } else if stopping {
            self.close(context)
            return
        }
        if !context.channel.isWritable {
            self.waitingForWritability = true
        }
    }

    private func close(_ context: ChannelHandlerContext) {
        self.closing = true
        context.close(promise: nil)
    }
}
