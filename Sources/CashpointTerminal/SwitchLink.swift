public import ATM87
import Foundation
import Synchronization
public import NIOCore
public import NIOPosix

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

/// One TCP connection to the switch, framed ATM-87: a request out, its answer in, in order.
public final class SwitchLink {
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
