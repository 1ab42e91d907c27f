import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import CashpointSwitch

/// Records the user events that reach the end of a pipeline.
final class EventRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = Never
    let cancelled = Mutex(0)

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ConnectionHandler.CancelRequest { self.cancelled.withLock { $0 += 1 } }
    }
}

/// A channel as an accepted connection is: active.
func connectedChannel(_ handler: (any ChannelHandler & Sendable)? = nil) throws -> EmbeddedChannel {
    let channel = EmbeddedChannel()
    if let handler { try channel.pipeline.syncOperations.addHandler(handler) }
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    return channel
}

@Suite(
    "The switch's connection registry: waiting for the last connection, stopping, cancelling",
    .timeLimit(.minutes(1))
)
struct ConnectionRegistryTests {
    @Test("allClosed returns at once with no connection, and otherwise when the last one closes")
    func allClosed() async throws {
        let registry = ConnectionRegistry()
        await registry.allClosed()
        let first = try #require(registry.open(try connectedChannel(), limit: 10))
        let second = try #require(registry.open(try connectedChannel(), limit: 10))
        registry.close(first)
        let waiter = Task { await registry.allClosed() }
        // The waiter is parked (not resumed by the first close).
        while registry.state.withLock({ $0.waiters.isEmpty }) { await Task.yield() }
        #expect(registry.count == 1)
        registry.close(second)
        await waiter.value
        #expect(registry.count == 0)
        #expect(registry.state.withLock { $0.waiters.isEmpty })
    }

    @Test("stopping: idle connections close, a busy one stays until its answer, and nothing new begins")
    func shutDown() throws {
        let registry = ConnectionRegistry()
        let idle = try connectedChannel()
        let busy = try connectedChannel()
        _ = try #require(registry.open(idle, limit: 10))
        let busyID = try #require(registry.open(busy, limit: 10))
        #expect(registry.begin(busyID))
        registry.shutDown()
        #expect(!idle.isActive)
        #expect(busy.isActive)
        // The answer's end tells the connection to close after writing it.
        #expect(registry.end(busyID))
        #expect(!registry.begin(busyID))
        #expect(registry.open(EmbeddedChannel(), limit: 10) == nil)
    }

    @Test("cancelling: every connection is told to cancel its request and closed; no new one is let in")
    func cancelAll() throws {
        let registry = ConnectionRegistry()
        let recorder = EventRecorder()
        let channel = try connectedChannel(recorder)
        let id = try #require(registry.open(channel, limit: 10))
        #expect(registry.begin(id))
        registry.cancelAll()
        #expect(recorder.cancelled.withLock { $0 } == 1)
        #expect(!channel.isActive)
        #expect(registry.open(EmbeddedChannel(), limit: 10) == nil)
    }
}
