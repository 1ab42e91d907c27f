public import Logging
public import NIOCore
public import PostgresNIO

/// One server of a database URL: a host name or address and its port.
public struct DatabaseEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port`, an IPv6 address in brackets.
    public var description: String { self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)" }
}

/// A PostgreSQL connection URL, `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable`, read
/// into postgres-nio's client configuration. `scripts/pg url` prints one for the private cluster.
///
/// Several servers, as libpq takes them and `pg_autoctl show uri` prints them:
/// `postgres://USER@H1:P1,H2:P2/DATABASE?target_session_attrs=read-write`. Each server's port defaults
/// to 5432; `target_session_attrs` is `any` (the default: the first server that answers) or
/// `read-write` (the first that accepts writes: the primary). Other query parameters of libpq
/// (`connect_timeout`, `application_name`) are accepted and not used.
///
/// The password is kept out of `description`, so a configuration can be logged.
public struct DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    /// The servers, in the URL's order (at least one).
    public var endpoints: [DatabaseEndpoint]
    public var username: String
    public var password: String?
    public var database: String
    /// `disable` (the default for loopback), `prefer` or `require`.
    public var sslMode: String
    /// Which of `endpoints` a session must be on.
    public var targetSessionAttributes: TargetSessionAttributes

    /// libpq's `target_session_attrs`, the values the switch honours.
    public enum TargetSessionAttributes: String, Sendable, Hashable, CaseIterable {
        /// The first server that answers.
        case any
        /// The first server whose sessions accept writes (`SHOW transaction_read_only` is off): the primary.
        case readWrite = "read-write"
    }

    /// The first server's host (with one server, the server's).
    public var host: String {
        get { self.endpoints[0].host }
        set { self.endpoints[0].host = newValue }
    }

    /// The first server's port.
    public var port: Int {
        get { self.endpoints[0].port }
        set { self.endpoints[0].port = newValue }
    }

    /// Why a URL was refused: the message says what to write instead.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String {
            "invalid database URL: \(self.reason) (expected postgres://USER:PASSWORD@HOST:PORT[,HOST:PORT...]/DATABASE)"
        }
    }

    public init(_ text: String) throws(ParseError) {
        let schemes = ["postgres://", "postgresql://"]
        guard let scheme = schemes.first(where: { text.hasPrefix($0) }) else {
            throw ParseError(reason: "it must start with postgres:// or postgresql://")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        var query = Substring("")
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw ParseError(reason: "it names no database after the host")
        }
        let database = String(rest[rest.index(after: slash)...])
        guard !database.isEmpty else { throw ParseError(reason: "the database name is empty") }
        let authority = rest[..<slash]
        var userInfo = Substring("")
        var hosts = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            hosts = authority[authority.index(after: at)...]
        }
        guard !userInfo.isEmpty else { throw ParseError(reason: "it names no user") }
        if let colon = userInfo.firstIndex(of: ":") {
            self.username = Self.percentDecoded(userInfo[..<colon])
            self.password = Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
        } else {
            self.username = Self.percentDecoded(userInfo)
            self.password = nil
        }
        self.endpoints = try hosts.split(separator: ",", omittingEmptySubsequences: false).map(Self.endpoint)
        guard Set(self.endpoints).count == self.endpoints.count else {
            throw ParseError(reason: "a server is named twice")
        }
        self.database = Self.percentDecoded(Substring(database))
        self.sslMode = "disable"
        self.targetSessionAttributes = .any
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ParseError(reason: "the parameter '\(pair)' has no value") }
            switch parts[0] {
            case "sslmode":
                guard ["disable", "prefer", "require"].contains(parts[1]) else {
                    throw ParseError(reason: "sslmode must be disable, prefer or require")
                }
                self.sslMode = parts[1]
            case "target_session_attrs":
                guard let attributes = TargetSessionAttributes(rawValue: parts[1]) else {
                    throw ParseError(reason: "target_session_attrs must be any or read-write")
                }
                self.targetSessionAttributes = attributes
            default:
                break
            }
        }
    }

    /// `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`.
    private static func endpoint(_ text: Substring) throws(ParseError) -> DatabaseEndpoint {
        var host = text
        var port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ParseError(reason: "'\(text)': an IPv6 address needs its closing ]")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw ParseError(reason: "'\(text)': expected :PORT after ]") }
                port = after.dropFirst()
            }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty else {
            throw ParseError(reason: text.isEmpty ? "a server in the list is empty" : "it names no host")
        }
        guard let port else { return DatabaseEndpoint(host: String(host), port: 5432) }
        guard let number = Int(port), (1...65535).contains(number) else {
            throw ParseError(reason: "the port is not a number from 1 to 65535")
        }
        return DatabaseEndpoint(host: String(host), port: number)
    }

    /// The URL without its password.
    public var description: String {
        let servers = self.endpoints.map(\.description).joined(separator: ",")
        let target = self.targetSessionAttributes == .any ? "" : "?target_session_attrs=\(self.targetSessionAttributes.rawValue)"
        return "postgres://\(self.username)\(self.password == nil ? "" : ":***")@\(servers)/\(self.database)\(target)"
    }

    /// The same URL with only `endpoint` (one server of a list, the one the session is on).
    public func on(_ endpoint: DatabaseEndpoint) -> DatabaseURL {
        var url = self
        url.endpoints = [endpoint]
        return url
    }

    /// postgres-nio's client configuration for this URL.
    public func clientConfiguration() -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch self.sslMode {
        case "require": tls = .require(.makeClientConfiguration())
        case "prefer": tls = .prefer(.makeClientConfiguration())
        default: tls = .disable
        }
        return PostgresClient.Configuration(
            host: self.host,
            port: self.port,
            username: self.username,
            password: self.password,
            database: self.database,
            tls: tls
        )
    }

    private static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension DatabaseURL {
    /// Runs `body` with a pooled client for this URL (with a list of servers, starting on the one
    /// `locate` picks), the pool running beside it; the pool is shut down when `body` returns or throws.
    @discardableResult
    public func withClient<Result: Sendable>(
        logger: Logger,
        maximumConnections: Int = 20,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        _ body: @Sendable (DatabaseClient) async throws -> Result
    ) async throws -> Result {
        // A list of servers: start on the one that takes this URL's sessions now (the client moves on
        // by itself after a failover).
        let start = self.endpoints.count > 1 ? try await self.locate(logger: logger) : self.endpoints[0]
        let background = {
            var background = logger
            background.logLevel = max(logger.logLevel, .error)
            return background
        }()
        let client = DatabaseClient(url: self, endpoint: start, logger: logger) { url in
            url.makePool(maximumConnections: maximumConnections, eventLoopGroup: eventLoopGroup, logger: background)
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            do {
                let result = try await body(client)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// A `PostgresClient` on this URL's (first) server: `maximumConnections`, on `eventLoopGroup` when
    /// given, a connect timeout of `connectTimeout`.
    ///
    /// `minimumConnections` stay open when idle; `keepAlive` false: no keep-alive queries. postgres-nio
    /// arms a connection's keep-alive timer, and a demand connection's (one above the minimum) idle
    /// timer, each time the connection goes back to the pool, and disarms them at its next lease: a task
    /// sleeping on Swift's global (Dispatch) executor, a system call and a thread wake-up, for every
    /// query. A pool that serves a steady stream of short queries does better with neither.
    public func makePool(
        maximumConnections: Int,
        minimumConnections: Int = 0,
        keepAlive: Bool = true,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        connectTimeout: Duration? = nil,
        logger: Logger
    ) -> PostgresClient {
        var configuration = self.clientConfiguration()
        configuration.options.maximumConnections = maximumConnections
        configuration.options.minimumConnections = min(minimumConnections, maximumConnections - 1)
        if !keepAlive { configuration.options.keepAliveBehavior = nil }
        if let connectTimeout { configuration.options.connectTimeout = connectTimeout }
        if let eventLoopGroup {
            return PostgresClient(configuration: configuration, eventLoopGroup: eventLoopGroup, backgroundLogger: logger)
        }
        return PostgresClient(configuration: configuration, backgroundLogger: logger)
    }

    /// Runs `body` with one connection, closed afterwards; with a list of servers, on the one `locate`
    /// picks (the primary, for `target_session_attrs=read-write`).
    @discardableResult
    public func withConnection<Result: Sendable>(
        logger: Logger,
        _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        if self.endpoints.count > 1 {
            return try await self.on(try await self.locate(logger: logger)).withConnection(logger: logger, body)
        }
        let configuration = PostgresConnection.Configuration(
            host: self.host,
            port: self.port,
            username: self.username,
            password: self.password,
            database: self.database,
            tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The same server and database as another role.
    public func withUser(_ username: String, password: String?) -> DatabaseURL {
        var url = self
        url.username = username
        url.password = password
        return url
    }
}
