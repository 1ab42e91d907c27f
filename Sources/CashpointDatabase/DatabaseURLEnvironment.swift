public import Foundation
public import Logging

/// Who a command connects as, and so which environment variables name its database when no
/// `--database-url` is given (`scripts/pg env` sets them for the private cluster).
public enum DatabaseRole: Sendable, Hashable {
    /// The owner or the cluster's superuser: migrations, verifications, the harness's direct reads.
    case owner
    /// `cashpoint_switch`: the running switch and the terminal registry. Its own variable first,
    /// else the owner's.
    case switchRole

    /// The variables read, first found first used.
    public var environmentVariables: [String] {
        switch self {
        case .owner: ["CASHPOINT_DATABASE_URL"]
        case .switchRole: ["CASHPOINT_SWITCH_DATABASE_URL", "CASHPOINT_DATABASE_URL"]
        }
    }
}

/// A database a command cannot use: what is missing or wrong, and what to do.
public struct DatabaseSettingError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// Neither the option nor any of the role's variables.
        case notGiven
        /// A URL that does not parse.
        case invalid
        /// A server that does not answer, or refuses the connection.
        case unreachable
    }

    public var code: Code
    public var reason: String
    public var description: String { self.reason }
}

extension DatabaseURL {
    /// The URL a command was given (`option`), else the first of `role`'s environment variables.
    public init(
        option: String?,
        role: DatabaseRole = .owner,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(DatabaseSettingError) {
        let variables = role.environmentVariables
        guard let text = option ?? variables.lazy.compactMap({ environment[$0] }).first else {
            throw DatabaseSettingError(
                code: .notGiven,
                reason: "no database: pass --database-url or set \(variables.joined(separator: " or ")) "
                    + "(scripts/pg env prints it)"
            )
        }
        do {
            try self.init(text)
        } catch {
            throw DatabaseSettingError(code: .invalid, reason: error.description)
        }
    }

    /// As `init(option:role:environment:)`, checked by connecting once: a server that is down or
    /// refuses fails the command at once, with the reason. With several servers, the URL of the one
    /// `locate` picks (the primary, with `target_session_attrs=read-write`).
    public static func reachable(
        option: String?,
        role: DatabaseRole = .owner,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) async throws(DatabaseSettingError) -> DatabaseURL {
        let (url, endpoint) = try await Self.reachableServer(option: option, role: role, environment: environment, logger: logger)
        return url.on(endpoint)
    }

    /// As `reachable`, keeping every server of the URL: the URL as given and the server `locate` picked
    /// (a long-running process starts there and follows the primary; see `DatabaseClient`).
    public static func reachableServer(
        option: String?,
        role: DatabaseRole = .owner,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger
    ) async throws(DatabaseSettingError) -> (url: DatabaseURL, endpoint: DatabaseEndpoint) {
        let url = try DatabaseURL(option: option, role: role, environment: environment)
        do {
            return (url, try await url.locate(logger: logger))
        } catch {
            throw DatabaseSettingError(code: .unreachable, reason: String(describing: error))
        }
    }
}
