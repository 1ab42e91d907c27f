import ATM87
import CashpointDatabase
import CashpointSecurity
import CashpointStore
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

/// Issue 12, the switch's side: a reversal settles its original whatever the order.
@Suite("End of day and reversal races over TCP", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(3)))
struct EndOfDayTests {
    // MARK: A. The reversal that overtakes its original

    @Test("a withdrawal held behind a row lock, overtaken by its 0420 and 0421: voided (68), the customer whole")
    func reversalOvertakesHeldWithdrawal() async throws {
        try await SwitchUnderTest.with { under in
            let prepared = try await under.terminal { atm in
                let keys = try #require(atm.keys)
                var withdrawal = try atm.header(.financialRequest)
                for (field, value) in [
                    (2, bob.pan), (3, "010000"), (4, "000000020000"), (22, "051"), (49, "978"), (102, bob.current),
                ] {
                    try withdrawal.set(field, value)
                }
                try withdrawal.set(52, bytes: try atm.pinBlock(pin: bob.pin, pan: bob.pan))
                // The terminal gives up waiting and sends the advice (nothing dispensed), then its repeat.
                var advice = try atm.header(.reversalAdvice)
                for field in [2, 3, 4, 49] { try advice.set(field, withdrawal[field]!) }
                try advice.set(90, OriginalDataElements(of: withdrawal).field)
                var repeated = ATM87Message(mti: .reversalAdviceRepeat)
                for field in advice.fieldNumbers { try repeated.set(field, advice[field]!) }
                return (
                    keys: keys,
                    withdrawal: try MessageAuthentication.sign(withdrawal, key: keys.mac),
                    advice: try MessageAuthentication.sign(advice, key: keys.mac),
                    repeated: try MessageAuthentication.sign(repeated, key: keys.mac)
                )
            }
            let port = under.port
            let (answer, reversals) = try await under.bank.asSuperuser { holder in
                try await holder.query("BEGIN", logger: quietLogger)
                try await holder.query(
                    "SELECT 1 FROM bank.accounts WHERE account_no = 'CP0000000003' FOR UPDATE",
                    logger: quietLogger
                )
                var holderPID = 0
                for try await pid in try await holder.query("SELECT pg_backend_pid()", logger: quietLogger)
                    .decode(Int.self)
                {
                    holderPID = pid
                }
                let query = PostgresQuery(
                    unsafeSQL: "SELECT count(*)::int FROM pg_stat_activity WHERE \(holderPID) = ANY (pg_blocking_pids(pid))"
                )
                let reverser = Task {
                    // Wait for the event: the withdrawal's transaction waiting for the held row.
                    var waiting = 0
                    for _ in 0..<1_000 where waiting == 0 {
                        for try await count in try await holder.query(query, logger: quietLogger).decode(Int.self) {
                            waiting = count
                        }
                        if waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
                    }
                    guard waiting > 0 else { throw TestFailure("the withdrawal never waited for Bob's row") }
                    let answers = try await SwitchLink.with(host: "127.0.0.1", port: port) { link in
                        [try await link.exchange(prepared.advice), try await link.exchange(prepared.repeated)]
                    }
                    try await holder.query("COMMIT", logger: quietLogger)
                    return answers
                }
                let answer = try await SwitchLink.with(host: "127.0.0.1", port: port) { link in
                    try await link.exchange(prepared.withdrawal)
                }
                return (answer, try await reverser.value)
            }
            #expect(reversals.map { $0[39] } == ["00", "00"])
            for reversal in reversals {
                #expect(MessageAuthentication.verify(reversal, key: prepared.keys.mac) == nil)
            }
            // The withdrawal arrived after its reversal: answered 68, no authorization, nothing posted.
            #expect(answer[39] == "68")
            #expect(answer[38] == nil)
            #expect(MessageAuthentication.verify(answer, key: prepared.keys.mac) == nil)
            #expect(ATM87Rules.check(response: answer, to: prepared.withdrawal).isEmpty)
            #expect(try await under.bank.balance(bob.current) == 80_000)
            // Sent again, it gets the same answer and still posts nothing.
            let again = try await SwitchLink.with(host: "127.0.0.1", port: port) { link in
                try await link.exchange(prepared.withdrawal)
            }
            #expect(again[39] == "68")
            #expect(try await under.bank.balance(bob.current) == 80_000)
            #expect(
                try await under.bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE action = 'withdrawal' AND outcome = '68'"
                ) == 2
            )
            #expect(
                try await under.bank.count(
                    "SELECT count(*)::int FROM bank.transactions WHERE kind = 'voided' AND response_code = '68'"
                ) == 1
            )
            let report = try await under.bank.switchURL.withClient(logger: quietLogger, maximumConnections: 1) {
                try await LedgerVerifier.verify(client: $0, logger: quietLogger)
            }
            #expect(report.isClean, "\(report.findings)")
        }
    }

    @Test("a reversal sent as 0420, 0421 and 0420 again across a restart of the switch moves money once")
    func reversalAcrossRestart() async throws {
        try await SwitchUnderTest.with { under in
            let (keys, original, advice) = try await under.terminal { atm in
                let original = try await atm.cardRequest(
                    .withdrawal,
                    pan: alice.pan,
                    pin: alice.pin,
                    amount: 10_000,
                    from: alice.current
                )
                #expect(original[39] == "00")
                let advice = try await atm.reversal(of: original, dispensed: 4_000)
                #expect(advice[39] == "00")
                return (try #require(atm.keys), original, advice)
            }
            #expect(try await under.bank.balance(alice.current) == 246_000)
            try await under.restart()
            try await under.terminal(signOn: false) { atm in
                atm.resume(keys: keys)
                var resent = ATM87Message(mti: .reversalAdvice)
                for field in [2, 3, 4, 7, 11, 41, 49, 90, 95] {
                    if let value = advice[field] { try resent.set(field, value) }
                }
                let repeated = try await atm.reversal(of: original, dispensed: 4_000, repeatOf: resent)
                #expect(repeated.mti == .reversalResponse)
                #expect(repeated[39] == "00")
                #expect(repeated[37] == advice[37])
                let sameAgain = try await atm.send(resent)
                #expect(sameAgain[39] == "00")
                #expect(sameAgain[37] == advice[37])
            }
            #expect(try await under.bank.balance(alice.current) == 246_000)
            #expect(
                try await under.bank.count(
                    "SELECT count(*)::int FROM bank.transactions WHERE kind = 'reversal' AND amount > 0"
                ) == 1
            )
        }
    }
}
