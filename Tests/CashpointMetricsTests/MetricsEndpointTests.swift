import Logging
import Metrics
import NIOPosix
import Testing

@testable import CashpointMetrics

@Suite struct MetricsEndpointTests {
    private let logger = Logger(label: "cashpoint.metrics.tests")

    /// Runs `body` against an endpoint on an ephemeral port, and stops it afterwards.
    private func withEndpoint(
        _ factory: PrometheusMetricsFactory,
        _ body: (MetricsEndpoint) async throws -> Void
    ) async throws {
        let endpoint = try await MetricsEndpoint.start(
            host: "127.0.0.1",
            port: 0,
            factory: factory,
            logger: self.logger
        )
        do {
            try await body(endpoint)
        } catch {
            try await endpoint.stop()
            throw error
        }
        try await endpoint.stop()
    }

    @Test func servesTheRenderedMetricsOverTCP() async throws {
        let factory = PrometheusMetricsFactory()
        Counter(label: "atm.requests", dimensions: [("code", "00")], factory: factory).increment(by: 2)
        Timer(label: "authorize", factory: factory).recordMilliseconds(3)
        try await self.withEndpoint(factory) { endpoint in
            #expect(endpoint.port > 0)
            let body = try await MetricsEndpoint.fetch(host: "127.0.0.1", port: endpoint.port)
            #expect(body == factory.render())
            #expect(body.contains("atm_requests{code=\"00\"} 2\n"))

            // A later scrape sees later values.
            Counter(label: "atm.requests", dimensions: [("code", "00")], factory: factory).increment()
            let again = try await MetricsEndpoint.fetch(host: "127.0.0.1", port: endpoint.port)
            #expect(again.contains("atm_requests{code=\"00\"} 3\n"))
        }
    }

    @Test func answersOtherPathsWith404() async throws {
        try await self.withEndpoint(PrometheusMetricsFactory()) { endpoint in
            let error = await #expect(throws: MetricsEndpointError.self) {
                try await MetricsEndpoint.fetch(host: "127.0.0.1", port: endpoint.port, path: "/health")
            }
            #expect(error?.code == .unexpectedStatus)
            #expect(error?.status == 404)
        }
    }

    @Test func answersOtherMethodsWith405() async throws {
        try await self.withEndpoint(PrometheusMetricsFactory()) { endpoint in
            let response = try await MetricsEndpoint.request(
                host: "127.0.0.1",
                port: endpoint.port,
                method: "POST",
                path: "/metrics"
            )
            #expect(response.status == 405)
            let query = try await MetricsEndpoint.request(
                host: "127.0.0.1",
                port: endpoint.port,
                method: "GET",
                path: "/metrics?name=x"
            )
            #expect(query.status == 200)
        }
    }

    @Test func fetchFromAClosedPortFails() async throws {
        let endpoint = try await MetricsEndpoint.start(
            host: "127.0.0.1",
            port: 0,
            factory: PrometheusMetricsFactory(),
            logger: self.logger
        )
        let port = endpoint.port
        try await endpoint.stop()
        await #expect(throws: (any Error).self) {
            try await MetricsEndpoint.fetch(host: "127.0.0.1", port: port)
        }
    }
}
