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
    @Test("a backend ended mid-statement (57P01, pg_terminate_backend) is answered 91, and nothing is posted")
    func backendTerminated() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { terminal in
                #expect(try await terminal.echo()[39] == "00")
                // The session is used by the one task below while this one only waits for it.
                nonisolated(unsafe) let session = terminal
                try await under.holdingRow(alice.current) {
                    let answer = Task {
                        try await session.cardRequest(
                            .withdrawal,
                            pan: alice.pan,
                            pin: alice.pin,
                            amount: 1_000,
                            from: alice.current
                        )
                    }
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
                    #expect(try await answer.value[39] == "91")
                }
            }
            #expect(try await under.bank.balance(alice.current) == 250_000)
        }
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
