public import CashpointBank
public import CashpointDatabase
public import CashpointSecurity
public import CashpointStore
public import Foundation
public import Logging
public import PostgresNIO
import Testing

/// The superuser URL of the private cluster (scripts/test sets it). In CI the suites must run.
public let adminURLText = ProcessInfo.processInfo.environment["CASHPOINT_TEST_DATABASE_URL"]
public let databaseTestsEnabled = adminURLText != nil || ProcessInfo.processInfo.environment["CI"] == "true"

/// The cashpoint_switch role's password: the cluster's (scripts/pg env) or one for this process.
public let switchPassword: String =
    ProcessInfo.processInfo.environment["CASHPOINT_SWITCH_PASSWORD"]
    ?? (0..<24).map { _ in String("abcdefghijkmnopqrstuvwxyz23456789".randomElement()!) }.joined()

public let quietLogger: Logger = {
    var logger = Logger(label: "cashpoint.test")
    logger.logLevel = .critical
    return logger
}()

public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The test pepper and audit key of fixtures/test-keys, and bcrypt at its lowest cost so tests are fast.
public let testPepper = try! SecretKey(
    contentsOfFile: repositoryRoot.appendingPathComponent("fixtures/test-keys/pepper.key").path,
    name: "pepper"
)
public let testAuditKey = try! SecretKey(
    contentsOfFile: repositoryRoot.appendingPathComponent("fixtures/test-keys/audit.key").path,
    name: "audit key"
)
public let testHasher = CredentialHasher(pepper: testPepper, cost: 4)
/// The test switch key (seals terminal keys, signs tokens).
public let testSwitchKey = SwitchKey(
    try! SecretKey(
        contentsOfFile: repositoryRoot.appendingPathComponent("fixtures/test-keys/switch.key").path,
        name: "switch key"
    )
)

public func demoFixture() throws -> BankFixture {
    try BankFixture.load(repositoryRoot.appendingPathComponent("fixtures/bank.json").path)
}

/// A fresh database of its own for one test: created, migrated and (optionally) seeded, dropped after.
public struct TestBank: Sendable {
    public let adminURL: DatabaseURL
    public let switchURL: DatabaseURL
    public let name: String

    /// Runs `body` against a new bank; the database is dropped afterwards.
    @discardableResult
    public static func with<T: Sendable>(
        fixture: BankFixture? = nil,
        maximumConnections: Int = 4,
        now: @escaping @Sendable () -> Date = { Date() },
        _ body: @Sendable (TestBank, Bank) async throws -> T
    ) async throws -> T {
        // At most a few banks at once: a copied database is ready at once, so without a limit every test
        // of the suite would run its bank (and switch) at the same moment on two cores, and the switches'
        // database deadlines (2.5 s) would be missed by load alone.
        await BankSlots.shared.acquire()
        do {
            let result = try await Self.withNewBank(fixture: fixture, maximumConnections: maximumConnections, now: now, body)
            await BankSlots.shared.release()
            return result
        } catch {
            await BankSlots.shared.release()
            throw error
        }
    }

    static func withNewBank<T: Sendable>(
        fixture: BankFixture?,
        maximumConnections: Int,
        now: @escaping @Sendable () -> Date,
        _ body: @Sendable (TestBank, Bank) async throws -> T
    ) async throws -> T {
        let root = try DatabaseURL(
            try #require(adminURLText, "CASHPOINT_TEST_DATABASE_URL is not set: run scripts/test")
        )
        let name = "cp_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        // A copy of the migrated template (MigratedTemplate), not a migration of its own: copying a
        // database is a fraction of running every migration and function file for each of some 300 tests.
        // Concurrent CREATE DATABASE from one template can collide (55006): serialise them.
        let template = try MigratedTemplate.name()
        try await root.withConnection(logger: quietLogger) { connection in
            try await connection.query("SELECT pg_advisory_lock(7243)", logger: quietLogger)
            do {
                try await MigratedTemplate.make(template, root: root, connection: connection)
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)"),
                    logger: quietLogger
                )
            } catch {
                try? await connection.query("SELECT pg_advisory_unlock(7243)", logger: quietLogger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(7243)", logger: quietLogger)
        }
        var admin = root
        admin.database = name
        let bank = TestBank(
            adminURL: admin,
            switchURL: admin.withUser("cashpoint_switch", password: switchPassword),
            name: name
        )
        do {
            // The role is cluster-wide: concurrent ALTER ROLEs collide ("tuple concurrently updated"),
            // so its password is set once per test process, under the same lock as CREATE DATABASE.
            try await PasswordOnce.shared.set(root)
            let result = try await bank.switchURL.withClient(
                logger: quietLogger,
                maximumConnections: maximumConnections
            ) {
                client in
                let service = Bank(
                    records: BankStore(client: client, logger: quietLogger),
                    hasher: testHasher,
                    switchKey: testSwitchKey,
                    now: now,
                    logger: quietLogger
                )
                if let fixture {
                    _ = try await Seeder.seed(
                        fixture,
                        store: service.store,
                        hasher: testHasher,
                        switchKey: testSwitchKey
                    )
                }
                return try await body(bank, service)
            }
            try await bank.drop(root)
            return result
        } catch {
            try? await bank.drop(root)
            throw error
        }
    }

    /// Runs `body` with the superuser's URL of a new, empty database (never migrated); dropped after.
    @discardableResult
    public static func withEmptyDatabase<T: Sendable>(
        _ body: @Sendable (DatabaseURL) async throws -> T
    ) async throws -> T {
        let root = try DatabaseURL(
            try #require(adminURLText, "CASHPOINT_TEST_DATABASE_URL is not set: run scripts/test")
        )
        let name = "cp_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await root.withConnection(logger: quietLogger) { connection in
            try await connection.query("SELECT pg_advisory_lock(7243)", logger: quietLogger)
            try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: quietLogger)
            try await connection.query("SELECT pg_advisory_unlock(7243)", logger: quietLogger)
        }
        var admin = root
        admin.database = name
        let bank = TestBank(adminURL: admin, switchURL: admin, name: name)
        do {
            let result = try await body(admin)
            try await bank.drop(root)
            return result
        } catch {
            try? await bank.drop(root)
            throw error
        }
    }

    public func drop(_ root: DatabaseURL) async throws {
        try await root.withConnection(logger: quietLogger) { connection in
            try await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(self.name) WITH (FORCE)"),
                logger: quietLogger
            )
        }
    }

    /// Runs SQL as the cluster's superuser in this bank's database (to play the attacker or to look).
    @discardableResult
    public func asSuperuser<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await self.adminURL.withConnection(logger: quietLogger, body)
    }

    /// Runs SQL as the switch's own role, bypassing the switch's code (the "API check").
    @discardableResult
    public func asSwitchRole<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await self.switchURL.withConnection(logger: quietLogger, body)
    }

    public func balance(_ account: String) async throws -> Int64 {
        try await self.asSuperuser { connection in
            let rows = try await connection.query(
                "SELECT balance FROM bank.accounts WHERE account_no = \(account)",
                logger: quietLogger
            )
            for try await balance in rows.decode(Int64.self) { return balance }
            throw TestFailure("no account \(account)")
        }
    }

    public func count(_ sql: String) async throws -> Int {
        do {
            return try await self.asSuperuser { connection in
                let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger)
                for try await value in rows.decode(Int.self) { return value }
                return 0
            }
        } catch let error as PSQLError {
            throw TestFailure("\(sql): \(error.serverInfo?[.message] ?? String(reflecting: error))")
        }
    }
}

/// How many test banks may be live at once in a test process, and the tests waiting for one (in order).
actor BankSlots {
    static let shared = BankSlots(6)
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ slots: Int) { self.free = slots }

    func acquire() async {
        if self.free > 0 {
            self.free -= 1
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    func release() {
        if self.waiting.isEmpty {
            self.free += 1
        } else {
            self.waiting.removeFirst().resume()
        }
    }
}

/// The migrated database test banks are copied from (`CREATE DATABASE ... TEMPLATE`): made once per
/// cluster and build, under the caller's lock, by running this build's migrations and function files into
/// a database whose name carries a digest of them all, so a changed migration or function makes a new one.
/// Made under a temporary name and renamed once complete, so a failed attempt never leaves a half-migrated
/// template behind.
enum MigratedTemplate {
    static func name() throws -> String {
        let checksums = try Migration.bundled().map(\.checksum) + RepeatableMigration.bundled().map(\.checksum)
        var digest: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, 64 bits
        for byte in checksums.joined(separator: "|").utf8 {
            digest = (digest ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return "cp_template_" + String(digest, radix: 16)
    }

    /// Makes `name` unless it exists; `connection` is the cluster's superuser's, holding the lock.
    static func make(_ name: String, root: DatabaseURL, connection: PostgresConnection) async throws {
        let rows = try await connection.query("SELECT 1 FROM pg_database WHERE datname = \(name)", logger: quietLogger)
        for try await _ in rows { return }
        let building = name + "_building"
        try await connection.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(building)"), logger: quietLogger)
        try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(building)"), logger: quietLogger)
        var url = root
        url.database = building
        try await url.withConnection(logger: quietLogger) { migrating in
            _ = try await Migrator.migrate(
                connection: migrating,
                migrations: try Migration.bundled(),
                repeatables: try RepeatableMigration.bundled(),
                switchPassword: nil,
                logger: quietLogger
            )
        }
        try await connection.query(
            PostgresQuery(unsafeSQL: "ALTER DATABASE \(building) RENAME TO \(name)"),
            logger: quietLogger
        )
    }
}

public actor PasswordOnce {
    public static let shared = PasswordOnce()
    private var done = false

    public func set(_ root: DatabaseURL) async throws {
        guard !self.done else { return }
        try await root.withConnection(logger: quietLogger) { connection in
            try await connection.query("SELECT pg_advisory_lock(7243)", logger: quietLogger)
            try await connection.query(
                PostgresQuery(unsafeSQL: "ALTER ROLE cashpoint_switch LOGIN PASSWORD '\(switchPassword)'"),
                logger: quietLogger
            )
            try await connection.query("SELECT pg_advisory_unlock(7243)", logger: quietLogger)
        }
        self.done = true
    }
}

extension Bank {
    /// The PostgreSQL store under a test's bank (every test bank has one), for what the tests do
    /// beside the bank API: seeding, reading the ledger.
    public var store: BankStore {
        guard let store = self.records as? BankStore else { fatalError("a test bank runs on BankStore") }
        return store
    }

    /// Which bank this is, for `StaffCodes`: its database's name (each test bank has its own; an
    /// object's identity would not do, as a freed client's address is given to the next bank's).
    public var codeScope: String { self.store.client.url.database }

    /// A teller or administrator signed on at the branch desk BRANCH01 with their one-time code
    /// (`StaffCodes`); the test fails when refused.
    public func signedOnStaff(_ user: String, _ password: String, ip: String? = nil) async throws -> StaffMember {
        let result = try await self.loginStaff(
            userName: user,
            password: password,
            oneTimeCode: StaffCodes.next(user, scope: self.codeScope),
            device: "BRANCH01",
            ip: ip
        )
        guard case .approved(let member) = result else { throw TestFailure("\(user) refused: \(result)") }
        return member
    }
}

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Request keys with fresh STANs.
public final class KeyMaker: @unchecked Sendable {
    private var stan = 0
    private let lock = NSLock()
    public let terminal: String
    public init(terminal: String = "ATM00001") { self.terminal = terminal }

    public func next(time: String = "1125093112") -> IdempotencyKey {
        self.lock.lock()
        defer { self.lock.unlock() }
        self.stan += 1
        return IdempotencyKey(terminal: self.terminal, stan: String(format: "%06d", self.stan), transmitted: time)
    }
}

extension PostgresConnection {
    /// The SQLSTATE a statement fails with, or nil if it succeeds.
    public func sqlState(of sql: String) async -> String? {
        do {
            let rows = try await self.query(PostgresQuery(unsafeSQL: sql), logger: quietLogger)
            for try await _ in rows {}
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState] ?? "no state"
        } catch {
            return "other"
        }
    }
}

public let alicePAN = "4761739001010119"
public let bobPAN = "5555555555554444"
public let carolPAN = "4000000000000002"
public let carolExpiredPAN = "4111111111111111"
