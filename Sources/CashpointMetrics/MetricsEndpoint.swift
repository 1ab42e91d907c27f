public import Logging
public import NIOCore
import NIOHTTP1
public import NIOPosix
public import Prometheus
public import ServiceLifecycle

/// The HTTP/1.1 endpoint that answers `GET /metrics` with a swift-prometheus registry's exposition, as a
/// swift-service-lifecycle `Service`.
///
/// Other paths get 404, other methods on `/metrics` get 405. `run()` binds, reports the port to `onBound` (the
/// one the system chose, if `port` is 0), and serves until graceful shutdown or cancellation: then it closes the
/// listening socket and every connection (a scrape in progress is cut off; the scraper tries again next time)
/// and returns. ``fetch(host:port:path:group:)`` is the matching client.
public struct MetricsEndpoint: Service, Sendable {
    /// The content type of the Prometheus text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    /// The path the metrics are served at.
    public static let path = "/metrics"
    /// The largest response body ``fetch(host:port:path:group:)`` accepts.
    static let maximumResponseBodySize = 16 * 1024 * 1024

    let host: String
    let port: Int
    let registry: PrometheusCollectorRegistry
    let group: any EventLoopGroup
    let logger: Logger
    let onBound: @Sendable (Int) -> Void

    public init(
        host: String,
        port: Int,
        registry: PrometheusCollectorRegistry,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        onBound: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.host = host
        self.port = port
        self.registry = registry
        self.group = group
        self.logger = logger
        self.onBound = onBound
    }

    public func run() async throws {
        let server = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: self.host, port: self.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        let port = server.channel.localAddress?.port ?? self.port
        self.logger.debug(
            "metrics endpoint listening",
            metadata: [MetricsLogKey.host: "\(self.host)", MetricsLogKey.port: "\(port)"]
        )
        self.onBound(port)
        let serverChannel = server.channel
        await withDiscardingTaskGroup { connections in
            await withTaskCancellationOrGracefulShutdownHandler {
                do {
                    try await server.executeThenClose { inbound in
                        for try await connection in inbound {
                            connections.addTask { await self.serve(connection) }
                        }
                    }
                } catch {
                    self.logger.debug("metrics endpoint stopped accepting", metadata: [MetricsLogKey.error: "\(error)"])
                }
            } onCancelOrGracefulShutdown: {
                serverChannel.close(promise: nil)
            }
            // The listening socket is closed: end the connections (idle keep-alive ones would wait forever).
            connections.cancelAll()
        }
        self.logger.debug("metrics endpoint stopped", metadata: [MetricsLogKey.port: "\(port)"])
    }

    /// Answers one connection's requests in order until it closes, asks to close, or the task is cancelled.
    func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var request: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        request = head
                    case .body:
                        break
                    case .end:
                        guard let head = request else { continue }
                        request = nil
                        try await outbound.write(contentsOf: self.response(to: head))
                        if !head.isKeepAlive { return }
                    }
                }
            }
        } catch {
            self.logger.debug("metrics connection ended with an error", metadata: [MetricsLogKey.error: "\(error)"])
        }
    }

    /// The response parts for a request: head, body and end.
    func response(to request: HTTPRequestHead) -> [HTTPServerResponsePart] {
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        let body: ByteBuffer
        switch MetricsRoute(method: request.method, uri: request.uri) {
        case .metrics:
            status = .ok
            body = ByteBuffer(bytes: self.registry.emitToBuffer())
            headers.add(name: "Content-Type", value: Self.contentType)
        case .notFound:
            status = .notFound
            body = ByteBuffer(string: "not found; metrics are at \(Self.path)\n")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        case .methodNotAllowed:
            status = .methodNotAllowed
            body = ByteBuffer(string: "method not allowed; use GET\n")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Allow", value: "GET")
        }
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        return [.head(head), .body(.byteBuffer(body)), .end(nil)]
    }

    /// Fetches `GET path` (by default `/metrics`) from an endpoint and returns the body.
    ///
    /// Throws ``MetricsEndpointError`` with code `.unexpectedStatus` if the answer is not 200 OK.
    public static func fetch(
        host: String,
        port: Int,
        path: String = MetricsEndpoint.path,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> String {
        let response = try await self.request(host: host, port: port, method: "GET", path: path, group: group)
        guard response.status == 200 else {
            throw MetricsEndpointError(code: .unexpectedStatus, status: response.status, host: host, port: port)
        }
        return response.body
    }

    /// One HTTP/1.1 request on a new connection; the response's status code and body.
    static func request(
        host: String,
        port: Int,
        method: String,
        path: String,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> (status: Int, body: String) {
        let client = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        // A server that never answers ends the wait by the connection being closed.
        let deadline = client.channel.eventLoop.scheduleTask(in: timeout) { client.channel.close(promise: nil) }
        defer { deadline.cancel() }
        return try await client.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
            head.headers.add(name: "Host", value: "\(host):\(port)")
            head.headers.add(name: "Connection", value: "close")
            // No body: a fixed length of 0 (not chunked), head and end in one write, so nothing is
            // left to write once the server has answered and closed.
            head.headers.add(name: "Content-Length", value: "0")
            try await outbound.write(contentsOf: [.head(head), .end(nil)])
            var status: Int?
            var body = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let response):
                    status = Int(response.status.code)
                case .body(var chunk):
                    guard body.readableBytes + chunk.readableBytes <= Self.maximumResponseBodySize else {
                        throw MetricsEndpointError(code: .responseTooLarge, host: host, port: port)
                    }
                    body.writeBuffer(&chunk)
                case .end:
                    guard let status else { break }
                    return (status, String(buffer: body))
                }
            }
            throw MetricsEndpointError(code: .incompleteResponse, host: host, port: port)
        }
    }
}

/// An error of ``MetricsEndpoint/fetch(host:port:path:group:)``, compared by its code.
public struct MetricsEndpointError: Error, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String {
            case unexpectedStatus
            case incompleteResponse
            case responseTooLarge
        }

        private let base: Base

        /// The endpoint answered with a status other than 200 OK.
        public static let unexpectedStatus = Code(base: .unexpectedStatus)
        /// The connection closed (or timed out) before a complete response arrived.
        public static let incompleteResponse = Code(base: .incompleteResponse)
        /// The response body was larger than the client accepts.
        public static let responseTooLarge = Code(base: .responseTooLarge)

        public var description: String { self.base.rawValue }
    }

    public var code: Code
    /// The HTTP status code, for `.unexpectedStatus`.
    public var status: Int?
    public var host: String
    public var port: Int

    public var description: String {
        switch self.code {
        case .unexpectedStatus:
            "\(self.host):\(self.port) answered HTTP \(self.status ?? 0); check that it is a metrics endpoint"
        case .incompleteResponse:
            "\(self.host):\(self.port) closed the connection or timed out before answering; check that it is running"
        default:
            "\(self.host):\(self.port) sent more than \(MetricsEndpoint.maximumResponseBodySize) bytes"
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
}

/// Logger metadata keys of the metrics endpoint.
enum MetricsLogKey {
    static let host = "metrics.host"
    static let port = "metrics.port"
    static let error = "metrics.error"
}

/// What the endpoint answers to a request: the pure routing decision.
enum MetricsRoute: Equatable {
    case metrics
    case notFound
    case methodNotAllowed

    init(method: HTTPMethod, uri: String) {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        switch (path == MetricsEndpoint.path, method) {
        case (false, _): self = .notFound
        case (true, .GET): self = .metrics
        case (true, _): self = .methodNotAllowed
        }
    }
}
