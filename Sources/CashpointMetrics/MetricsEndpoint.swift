public import Logging
public import NIOCore
import NIOHTTP1
public import NIOPosix

/// A small HTTP/1.1 server that answers `GET /metrics` with ``PrometheusMetricsFactory/render()``.
///
/// Other paths get 404, other methods on `/metrics` get 405. ``fetch(host:port:path:)`` is the matching client.
public struct MetricsEndpoint: Sendable {
    /// The content type of the Prometheus text format.
    public static let contentType = "text/plain; version=0.0.4"
    /// The path the metrics are served at.
    public static let path = "/metrics"
    /// The largest response body ``fetch(host:port:path:)`` accepts.
    static let maximumResponseBodySize = 16 * 1024 * 1024

    private let channel: any Channel
    private let logger: Logger

    /// The port the endpoint is bound to (the one the system chose, if started with port 0).
    public var port: Int { self.channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, logger: Logger) {
        self.channel = channel
        self.logger = logger
    }

    /// Binds the endpoint and starts serving; port 0 lets the system choose (read it back from ``port``).
    public static func start(
        host: String,
        port: Int,
        factory: PrometheusMetricsFactory,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) async throws -> MetricsEndpoint {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(factory: factory))
                }
            }
            .bind(host: host, port: port)
            .get()
        let endpoint = MetricsEndpoint(channel: channel, logger: logger)
        logger.debug(
            "metrics endpoint listening",
            metadata: [MetricsLogKey.host: "\(host)", MetricsLogKey.port: "\(endpoint.port)"]
        )
        return endpoint
    }

    /// Stops accepting connections and closes the listening socket.
    public func stop() async throws {
        try await self.channel.close().get()
        self.logger.debug("metrics endpoint stopped", metadata: [MetricsLogKey.port: "\(self.port)"])
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

/// The shell around ``MetricsRoute``: reads a request, writes the answer.
final class MetricsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let factory: PrometheusMetricsFactory
    private var request: HTTPRequestHead?

    init(factory: PrometheusMetricsFactory) {
        self.factory = factory
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.request = head
        case .body:
            break
        case .end:
            guard let head = self.request else { return }
            self.request = nil
            self.respond(to: head, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        let status: HTTPResponseStatus
        let body: String
        switch MetricsRoute(method: request.method, uri: request.uri) {
        case .metrics:
            (status, body) = (.ok, self.factory.render())
            headers.add(name: "Content-Type", value: MetricsEndpoint.contentType)
        case .notFound:
            (status, body) = (.notFound, "not found; metrics are at \(MetricsEndpoint.path)\n")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        case .methodNotAllowed:
            (status, body) = (.methodNotAllowed, "method not allowed; use GET\n")
            headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
            headers.add(name: "Allow", value: "GET")
        }
        let buffer = context.channel.allocator.buffer(string: body)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        if !request.isKeepAlive { headers.add(name: "Connection", value: "close") }

        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let written = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
        if !request.isKeepAlive {
            written.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
        }
    }
}
