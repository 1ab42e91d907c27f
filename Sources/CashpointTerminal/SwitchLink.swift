public import ATM87
import Foundation
public import NIOCore
public import NIOPosix
import Synchronization

/// Why talking to the switch failed: said so a person at a terminal or a test can act on it.
public struct LinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure: a caller decides by this, never by the words.
    public enum Kind: Sendable, Hashable {
        /// No answer within the time given; the connection has been closed.
        case timeout
        /// The connection closed or failed.
        case closed
        /// Anything else: a refusal, an answer that could not be used.
        case failed
    }

    public var kind: Kind
    public var reason: String
    public init(_ reason: String, kind: Kind = .failed) {
        self.reason = reason
        self.kind = kind
    }
    public var description: String { self.reason }
}

/// Set by a timer that closed the link, so the reader can tell a timeout from a close.
final class TimeoutFlag: Sendable {
    let fired = Atomic<Bool>(false)
}

/// What a `TerminalSession` talks through: a request out, its answer back. `SwitchLink` over TCP; a
/// switch in memory in tests.
public protocol SwitchExchange: AnyObject {
    /// Sends a message and waits for the next one from the switch (at most `timeout`).
    func exchange(_ message: ATM87Message, timeout: Duration) async throws -> ATM87Message
    /// Sends a message and waits for nothing (one that gets no answer).
    func send(_ message: ATM87Message) async throws
}

extension SwitchExchange {
    public func exchange(_ message: ATM87Message) async throws -> ATM87Message {
        try await self.exchange(message, timeout: .seconds(10))
    }
}

/// One TCP connection to the switch, framed ATM-87: a request out, its answer in, in order.
public final class SwitchLink: SwitchExchange {
    var inbound: NIOAsyncChannelInboundStream<ATM87Inbound>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ATM87Message>
    let channel: any Channel

    init(
        inbound: NIOAsyncChannelInboundStream<ATM87Inbound>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ATM87Message>,
        channel: any Channel
    ) {
        self.inbound = inbound
        self.outbound = outbound
        self.channel = channel
    }

    /// Connects, runs `body` with the link, and closes it.
    public static func with<Result: Sendable>(
        host: String,
        port: Int,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (SwitchLink) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(3))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addATM87Codec()
                    return try NIOAsyncChannel<ATM87Inbound, ATM87Message>(wrappingChannelSynchronously: channel)
                }
            }
        let raw = channel.channel
        return try await channel.executeThenClose { inbound, outbound in
            try await body(SwitchLink(inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: raw))
        }
    }

    /// Sends a message and waits for the next one from the switch (at most `timeout`).
    public func exchange(_ message: ATM87Message, timeout: Duration = .seconds(10)) async throws -> ATM87Message {
        try await self.send(message)
        return try await self.receive(timeout: timeout)
    }

    public func send(_ message: ATM87Message) async throws {
        do {
            try await self.outbound.write(message)
        } catch {
            throw LinkError("the connection failed: \(error)", kind: .closed)
        }
    }

    /// The next message; a closed connection, a frame that does not decode, or no answer within
    /// `timeout` (the link is then closed) is an error.
    public func receive(timeout: Duration = .seconds(10)) async throws -> ATM87Message {
        let channel = self.channel
        let flag = TimeoutFlag()
        let timer = Task {
            try await Task.sleep(for: timeout)
            flag.fired.store(true, ordering: .relaxed)
            try? await channel.close()
        }
        defer { timer.cancel() }
        let next: ATM87Inbound?
        do {
            next = try await self.inbound.next()
        } catch {
            if flag.fired.load(ordering: .relaxed) { throw LinkError("no answer within \(timeout)", kind: .timeout) }
            throw LinkError("the connection failed: \(error)", kind: .closed)
        }
        switch next {
        case .none:
            if flag.fired.load(ordering: .relaxed) { throw LinkError("no answer within \(timeout)", kind: .timeout) }
            throw LinkError("the switch closed the connection", kind: .closed)
        case .some(.malformed(let error)): throw LinkError("the switch's answer does not decode: \(error)")
        case .some(.message(let message)): return message
        }
    }
}

/// What a connection to the switch reports, as it happens.
public enum LinkEvent: Sendable {
    /// A frame arrived: a message, or one that does not decode.
    case received(ATM87Inbound)
    /// The connection closed or failed.
    case closed
}

/// A connection to the switch as the ATM's controller uses it: a message goes out at once (`write`
/// returns without waiting), and what comes in, or the end of the connection, is delivered as a
/// `LinkEvent`. Nothing here waits for an answer: that is the controller's, by event.
public protocol ATMConnection: AnyObject, Sendable {
    /// Sends a message; a failure to send shows as the connection's end.
    func write(_ message: ATM87Message)
    func close()
}

/// Opens connections to the switch: TCP for the real ATM, in memory in tests.
public protocol ATMConnector: Sendable {
    /// Connects; everything the connection reports afterwards goes to `deliver`, in order.
    func connect(
        host: String,
        port: Int,
        deliver: @escaping @Sendable (LinkEvent) -> Void
    ) async throws -> any ATMConnection
}

/// The ATM's connection over TCP, framed ATM-87 (a 2-byte length before each message).
public struct TCPConnector: ATMConnector {
    let group: any EventLoopGroup

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.group = group
    }

    public func connect(
        host: String,
        port: Int,
        deliver: @escaping @Sendable (LinkEvent) -> Void
    ) async throws -> any ATMConnection {
        do {
            let channel = try await ClientBootstrap(group: self.group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(3))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addATM87Codec()
                        try channel.pipeline.syncOperations.addHandler(Deliverer(deliver: deliver))
                    }
                }
                .connect(host: host, port: port).get()
            return TCPConnection(channel: channel)
        } catch {
            throw LinkError("cannot connect to \(host):\(port): \(error)", kind: .closed)
        }
    }

    /// Hands each inbound frame, and the channel's end, to the controller.
    final class Deliverer: ChannelInboundHandler, Sendable {
        typealias InboundIn = ATM87Inbound
        let deliver: @Sendable (LinkEvent) -> Void

        init(deliver: @escaping @Sendable (LinkEvent) -> Void) { self.deliver = deliver }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.deliver(.received(Self.unwrapInboundIn(data)))
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.deliver(.closed)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}

final class TCPConnection: ATMConnection {
    let channel: any Channel

    init(channel: any Channel) { self.channel = channel }

    func write(_ message: ATM87Message) {
        let channel = self.channel
        channel.writeAndFlush(message).whenFailure { _ in channel.close(promise: nil) }
    }

    func close() { self.channel.close(promise: nil) }
}
