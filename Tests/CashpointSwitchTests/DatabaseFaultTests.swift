import CashpointDatabase
import ATM87
import CashpointBank
import CashpointStore
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import PostgresNIO
import Synchronization
import Testing

@Suite("Database faults", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
struct DatabaseFaultTests {
    @Test("a backend ended mid-statement (57P01, pg_terminate_backend): the switch asks again by the request's key and answers what the ledger then holds, posted once")
    func backendTerminated() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                #expect(try await terminal.echo()[39] == "00")
                nonisolated(unsafe) let session = terminal
                let answer = try await under.holdingRow(alice.current) {
                    let answer = Self.withdrawal(session)
                    // The withdrawal waits for the row this test holds: end the backend that waits.
                    var terminated = false
                    for _ in 0..<1_000 where !terminated {
                        terminated = try await under.bank.count(
                            """
                            SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
                            WHERE datname = current_database() AND usename = 'cashpoint_switch'
                              AND wait_event_type = 'Lock'
                            """
                        ) > 0
                        if !terminated { try await Task.sleep(for: .milliseconds(10)) }
                    }
                    try #require(terminated, "no switch backend waited for the held row")
                    return answer
                }
                // The row is free again: the repeat by key posts the withdrawal, once.
                #expect(try await answer.value[39] == "00")
            }
            #expect(try await under.bank.balance(alice.current) == 249_000)
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.transactions WHERE kind = 'withdrawal'") == 1)
        }
    }

    /// Alice withdraws 10.00 with her PIN, in a task of its own (the test meanwhile ends its backend): the
    /// session is used by that one task while the test only waits for it.
    static func withdrawal(_ session: TerminalSession) -> Task<ATM87Message, any Error> {
        nonisolated(unsafe) let session = session
        return Task {
            try await session.cardRequest(.withdrawal, pan: alice.pan, pin: alice.pin, amount: 1_000, from: alice.current)
        }
    }

    /// The hold at commit: a deferred constraint trigger that fires at the commit (after the statement's
    /// row and CommandComplete were produced), sends a NOTICE (which flushes what the backend had
    /// buffered: the row reaches the client) and waits for an advisory lock the test holds. Then the
    /// test ends that backend: the commit never happens. A client that answers at CommandComplete holds
    /// an answer for nothing; the switch, whose posting's row comes only after its commit
    /// (`CALL bank.post_committed`), gets no row, asks again by the request's key on a new connection
    /// and answers what the ledger then holds: 00, the withdrawal posted once.
    static let holdAtCommit = [
        """
        CREATE FUNCTION public.hold_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE NOTICE 'held at commit';
            PERFORM pg_advisory_xact_lock(7231);
            RETURN NULL;
        END $$
        """,
        """
        CREATE CONSTRAINT TRIGGER hold_at_commit AFTER INSERT ON bank.transactions
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.hold_at_commit()
        """,
        "CREATE TABLE public.hold_probe (x int)",
        "GRANT INSERT, SELECT ON public.hold_probe TO cashpoint_switch",
        """
        CREATE CONSTRAINT TRIGGER hold_at_commit AFTER INSERT ON public.hold_probe
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION public.hold_at_commit()
        """,
    ]

    /// Ends the backend of `user` that waits for the hold's advisory lock; false when none waited within 10 s.
    static func endTheHeldBackend(_ bank: TestBank, user: String) async throws -> Bool {
        for _ in 0..<1_000 {
            let ended = try await bank.count(
                """
                SELECT count(pg_terminate_backend(pid))::int FROM pg_stat_activity
                WHERE datname = current_database() AND usename = '\(user)'
                  AND wait_event_type = 'Lock' AND wait_event = 'advisory'
                """
            )
            if ended > 0 { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test("a backend ended at its commit, after its row was flushed: a client answering at CommandComplete holds 00 for nothing; the switch asks again by key and answers 00 for a withdrawal posted once")
    func backendEndedAtItsCommit() async throws {
        try await SwitchUnderTest.with { under in
            try await under.bank.asSuperuser { admin in
                for statement in Self.holdAtCommit {
                    _ = try await admin.query(PostgresQuery(unsafeSQL: statement), logger: quietLogger)
                }
                _ = try await admin.query("SELECT pg_advisory_lock(7231)", logger: quietLogger)

                // The hazard, shown on a plain autocommit statement: its row arrives, its commit never happens.
                let probe = Task {
                    try await under.bank.asSwitchRole { connection in
                        let rows = try await connection.query(
                            "INSERT INTO public.hold_probe VALUES (1) RETURNING x",
                            logger: quietLogger
                        )
                        var received: [Int] = []
                        for try await x in rows.decode(Int.self) { received.append(x) }
                        return received
                    }
                }
                var probeRows: [Int]? = nil
                for _ in 0..<1_000 where probeRows == nil {
                    // The row is in the client's hands while the backend still waits at its commit.
                    if try await under.bank.count(
                        "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event = 'advisory' AND query LIKE '%hold_probe%'"
                    ) > 0 {
                        try await Task.sleep(for: .milliseconds(50))
                        #expect(try await Self.endTheHeldBackend(under.bank, user: "cashpoint_switch"))
                        probeRows = (try? await probe.value) ?? []
                    } else {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                }
                #expect(probeRows == [1], "the autocommit INSERT's row reached the client before its commit")
                #expect(try await under.bank.count("SELECT count(*)::int FROM public.hold_probe") == 0)

                // The switch: the withdrawal's commit is held and its backend ended.
                try await under.terminal { terminal in
                    let answer = Self.withdrawal(terminal)
                    try #require(
                        try await Self.endTheHeldBackend(under.bank, user: "cashpoint_switch"),
                        "no switch backend waited at its commit"
                    )
                    // Nothing committed; the repeat by key posts it once the commit may go on.
                    #expect(try await under.bank.count("SELECT count(*)::int FROM bank.transactions WHERE kind = 'withdrawal'") == 0)
                    _ = try await admin.query("SELECT pg_advisory_unlock(7231)", logger: quietLogger)
                    #expect(try await answer.value[39] == "00")
                }
            }
            #expect(try await under.bank.balance(alice.current) == 249_000)
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.transactions WHERE kind = 'withdrawal'") == 1)
        }
    }

    @Test("a wrong PIN's count held at its commit, after its row was flushed, and its backend ended: the switch answers 91, not 55, the count is as before, and a new check counts once")
    func pinCheckEndedAtItsCommit() async throws {
        try await SwitchUnderTest.with { under in
            try await under.bank.asSuperuser { admin in
                try await Self.holdCardWritesAtCommit(admin)
                let before = try await Self.wrongPINs(under.bank)
                try await under.terminal { terminal in
                    nonisolated(unsafe) let session = terminal
                    let answer = try await Self.endedAtItsCommit(under.bank, admin, "a PIN check") {
                        try await session.cardRequest(.balance, pan: alice.pan, pin: Self.wrongPIN, from: alice.current)
                    }
                    // The count never committed: a switch that answered from the flushed row (55) would
                    // tell the terminal of a wrong PIN the card does not hold.
                    #expect(answer[39] == "91")
                    #expect(try await Self.wrongPINs(under.bank) == before)
                    // A new check is counted, once.
                    let again = try await Self.onceTheDatabaseIsBack {
                        try await terminal.cardRequest(.balance, pan: alice.pan, pin: Self.wrongPIN, from: alice.current)
                    }
                    #expect(again == "55")
                    #expect(try await Self.wrongPINs(under.bank) == (before.tries + 1, before.audited + 1))
                }
            }
        }
    }

    @Test("a teller's LOCKCARD held at its commit, after its row was flushed, and its backend ended: the switch answers 91, not 00, the card is as before, and LOCKCARD again locks it")
    func staffChangeEndedAtItsCommit() async throws {
        try await SwitchUnderTest.with { under in
            try await under.bank.asSuperuser { admin in
                try await Self.holdCardWritesAtCommit(admin)
                let blocked = "SELECT count(*)::int FROM bank.cards WHERE status = 'blocked'"
                let before = try await under.bank.count(blocked)
                try await under.terminal("BRANCH01") { (branch: TerminalSession) async throws in
                    let login = try await branch.staffLogin(
                        userName: "tina.teller",
                        password: "teller-test-password",
                        code: under.code("tina.teller")
                    )
                    try #require(login[39] == "00")
                    nonisolated(unsafe) let session = branch
                    let answer = try await Self.endedAtItsCommit(under.bank, admin, "LOCKCARD") {
                        try await session.administrative("LOCKCARD", fields: [2: alice.pan])
                    }
                    #expect(answer[39] == "91")
                    #expect(try await under.bank.count(blocked) == before)
                    let again = try await Self.onceTheDatabaseIsBack {
                        try await branch.administrative("LOCKCARD", fields: [2: alice.pan])
                    }
                    #expect(again == "00")
                    #expect(try await under.bank.count(blocked) == before + 1)
                }
            }
        }
    }

    /// The response code of `request`, sent again while the switch answers 91: it refuses requests for a
    /// moment after it lost a connection, until its probe finds the database (the requests so refused
    /// do no database work). At most 40 tries, 250 ms apart.
    static func onceTheDatabaseIsBack(_ request: () async throws -> ATM87Message) async throws -> String? {
        var code: String?
        for attempt in 0..<40 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(250)) }
            code = try await request()[39]
            if code != "91" { break }
        }
        return code
    }

    /// Sends `request` while the test holds the advisory lock a held commit waits for, ends the switch's
    /// backend that waits, lets the lock go, and returns the request's answer.
    static func endedAtItsCommit(
        _ bank: TestBank,
        _ admin: PostgresConnection,
        _ what: String,
        _ request: @escaping @Sendable () async throws -> ATM87Message
    ) async throws -> ATM87Message {
        _ = try await admin.query("SELECT pg_advisory_lock(7231)", logger: quietLogger)
        let answer = Task { try await request() }
        try #require(
            try await Self.endTheHeldBackend(bank, user: "cashpoint_switch"),
            "no switch backend waited at \(what)'s commit"
        )
        _ = try await admin.query("SELECT pg_advisory_unlock(7231)", logger: quietLogger)
        return try await answer.value
    }

    /// Not Alice's PIN (1234).
    static let wrongPIN = "9999"

    /// The hold at commit (`holdAtCommit`'s function) for a wrong PIN's count and a card's blocking only:
    /// their audit rows.
    static func holdCardWritesAtCommit(_ admin: PostgresConnection) async throws {
        let trigger = """
            CREATE CONSTRAINT TRIGGER hold_at_commit AFTER INSERT ON bank.audit_logs
                DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.action IN ('pin.wrong', 'card.blocked'))
                EXECUTE FUNCTION public.hold_at_commit()
            """
        for statement in [Self.holdAtCommit[0], trigger] {
            _ = try await admin.query(PostgresQuery(unsafeSQL: statement), logger: quietLogger)
        }
    }

    /// The cards' try counters, summed, and the wrong PINs audited.
    static func wrongPINs(_ bank: TestBank) async throws -> (tries: Int, audited: Int) {
        let tries = try await bank.count("SELECT coalesce(sum(pin_tries), 0)::int FROM bank.cards")
        let audited = try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'pin.wrong'")
        return (tries, audited)
    }

    @Test("a URL with two servers: the first goes away, the switch answers 91, moves its pool to the second by itself and answers 00 again, without a restart")
    func followsTheServerThatAnswers() async throws {
        // Two proxies in front of one database stand in for a primary and the standby that replaces it.
        let proxies = Mutex<[DatabaseProxy]>([])
        let twoServers: @Sendable (TestBank) -> DatabaseURL = { bank in
            var url = bank.switchURL
            url.endpoints = proxies.withLock { $0.map { DatabaseEndpoint(host: "127.0.0.1", port: $0.port) } }
            url.targetSessionAttributes = .readWrite
            return url
        }
        let startProxies: @Sendable (TestBank) async throws -> Void = { bank in
            let first = try await DatabaseProxy.start(to: bank.switchURL)
            let second = try await DatabaseProxy.start(to: bank.switchURL)
            proxies.withLock { $0 = [first, second] }
        }
        try await SwitchUnderTest.with(databaseURL: twoServers, before: startProxies) { under in
            let (first, second) = proxies.withLock { ($0[0], $0[1]) }
            try await under.terminal { terminal in
                #expect(try await terminal.cardRequest(.balance, pan: alice.pan, pin: alice.pin)[39] == "00")
                first.takeDown()
                // Answered 91 while the pool is on the server that is gone; then 00 from the other one.
                var codes: [String] = []
                for _ in 0..<80 where codes.last != "00" {
                    codes.append(try await terminal.cardRequest(.balance, pan: alice.pan)[39] ?? "none")
                    if codes.last != "00" { try await Task.sleep(for: .milliseconds(250)) }
                }
                #expect(codes.last == "00", "\(codes)")
                #expect(Set(codes.dropLast()).isSubset(of: ["91"]), "\(codes)")
                #expect(
                    try await terminal.cardRequest(
                        .withdrawal,
                        pan: alice.pan,
                        amount: 1_000,
                        from: alice.current
                    )[39] == "00"
                )
            }
            #expect(try await under.bank.balance(alice.current) == 249_000)
        }
        for proxy in proxies.withLock({ $0 }) { await proxy.stop() }
    }

    @Test("the response code of a store error is chosen by its kind: the database gone is 91, a failure 96")
    func mapping() {
        #expect(DatabaseUnavailable.isConnectionLost(sqlState: "57P01"))
        #expect(DatabaseUnavailable.isConnectionLost(sqlState: "08006"))
        #expect(!DatabaseUnavailable.isConnectionLost(sqlState: "22012"))
        #expect(Bank.responseCode(for: DatabaseUnavailable(.connectionLost, reason: "x")) == .switchInoperative)
        #expect(Bank.responseCode(for: StoreError(kind: .unavailable, detail: "x")) == .systemMalfunction)
    }
}
