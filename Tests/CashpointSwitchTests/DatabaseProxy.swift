import CashpointDatabase
import Foundation
import NIOCore
import NIOPosix
import Synchronization

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
                        guard let proxy = box.withLock({ $0 }) else {
                            group.addTask { try? await client.executeThenClose { _, _ in } }
                            continue
                        }
                        group.addTask { await proxy.relay(client, target: target) }
                    }
                }
            }
        }
        let proxy = DatabaseProxy(port: port, server: server.channel, task: task)
        box.withLock { $0 = proxy }
        return proxy
    }

    /// Relays one client connection to the database, unless the proxy is down. Every accepted channel
    /// is closed through `executeThenClose`, which finishes its writer: swift-nio traps on the writer
    /// of a `NIOAsyncChannel` dropped without it, when the channel becomes active.
    func relay(_ client: NIOAsyncChannel<ByteBuffer, ByteBuffer>, target: DatabaseURL) async {
        try? await client.executeThenClose { clientIn, clientOut in
            let admitted = self.state.withLock { state in
                guard state.up else { return false }
                state.channels.append(client.channel)
                return true
            }
            guard admitted else { return }
            let upstream = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            try await upstream.executeThenClose { upIn, upOut in
                let stillUp = self.state.withLock { state in
                    guard state.up else { return false }
                    state.channels.append(upstream.channel)
                    return true
                }
                guard stillUp else { return }
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
