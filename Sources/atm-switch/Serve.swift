import CashpointBank
import ArgumentParser
import CashpointDatabase
import CashpointMetrics
import CashpointSecurity
import CashpointStore
import CashpointSwitch
import Foundation
import Logging

/// The switch key (seals terminal keys in the database, signs session tokens).
struct SwitchKeyOptions: ParsableArguments {
    @Option(
        help:
            "Key file with the switch key, 64 hex characters (default: $CASHPOINT_SWITCH_KEY_FILE, or $CASHPOINT_SWITCH_KEY itself)."
    )
    var switchKeyFile: String?

    func key() throws -> SwitchKey {
        SwitchKey(
            try loadKey(
                file: self.switchKeyFile,
                fileVariable: "CASHPOINT_SWITCH_KEY_FILE",
                valueVariable: "CASHPOINT_SWITCH_KEY",
                name: "switch key"
            )
        )
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the switch: ATM-87 over TCP, the bank in PostgreSQL, metrics over HTTP.",
        discussion: """
            Connects as cashpoint_switch ($CASHPOINT_SWITCH_DATABASE_URL, else $CASHPOINT_DATABASE_URL). \
            SIGTERM or SIGINT: stop accepting, answer the requests in flight, exit 0. \
            docs/operations.md lists every setting.
            """
    )

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var pepper: PepperOptions
    @OptionGroup var switchKey: SwitchKeyOptions

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "TCP port for ATM-87 (0: any free port).")
    var port: Int = 8583

    @Option(help: "Close a connection idle this many seconds.")
    var idleTimeout: Int = 300

    @Option(help: "Connections beyond this many are closed at once.")
    var maxConnections: Int = 2048

    @Option(help: "Answer 96 to a request not finished after this many seconds (the database reachable but stuck).")
    var requestDeadline: Int = 8

    @Option(help: "Close a connection whose frame has not arrived whole this many seconds after its first byte.")
    var frameDeadline: Int = 5

    @Option(help: "Lifetime of a card session's token in seconds (at most 120).")
    var cardTokenLifetime: Int = 120

    @Option(help: "Lifetime of a teller's or administrator's token in seconds.")
    var staffTokenLifetime: Int = 900

    @Option(help: "PostgreSQL connections in the pool.")
    var poolSize: Int = 8

    @Option(name: .customLong("card-bin"), help: "The bank's BIN (6 or 8 digits): the card numbers the bank allocates start with it.")
    var cardBIN: String = "476173"

    @Option(
        help: """
            NIO event loops (threads) shared by the terminals' connections and the pool's; each \
            connection's requests run on its loop. 0: NIO's shared group and Swift's global executor.
            """
    )
    var eventLoops: Int = 1

    @Option(help: "Port of the Prometheus endpoint GET /metrics on the same host (0: any free port).")
    var metricsPort: Int = 9583

    @Flag(help: "No metrics endpoint.")
    var noMetrics = false

    @Option(
        help:
            "Audit chain key file: the switch seals the audit log while it runs (default: $CASHPOINT_AUDIT_KEY_FILE, or $CASHPOINT_AUDIT_KEY; none: no sealing)."
    )
    var auditKeyFile: String?

    func validate() throws {
        guard (0...65535).contains(self.port) else { throw ValidationError("--port must be 0 to 65535") }
        guard (-1...65535).contains(self.metricsPort) else {
            throw ValidationError("--metrics-port must be -1 to 65535")
        }
        guard self.idleTimeout > 0 else { throw ValidationError("--idle-timeout must be above 0 seconds") }
        guard self.maxConnections > 0 else { throw ValidationError("--max-connections must be above 0") }
        guard (1...60).contains(self.requestDeadline) else {
            throw ValidationError("--request-deadline must be 1 to 60 seconds")
        }
        guard (1...300).contains(self.frameDeadline) else {
            throw ValidationError("--frame-deadline must be 1 to 300 seconds")
        }
        guard (1...120).contains(self.cardTokenLifetime) else {
            throw ValidationError("--card-token-lifetime must be 1 to 120 seconds")
        }
        guard (1...86_400).contains(self.staffTokenLifetime) else {
            throw ValidationError("--staff-token-lifetime must be 1 to 86400 seconds")
        }
        guard (1...256).contains(self.poolSize) else { throw ValidationError("--pool-size must be 1 to 256") }
        guard SwitchConfiguration.isValidBIN(self.cardBIN) else { throw ValidationError("--card-bin must be 6 or 8 digits") }
        guard (0...64).contains(self.eventLoops) else { throw ValidationError("--event-loops must be 0 to 64") }
    }

    func run() async throws {
        let logger = try self.database.logger(default: .info)
        let url = try await self.database.reachableURL(environment: [
            "CASHPOINT_SWITCH_DATABASE_URL", "CASHPOINT_DATABASE_URL",
        ])
        let hasher = try self.pepper.hasher()
        let switchKey = try self.switchKey.key()
        let environment = ProcessInfo.processInfo.environment
        let auditKey: SecretKey? =
            if self.auditKeyFile != nil || environment["CASHPOINT_AUDIT_KEY_FILE"] != nil
                || environment["CASHPOINT_AUDIT_KEY"] != nil
            {
                try AuditKeyOptions(auditKeyFile: self.auditKeyFile).key()
            } else {
                nil
            }
        if auditKey == nil {
            logger.warning("no audit key: the audit log is not sealed while the switch runs (atm-switch audit seal)")
        }

        let application = SwitchApplication(
            url: url,
            hasher: hasher,
            switchKey: switchKey,
            configuration: SwitchConfiguration(
                host: self.host,
                port: self.port,
                idleTimeout: .seconds(self.idleTimeout),
                maxConnections: self.maxConnections,
                frameDeadline: .seconds(self.frameDeadline),
                cardTokenLifetime: .seconds(self.cardTokenLifetime),
                staffTokenLifetime: .seconds(self.staffTokenLifetime),
                requestDeadline: .seconds(self.requestDeadline),
                cardBIN: self.cardBIN
            ),
            poolSize: self.poolSize,
            eventLoops: self.eventLoops,
            auditKey: auditKey,
            logger: logger
        )
        do {
            try await application.serve(
                metricsHost: self.host,
                metricsPort: !self.noMetrics && self.metricsPort >= 0 ? self.metricsPort : nil
            )
        } catch let error as SchemaNotReady {
            throw ValidationError(error.description)
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Print a running switch's metrics (its Prometheus endpoint): counts by message type and response code, latency histogram, connections."
    )

    @Option(help: "The switch's metrics host.")
    var host: String = "127.0.0.1"

    @Option(help: "The switch's metrics port.")
    var metricsPort: Int = 9583

    func run() async throws {
        do {
            print(try await MetricsEndpoint.fetch(host: self.host, port: self.metricsPort), terminator: "")
        } catch {
            throw ValidationError("no metrics from \(self.host):\(self.metricsPort): \(error)")
        }
    }
}

struct Terminal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register terminals and manage their master keys.",
        subcommands: [
            TerminalAdd.self, TerminalRekey.self, TerminalEnable.self, TerminalDisable.self, TerminalTestKeys.self,
        ]
    )
}

struct TerminalAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a terminal with its cash account and a new master key, printed once.",
        discussion: """
            The master key is stored sealed under the switch key; this is the only time it is shown. \
            Put it in the terminal's configuration.
            """
    )

    @Argument(help: "The terminal id (field 41): 1-8 capital letters or digits.")
    var id: String

    @Option(help: "atm or branch.")
    var kind: String = "atm"

    @Option(help: "Where it stands.")
    var location: String = ""

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var switchKey: SwitchKeyOptions

    func validate() throws {
        _ = try self.terminal()
    }

    func terminal() throws -> NewTerminal {
        guard let kind = NewTerminal.Kind(rawValue: self.kind) else { throw ValidationError("--kind is atm or branch") }
        do {
            return try NewTerminal(id: self.id, kind: kind, location: self.location)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        let terminal = try self.terminal()
        let url = try await self.database.reachableURL(environment: [
            "CASHPOINT_SWITCH_DATABASE_URL", "CASHPOINT_DATABASE_URL",
        ])
        let logger = try self.database.logger()
        let switchKey = try self.switchKey.key()
        let master = try await url.withClient(logger: logger) { client in
            do {
                return try await BankStore(client: client, logger: logger).addTerminal(
                    terminal,
                    switchKey: switchKey,
                    actor: .system("atm-switch terminal add")
                )
            } catch let error as TerminalRegistrationError {
                throw ValidationError(error.description)
            }
        }
        print("terminal \(terminal.id) registered (\(terminal.kind.rawValue), cash account \(terminal.cashAccountNo))")
        print("master key (shown once; check value \(KeyCheckValue.of(master.key))):")
        print(master.hexForKeyFile.uppercased())
    }
}

struct TerminalRekey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Give a terminal a new master key, printed once; its session ends and it must sign on again."
    )

    @Argument(help: "The terminal id.")
    var id: String

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var switchKey: SwitchKeyOptions

    func run() async throws {
        let url = try await self.database.reachableURL(environment: [
            "CASHPOINT_SWITCH_DATABASE_URL", "CASHPOINT_DATABASE_URL",
        ])
        let logger = try self.database.logger()
        let switchKey = try self.switchKey.key()
        let master = SecretKey.generate()
        let done = try await url.withClient(logger: logger) { client in
            try await BankStore(client: client, logger: logger).setTerminalMasterKey(
                actor: .system("atm-switch terminal rekey"),
                terminal: self.id,
                sealed: try switchKey.sealMasterKey(master.key, terminal: self.id),
                checkValue: KeyCheckValue.of(master.key)
            )
        }
        guard done else { throw ValidationError("no terminal \(self.id)") }
        print("terminal \(self.id): new master key (shown once; check value \(KeyCheckValue.of(master.key))):")
        print(master.hexForKeyFile.uppercased())
    }
}

struct TerminalEnable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "enable", abstract: "Let a terminal sign on again.")
    @Argument(help: "The terminal id.") var id: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws { try await setTerminal(self.id, enabled: true, self.database) }
}

struct TerminalDisable: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable",
        abstract: "Refuse a terminal's sign-on and end its session."
    )
    @Argument(help: "The terminal id.") var id: String
    @OptionGroup var database: DatabaseOptions

    func run() async throws { try await setTerminal(self.id, enabled: false, self.database) }
}

func setTerminal(_ id: String, enabled: Bool, _ database: DatabaseOptions) async throws {
    let url = try await database.reachableURL(environment: ["CASHPOINT_SWITCH_DATABASE_URL", "CASHPOINT_DATABASE_URL"])
    let logger = try database.logger()
    let done = try await url.withClient(logger: logger) { client in
        try await BankStore(client: client, logger: logger).setTerminalEnabled(
            actor: .system("atm-switch terminal \(enabled ? "enable" : "disable")"),
            terminal: id,
            enabled: enabled
        )
    }
    guard done else { throw ValidationError("no terminal \(id)") }
    print("terminal \(id) \(enabled ? "enabled" : "disabled")")
}

struct TerminalTestKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test-keys",
        abstract:
            "Store a fixture's TEST master keys for its terminals that have no key yet (a demo bank seeded before terminal keys)."
    )

    @Argument(help: "The fixture, e.g. fixtures/bank.json.")
    var fixture: String

    @OptionGroup var database: DatabaseOptions
    @OptionGroup var switchKey: SwitchKeyOptions

    func run() async throws {
        let url = try await self.database.reachableURL(environment: [
            "CASHPOINT_SWITCH_DATABASE_URL", "CASHPOINT_DATABASE_URL",
        ])
        let logger = try self.database.logger()
        let switchKey = try self.switchKey.key()
        let fixture: BankFixture
        do {
            fixture = try BankFixture.load(self.fixture)
        } catch {
            throw ValidationError("cannot read the fixture \(self.fixture): \(error)")
        }
        let installed = try await url.withClient(logger: logger) { client in
            try await Seeder.installTerminalKeys(
                fixture,
                store: BankStore(client: client, logger: logger),
                switchKey: switchKey
            )
        }
        print(
            installed.isEmpty
                ? "every terminal of the fixture has its key already"
                : "test master keys stored for \(installed.joined(separator: ", "))"
        )
    }
}
