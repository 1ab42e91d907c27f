import CashpointDatabase
import ATM87
import CashpointBank
import CashpointStore
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import PostgresNIO
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

    @Test("the response code of a store error is chosen by its kind: the database gone is 91, a failure 96")
    func mapping() {
        #expect(DatabaseUnavailable.isConnectionLost(sqlState: "57P01"))
        #expect(DatabaseUnavailable.isConnectionLost(sqlState: "08006"))
        #expect(!DatabaseUnavailable.isConnectionLost(sqlState: "22012"))
        #expect(Bank.responseCode(for: DatabaseUnavailable(.connectionLost, reason: "x")) == .switchInoperative)
        #expect(Bank.responseCode(for: StoreError(kind: .unavailable, detail: "x")) == .systemMalfunction)
    }
}
