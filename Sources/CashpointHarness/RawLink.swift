import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A raw TCP client: bytes out, length-prefixed frames (or the close) back.
public final class RawLink {
    let channel: any Channel
    var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    var pending = ByteBuffer()

    init(
        channel: any Channel,
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.channel = channel
        self.inbound = inbound
        self.outbound = outbound
    }

    public static func with<T: Sendable>(
        host: String = "127.0.0.1",
        port: Int,
        _ body: (RawLink) async throws -> T
    ) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let raw = channel.channel
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawLink(channel: raw, inbound: inbound.makeAsyncIterator(), outbound: outbound))
        }
    }

    public func send(_ bytes: [UInt8]) async throws {
        try await self.outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends one frame: the 2-byte length, then the bytes.
    public func sendFrame(_ bytes: [UInt8]) async throws {
        try await self.send([UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes)
    }

    public enum Next: Equatable, Sendable {
        case frame([UInt8])
        case closed
        case timedOut
    }

    /// The next frame from the switch, or that it closed the connection, or nothing within `timeout`.
    public func next(timeout: Duration = .seconds(5)) async throws -> Next {
        let channel = self.channel
        let timedOut = Mutex(false)
        let timer = Task {
            try await Task.sleep(for: timeout)
            timedOut.withLock { $0 = true }
            try? await channel.close()
        }
        defer { timer.cancel() }
        while true {
            if self.pending.readableBytes >= 2 {
                let length = Int(self.pending.getInteger(at: self.pending.readerIndex, as: UInt16.self)!)
                if self.pending.readableBytes >= 2 + length {
                    self.pending.moveReaderIndex(forwardBy: 2)
                    return .frame(self.pending.readBytes(length: length)!)
                }
            }
            let chunk: ByteBuffer?
            do {
                chunk = try await self.inbound.next()
            } catch {
                chunk = nil
            }
            guard var chunk else { return timedOut.withLock { $0 } ? .timedOut : .closed }
            self.pending.writeBuffer(&chunk)
        }
    }
}
