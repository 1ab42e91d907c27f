import ATM87
import CashpointDatabase
import CashpointHarness
import CashpointSecurity
import CashpointStore
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Crypto
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// A clock the tests move forward (token expiry).
final class TestClock: Sendable {
    let offset = Mutex<TimeInterval>(0)
    func advance(by seconds: TimeInterval) { self.offset.withLock { $0 += seconds } }
    var now: @Sendable () -> Date { { [self] in Date().addingTimeInterval(self.offset.withLock { $0 }) } }
}

/// The master key of a fixture terminal.
func masterKey(_ terminal: String) throws -> SymmetricKey {
    let fixture = try demoFixture()
    let hex = try #require(fixture.terminals.first { $0.id == terminal }?.masterKey)
    return try SecretKey(hex: hex, name: "master key").key
}

/// A switch on a free port over a fresh seeded bank, for one test.
final class SwitchUnderTest: Sendable {
    let bank: TestBank
    let clock: TestClock
    let application: SwitchApplication
    let running: Mutex<RunningSwitch?>

    /// A one-time code for `user` this switch's bank has not seen, on the switch's clock.
    func code(_ user: String) -> String? {
        StaffCodes.next(user, scope: self.bank.name, at: self.clock.now())
    }

    init(bank: TestBank, clock: TestClock, application: SwitchApplication, running: RunningSwitch) {
        self.bank = bank
        self.clock = clock
        self.application = application
        self.running = Mutex(running)
    }

    var port: Int { self.running.withLock { $0!.port } }
    var current: RunningSwitch { self.running.withLock { $0! } }

    static func with<T: Sendable>(
        fixture: BankFixture? = nil,
        databaseURL: (@Sendable (TestBank) -> DatabaseURL)? = nil,
        configure: @Sendable (inout SwitchConfiguration) -> Void = { _ in },
        before: @Sendable (TestBank) async throws -> Void = { _ in },
        _ body: @Sendable (SwitchUnderTest) async throws -> T
    ) async throws -> T {
        try await TestBank.with(fixture: try fixture ?? demoFixture()) { bank, _ in
            try await before(bank)
            let clock = TestClock()
            var configuration = SwitchConfiguration(host: "127.0.0.1", port: 0, now: clock.now)
            configure(&configuration)
            let application = SwitchApplication(
                url: databaseURL?(bank) ?? bank.switchURL,
                hasher: testHasher,
                switchKey: testSwitchKey,
                configuration: configuration,
                poolSize: 4,
                logger: switchLogger(bank.name)
            )
            let running = try await RunningSwitch.start(application)
            let under = SwitchUnderTest(bank: bank, clock: clock, application: application, running: running)
            do {
                let result = try await body(under)
                try await under.current.stop()
                return result
            } catch {
                try? await under.current.stop()
                throw error
            }
        }
    }

    /// Stops the switch (gracefully) and starts a new one over the same database: a restart.
    func restart() async throws {
        try await self.current.stop()
        let next = try await RunningSwitch.start(self.application)
        self.running.withLock { $0 = next }
    }

    /// Starts a new switch after `stop()` (on the port it had, when asked: terminals configured with it
    /// find it again).
    func startAgain(samePort: Bool = false) async throws {
        var application = self.application
        if samePort { application.configuration.port = self.port }
        let next = try await RunningSwitch.start(application)
        self.running.withLock { $0 = next }
    }

    /// Runs `body` with a terminal connected (and, unless told not to, signed on).
    func terminal<T: Sendable>(
        _ id: String = "ATM00001",
        signOn: Bool = true,
        _ body: (TerminalSession) async throws -> T
    ) async throws -> T {
        let key = try masterKey(id)
        let now = self.clock.now
        return try await SwitchLink.with(host: "127.0.0.1", port: self.port) { link in
            let session = TerminalSession(link: link, terminal: id, masterKey: key, now: now)
            if signOn {
                let answer = try await session.signOn()
                try #require(answer[39] == "00", "sign-on answered \(answer[39] ?? "nothing")")
            }
            return try await body(session)
        }
    }

    /// Runs `body` while a superuser transaction holds the account's row (so a posting to it waits
    /// at the switch); then lets go, and returns once a posting that waited has committed (its lock is
    /// queued ahead of this function's second look at the row).
    @discardableResult
    func holdingRow<T: Sendable>(_ account: String, _ body: @Sendable () async throws -> T) async throws -> T {
        try await self.bank.asSuperuser { connection in
            let lock = PostgresQuery(unsafeSQL: "SELECT 1 FROM bank.accounts WHERE account_no = '\(account)' FOR UPDATE")
            try await connection.query("BEGIN", logger: quietLogger)
            try await connection.query(lock, logger: quietLogger)
            let value = try await body()
            try await connection.query("COMMIT", logger: quietLogger)
            try await connection.query("BEGIN", logger: quietLogger)
            try await connection.query(lock, logger: quietLogger)
            try await connection.query("COMMIT", logger: quietLogger)
            return value
        }
    }

    /// Whether the ledger holds: every balance is the sum of its account's lines, and all balances
    /// together are zero (double entry).
    func ledgerAgrees() async throws -> Bool {
        let mismatched = try await self.bank.count(
            """
            SELECT count(*)::int FROM bank.accounts a
            WHERE a.balance <> coalesce((SELECT sum(h.amount) FROM bank.history h WHERE h.account_id = a.id), 0)
            """
        )
        let unbalanced = try await self.bank.count(
            "SELECT count(*)::int FROM (SELECT sum(balance) AS total FROM bank.accounts) s WHERE s.total <> 0"
        )
        return mismatched == 0 && unbalanced == 0
    }

    func auditCount(_ action: String) async throws -> Int {
        try await self.bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = '\(action)'")
    }
}

let alice = (pan: alicePAN, pin: "1234", current: "CP0000000001", savings: "CP0000000002")
let bob = (pan: bobPAN, pin: "4321", current: "CP0000000003")

/// The switch's logger in tests: quiet, unless CASHPOINT_TEST_LOG names a level (to stderr).
func switchLogger(_ name: String) -> Logger {
    guard let level = ProcessInfo.processInfo.environment["CASHPOINT_TEST_LOG"].flatMap(Logger.Level.init(rawValue:))
    else { return quietLogger }
    var logger = Logger(label: "switch.\(name)") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    return logger
}

extension TerminalSession {
    /// An invented identity's CREATE elements (know your customer): BD, NA, AD, IT, IC, PP.
    static func identityElements(exposed: Bool = false, nationality: String = "GB") -> [(String, String)] {
        [
            ("BD", "19900131"), ("NA", nationality), ("AD", "1 Test Street, Exampleton"), ("IT", "passport"),
            ("IC", nationality), ("PP", exposed ? "Y" : "N"),
        ]
    }

    /// CREATE with the elements given and an invented identity, the document number as its `IN` block.
    func create(
        _ elements: [(String, String)],
        fields: [Int: String] = [:],
        exposed: Bool = false,
        document: String = "TEST12345"
    ) async throws -> ATM87Message {
        try await self.administrative(
            "CREATE",
            elements + Self.identityElements(exposed: exposed),
            fields: fields,
            secrets: [(.documentNumber, document)]
        )
    }
}

extension SwitchUnderTest {
    /// Plays `fixtures/sequences/NAME` at this switch: nothing when every step passed, otherwise what
    /// the runner said (to show with the failed expectation).
    func play(_ name: String) async throws -> [String] {
        let script = try Script.load(repositoryRoot.appendingPathComponent("fixtures/sequences/\(name)").path)
        let key = try masterKey(script.terminal)
        let said = Mutex<[String]>([])
        let runner = ScriptRunner(
            host: "127.0.0.1",
            port: self.port,
            masterKey: { _ in key },
            say: { line in said.withLock { $0.append(line) } }
        )
        let result = await runner.run(script)
        return result.failed + result.errors == 0 ? [] : said.withLock { $0 }
    }
}
