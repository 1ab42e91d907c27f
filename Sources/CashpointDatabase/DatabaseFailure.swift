import PostgresNIO

/// A database error as a command prints it: PostgreSQL's own message, its SQLSTATE and what to do.
/// (`PSQLError`'s description hides the server's message on purpose; a command's operator needs it.)
public struct DatabaseFailure: Error, CustomStringConvertible, Sendable, Hashable {
    public var message: String
    public var sqlState: String?

    public init(message: String, sqlState: String?) {
        self.message = message
        self.sqlState = sqlState
    }

    /// The failure in a `PSQLError` (also inside a `PostgresTransactionError`); nil for other errors.
    public init?(_ error: any Error) {
        if let error = error as? PostgresTransactionError {
            guard let inner = error.closureError ?? error.beginError ?? error.commitError else { return nil }
            self.init(inner)
            return
        }
        guard let error = error as? PSQLError else { return nil }
        if let message = error.serverInfo?[.message] {
            self.init(message: message, sqlState: error.serverInfo?[.sqlState])
        } else {
            self.init(message: "no answer from PostgreSQL (\(error.code))", sqlState: nil)
        }
    }

    /// What to do about it, by SQLSTATE.
    public var hint: String {
        guard let state = self.sqlState else {
            return "check that PostgreSQL runs (scripts/pg status) and that the URL's host and port are right"
        }
        switch state {
        case "42501":
            return "the role lacks a right this needs: migrate runs as a role that may create roles (the "
                + "cluster's superuser, scripts/pg env), every other command as cashpoint_switch"
        case "28P01", "28000": return "check the user and password in the database URL"
        case "3D000": return "the database does not exist: create it (createdb) or correct the URL"
        case "42P01", "42883", "3F000": return "the database lacks the schema of this build: run `atm-switch migrate`"
        case "40001", "40P01": return "another transaction conflicted with this one: run the command again"
        case _ where state.hasPrefix("08") || state.hasPrefix("57P"):
            return "the server ended the connection: check that PostgreSQL runs (scripts/pg status), then run the command again"
        case _ where state.hasPrefix("53"):
            return "the server is short of a resource (connections, memory, disk): see its log"
        default: return "PostgreSQL's log has more"
        }
    }

    public var description: String {
        "PostgreSQL: \(self.message)" + (self.sqlState.map { " (SQLSTATE \($0))" } ?? "") + ". " + self.hint
    }
}
