public import Logging
public import NIOCore
public import PostgresNIO

/// A PostgreSQL connection URL, `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable`, read
/// into postgres-nio's client configuration. `scripts/pg url` prints one for the private cluster.
///
/// The password is kept out of `description`, so a configuration can be logged.
public struct DatabaseURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `disable` (the default for loopback), `prefer` or `require`.
    public var sslMode: String

    /// Why a URL was refused: the message says what to write instead.
    public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public var description: String {
            "invalid database URL: \(self.reason) (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
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
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
        }
        guard !userInfo.isEmpty else { throw ParseError(reason: "it names no user") }
        if let colon = userInfo.firstIndex(of: ":") {
            self.username = Self.percentDecoded(userInfo[..<colon])
            self.password = Self.percentDecoded(userInfo[userInfo.index(after: colon)...])
        } else {
            self.username = Self.percentDecoded(userInfo)
            self.password = nil
        }
        if let colon = hostPort.lastIndex(of: ":") {
            guard let port = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(port) else {
                throw ParseError(reason: "the port is not a number from 1 to 65535")
            }
            self.port = port
            self.host = String(hostPort[..<colon])
        } else {
            self.port = 5432
            self.host = String(hostPort)
        }
        guard !self.host.isEmpty else { throw ParseError(reason: "it names no host") }
        self.database = Self.percentDecoded(Substring(database))
        self.sslMode = "disable"
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 && parts[0] == "sslmode" {
                guard ["disable", "prefer", "require"].contains(parts[1]) else {
                    throw ParseError(reason: "sslmode must be disable, prefer or require")
                }
                self.sslMode = parts[1]
            }
        }
    }

    /// The URL without its password.
    public var description: String {
        "postgres://\(self.username)\(self.password == nil ? "" : ":***")@\(self.host):\(self.port)/\(self.database)"
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
    /// Runs `body` with a pooled client for this URL, the pool running beside it; the pool is shut
    /// down when `body` returns or throws.
    @discardableResult
    public func withClient<Result: Sendable>(
        logger: Logger,
        maximumConnections: Int = 20,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        _ body: @Sendable (PostgresClient) async throws -> Result
    ) async throws -> Result {
        var configuration = self.clientConfiguration()
        configuration.options.maximumConnections = maximumConnections
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        let client =
            if let eventLoopGroup {
                PostgresClient(
                    configuration: configuration,
                    eventLoopGroup: eventLoopGroup,
                    backgroundLogger: background
                )
            } else {
                PostgresClient(configuration: configuration, backgroundLogger: background)
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

    /// Runs `body` with one connection, closed afterwards.
    @discardableResult
    public func withConnection<Result: Sendable>(
        logger: Logger,
        _ body: @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
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
