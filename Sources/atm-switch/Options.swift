import CashpointBank
import ArgumentParser
import CashpointDatabase
import CashpointSecurity
import Foundation
import Logging

/// The settings every database command shares, from flags or the environment.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: $CASHPOINT_DATABASE_URL).")
    var databaseURL: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (default: warning; serve: info).")
    var logLevel: String?

    func url(environment variables: [String] = ["CASHPOINT_DATABASE_URL"]) throws -> DatabaseURL {
        let environment = ProcessInfo.processInfo.environment
        guard let text = self.databaseURL ?? variables.lazy.compactMap({ environment[$0] }).first else {
            throw ValidationError(
                "no database: pass --database-url or set \(variables.joined(separator: " or ")) (scripts/pg env prints it)"
            )
        }
        do {
            return try DatabaseURL(text)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The URL, checked by connecting once: a server that is down or refuses fails the command at
    /// once, with the reason.
    func reachableURL(environment variables: [String] = ["CASHPOINT_DATABASE_URL"]) async throws -> DatabaseURL {
        let url = try self.url(environment: variables)
        let logger = try self.logger()
        do {
            try await url.probe(logger: logger)
        } catch {
            throw ValidationError(error.reason)
        }
        return url
    }

    func logger(default fallback: Logger.Level = .warning) throws -> Logger {
        guard let level = self.logLevel.map({ Logger.Level(rawValue: $0) }) ?? fallback else {
            throw ValidationError(
                "unknown log level '\(self.logLevel ?? "")': trace, debug, info, notice, warning, error, critical"
            )
        }
        var logger = Logger(label: "atm-switch")
        logger.logLevel = level
        return logger
    }
}

/// The pepper (PAN, PIN and password digests), from a key file or the environment.
struct PepperOptions: ParsableArguments {
    @Option(
        help:
            "Key file with the pepper, 64 hex characters (default: $CASHPOINT_PEPPER_FILE, or $CASHPOINT_PEPPER itself)."
    )
    var pepperFile: String?

    @Option(help: "bcrypt cost for new PIN and password hashes (4-31).")
    var bcryptCost: Int = Bcrypt.defaultCost

    func hasher() throws -> CredentialHasher {
        guard (4...31).contains(self.bcryptCost) else {
            throw ValidationError("--bcrypt-cost must be 4 to 31")
        }
        let key = try loadKey(
            file: self.pepperFile,
            fileVariable: "CASHPOINT_PEPPER_FILE",
            valueVariable: "CASHPOINT_PEPPER",
            name: "pepper"
        )
        return CredentialHasher(pepper: key, cost: self.bcryptCost)
    }
}

/// The audit chain's key.
struct AuditKeyOptions: ParsableArguments {
    @Option(
        help: "Key file with the audit chain key (default: $CASHPOINT_AUDIT_KEY_FILE, or $CASHPOINT_AUDIT_KEY itself)."
    )
    var auditKeyFile: String?

    init() {}

    init(auditKeyFile: String?) {
        self.auditKeyFile = auditKeyFile
    }

    func key() throws -> SecretKey {
        try loadKey(
            file: self.auditKeyFile,
            fileVariable: "CASHPOINT_AUDIT_KEY_FILE",
            valueVariable: "CASHPOINT_AUDIT_KEY",
            name: "audit key"
        )
    }
}

func loadKey(file: String?, fileVariable: String, valueVariable: String, name: String) throws -> SecretKey {
    let environment = ProcessInfo.processInfo.environment
    do {
        if let path = file ?? environment[fileVariable] {
            return try SecretKey(contentsOfFile: path, name: name)
        }
        if let value = environment[valueVariable] {
            return try SecretKey(hex: value, name: name)
        }
    } catch {
        throw ValidationError(error.description)
    }
    throw ValidationError("no \(name): pass its key file, or set \(fileVariable) or \(valueVariable)")
}
