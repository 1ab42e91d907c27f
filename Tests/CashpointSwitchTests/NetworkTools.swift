import CashpointDatabase
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// A raw TCP client: bytes out, length-prefixed frames (or the close) back.
final class RawLink {
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

    static func with<T: Sendable>(port: Int, _ body: (RawLink) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let raw = channel.channel
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawLink(channel: raw, inbound: inbound.makeAsyncIterator(), outbound: outbound))
        }
    }

    func send(_ bytes: [UInt8]) async throws {
        try await self.outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends one frame: the 2-byte length, then the bytes.
    func sendFrame(_ bytes: [UInt8]) async throws {
        try await self.send([UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes)
    }

    enum Next: Equatable {
        case frame([UInt8])
        case closed
        case timedOut
    }

    /// The next frame from the switch, or that it closed the connection, or nothing within `timeout`.
    func next(timeout: Duration = .seconds(5)) async throws -> Next {
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

/// A TCP proxy in front of PostgreSQL that a test can take down (every connection cut, new ones
/// refused) and bring back, or slow down: the database "unreachable" without stopping the cluster
/// the other tests share.
final class DatabaseProxy: Sendable {
    struct State {
        var up = true
        var delay: Duration = .zero
        var channels: [any Channel] = []
    }

    let state = Mutex(State())
    let port: Int
    let server: any Channel
    let task: Task<Void, Never>

    private init(port: Int, server: any Channel, task: Task<Void, Never>) {
        self.port = port
        self.server = server
        self.task = task
    }

    static func start(to target: DatabaseURL) async throws -> DatabaseProxy {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress!.port!
        let box = Mutex<DatabaseProxy?>(nil)
        let task = Task<Void, Never> {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await client in inbound {
                        guard let proxy = box.withLock({ $0 }) else { continue }
                        group.addTask { await proxy.relay(client, target: target) }
                    }
                }
            }
        }
        let proxy = DatabaseProxy(port: port, server: server.channel, task: task)
        box.withLock { $0 = proxy }
        return proxy
    }

    func relay(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, target: DatabaseURL) async {
        let admitted = self.state.withLock { state in
            guard state.up else { return false }
            state.channels.append(client.channel)
            return true
        }
        guard admitted else {
            try? await client.channel.close()
            return
        }
        do {
            let upstream = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let stillUp = self.state.withLock { state in
                guard state.up else { return false }
                state.channels.append(upstream.channel)
                return true
            }
            guard stillUp else {
                try? await upstream.channel.close()
                try? await client.channel.close()
                return
            }
            try await client.executeThenClose { clientIn, clientOut in
                try await upstream.executeThenClose { upIn, upOut in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for try await chunk in clientIn { try await upOut.write(chunk) }
                        }
                        group.addTask {
                            for try await chunk in upIn {
                                let delay = self.state.withLock { $0.delay }
                                if delay > .zero { try await Task.sleep(for: delay) }
                                try await clientOut.write(chunk)
                            }
                        }
                        _ = try await group.next()
                        group.cancelAll()
                    }
                }
            }
        } catch {
            try? await client.channel.close()
        }
    }

    /// Cuts every connection and refuses new ones.
    func takeDown() {
        let channels = self.state.withLock { state in
            state.up = false
            defer { state.channels = [] }
            return state.channels
        }
        for channel in channels { channel.close(promise: nil) }
    }

    func bringUp() {
        self.state.withLock { $0.up = true }
    }

    /// Holds every answer from the database this long.
    func slowDown(_ delay: Duration) {
        self.state.withLock { $0.delay = delay }
    }

    func stop() async {
        self.takeDown()
        try? await self.server.close()
        await self.task.value
    }
}
