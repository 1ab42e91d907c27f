import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle
import Testing

@testable import CashpointMetrics

@Suite struct MetricsEndpointTests {
    private let logger = Logger(label: "cashpoint.metrics.tests")

    /// Runs the endpoint in a `ServiceGroup` on an ephemeral port, calls `body` with the port once it listens,
    /// then shuts the group down gracefully and waits for it to return.
    private func withEndpoint(
        _ registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        _ body: (Int) async throws -> Void
    ) async throws {
        let (bound, continuation) = AsyncStream<Int>.makeStream()
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, registry: registry, logger: self.logger) {
            continuation.yield($0)
            continuation.finish()
        }
        let group = ServiceGroup(services: [endpoint], logger: self.logger)
        let running = Task { try await group.run() }
        var ports = bound.makeAsyncIterator()
        let port = try #require(await ports.next())
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            try? await running.value
            throw error
        }
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test func servesTheRegistryOverTCP() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory.cashpoint(registry: registry)
        Counter(label: "cashpoint_requests_total", dimensions: [("mti", "0200"), ("code", "00")], factory: factory)
            .increment(by: 2)
        Timer(label: "cashpoint_request_duration_seconds", dimensions: [("mti", "0200")], factory: factory)
            .recordMilliseconds(3)
        try await self.withEndpoint(registry) { port in
            #expect(port > 0)
            let body = try await MetricsEndpoint.fetch(host: "127.0.0.1", port: port)
            #expect(body == registry.emitToString())
            #expect(body.contains("cashpoint_requests_total{code=\"00\",mti=\"0200\"} 2\n"))
            #expect(body.contains("# TYPE cashpoint_request_duration_seconds histogram\n"))

            // A later scrape sees later values.
            Counter(label: "cashpoint_requests_total", dimensions: [("mti", "0200"), ("code", "00")], factory: factory)
                .increment()
            let again = try await MetricsEndpoint.fetch(host: "127.0.0.1", port: port)
            #expect(again.contains("cashpoint_requests_total{code=\"00\",mti=\"0200\"} 3\n"))
        }
    }

    @Test func answersOtherPathsWith404() async throws {
        try await self.withEndpoint { port in
            let error = await #expect(throws: MetricsEndpointError.self) {
                try await MetricsEndpoint.fetch(host: "127.0.0.1", port: port, path: "/health")
            }
            #expect(error?.code == .unexpectedStatus)
            #expect(error?.status == 404)
        }
    }

    @Test func answersOtherMethodsWith405() async throws {
        try await self.withEndpoint { port in
            let response = try await MetricsEndpoint.request(
                host: "127.0.0.1",
                port: port,
                method: "POST",
                path: "/metrics"
            )
            #expect(response.status == 405)
            let query = try await MetricsEndpoint.request(
                host: "127.0.0.1",
                port: port,
                method: "GET",
                path: "/metrics?name=x"
            )
            #expect(query.status == 200)
        }
    }

    @Test func runReturnsAfterGracefulShutdownAndThePortIsClosed() async throws {
        var endpointPort = 0
        try await self.withEndpoint { port in
            endpointPort = port
            _ = try await MetricsEndpoint.fetch(host: "127.0.0.1", port: port)
        }
        // withEndpoint returned: run() returned after triggerGracefulShutdown.
        await #expect(throws: (any Error).self) {
            try await MetricsEndpoint.fetch(host: "127.0.0.1", port: endpointPort)
        }
    }

    /// A scraper's keep-alive connection, idle at shutdown, does not keep the service running: it is closed.
    @Test func gracefulShutdownClosesAnIdleKeepAliveConnection() async throws {
        var connection: (any Channel)?
        try await self.withEndpoint { port in
            let (responses, received) = AsyncStream<HTTPResponseStatus>.makeStream()
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(StatusRecorder(received: received))
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .get()
            connection = channel
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: MetricsEndpoint.path)
            head.headers.add(name: "Host", value: "127.0.0.1:\(port)")
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
            var statuses = responses.makeAsyncIterator()
            #expect(await statuses.next() == .ok)
            #expect(channel.isActive)
        }
        // withEndpoint returned: run() ended although the connection had not closed it.
        let channel = try #require(connection)
        try await channel.closeFuture.get()
    }
}

/// Reports the status of each response the client channel receives.
final class StatusRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPClientResponsePart

    let received: AsyncStream<HTTPResponseStatus>.Continuation

    init(received: AsyncStream<HTTPResponseStatus>.Continuation) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = self.unwrapInboundIn(data) { self.received.yield(head.status) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.received.finish()
        context.fireChannelInactive()
    }
}
