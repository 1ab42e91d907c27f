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

/// Issue 12, the switch's side: a reversal settles its original whatever the order, reconciliation
/// (0500/0510) with cutovers, and replenishment against the vault.
@Suite("End of day and reversal races over TCP", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(6)))
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

    // MARK: B. Reconciliation

    /// A 0500 with these totals (the terminal's figures since its last cutover).
    static func reconciliation(_ terminal: TerminalSession, _ totals: ReconciliationTotals) throws -> ATM87Message {
        var request = try terminal.header(.reconciliationRequest)
        try request.set(15, "1125")
        try request.set(50, "978")
        try totals.write(into: &request)
        return request
    }

    /// Sends a 0500 and checks its 0510 against the rules and the MAC.
    static func reconcile(_ terminal: TerminalSession, _ request: ATM87Message) async throws -> ATM87Message {
        let answer = try await terminal.send(request)
        #expect(answer.mti == .reconciliationResponse)
        let violations = ATM87Rules.check(response: answer, to: request)
        #expect(violations.isEmpty, "\(violations)")
        #expect(answer.contains(128) && !answer.contains(64))
        return answer
    }

    @Test("a mixed session reconciles (00) and cuts over; the next period is empty; a reversal the terminal missed: 95")
    func reconciliation() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { atm in
                let cash = try await atm.cardRequest(
                    .withdrawal,
                    pan: alice.pan,
                    pin: alice.pin,
                    amount: 10_000,
                    from: alice.current
                )
                #expect(cash[39] == "00")
                #expect(try await atm.cardRequest(.deposit, pan: alice.pan, amount: 2_500, to: alice.current)[39] == "00")
                let transfer = try await atm.cardRequest(
                    .transfer,
                    pan: alice.pan,
                    amount: 5_000,
                    from: alice.current,
                    to: alice.savings
                )
                #expect(transfer[39] == "00")
                #expect(try await atm.cardRequest(.balance, pan: alice.pan)[39] == "00")
                #expect(try await atm.reversal(of: cash, dispensed: 6_000)[39] == "00")

                // The terminal's totals: 1 deposit of 25.00, 1 withdrawal of 100.00 with 40.00 given back,
                // 1 transfer of 50.00; cash in minus cash out = 25.00 - 60.00.
                let session = ReconciliationTotals(
                    credits: 1,
                    creditsAmount: 2_500,
                    debits: 1,
                    debitsAmount: 10_000,
                    debitReversals: 1,
                    debitReversalsAmount: 4_000,
                    transfers: 1,
                    transfersAmount: 5_000
                )
                #expect(session.net == -3_500)
                let first = try Self.reconciliation(atm, session)
                let balanced = try await Self.reconcile(atm, first)
                #expect(balanced[39] == "00")
                #expect(balanced[44] == nil)
                #expect(try ReconciliationTotals(message: balanced) == session)
                #expect(balanced[97] == "D0000000000003500")
                // The terminal's cash account was never loaded: the ledger says 35.00 more left it than came in.
                #expect(balanced[48] == "TN0011TA0045000CB013D000000003500")

                // A repeat gets the stored answer and cuts over nothing.
                let repeated = try await Self.reconcile(atm, first)
                #expect(repeated[39] == "00")
                #expect(repeated[48] == balanced[48])

                // Right after: an empty period.
                let empty = try await Self.reconcile(atm, try Self.reconciliation(atm, ReconciliationTotals()))
                #expect(empty[39] == "00")
                #expect(try ReconciliationTotals(message: empty) == ReconciliationTotals())
                #expect(empty[97] == "C0000000000000000")

                // A withdrawal the terminal counts, and a reversal of 20.00 of it that reaches the switch
                // but never the terminal's totals.
                let more = try await atm.cardRequest(.withdrawal, pan: alice.pan, amount: 3_000, from: alice.current)
                #expect(more[39] == "00")
                #expect(try await atm.reversal(of: more, dispensed: 1_000)[39] == "00")
                let missed = ReconciliationTotals(debits: 1, debitsAmount: 3_000)
                let difference = try await Self.reconcile(atm, try Self.reconciliation(atm, missed))
                #expect(difference[39] == "95")
                #expect(difference[44] == "77: switch +1")
                let ledger = try ReconciliationTotals(message: difference)
                #expect(ledger == ReconciliationTotals(debits: 1, debitsAmount: 3_000, debitReversals: 1, debitReversalsAmount: 2_000))
                #expect(difference[89] == "0000000000002000")
                #expect(difference[97] == "D0000000000001000")
                let first77 = try #require(missed.firstDifference(to: ledger))
                #expect(first77.name == "77" && first77.by == 1)
            }
            #expect(try await under.bank.count("SELECT count(*)::int FROM bank.cutovers") == 3)
            #expect(try await under.auditCount("reconcile.balanced") == 3)
            #expect(try await under.auditCount("reconcile.difference") == 1)
            // Both sides' figures are in the audit row of the difference.
            #expect(
                try await under.bank.count(
                    """
                    SELECT count(*)::int FROM bank.audit_logs WHERE action = 'reconcile.difference'
                      AND details -> 'terminal_figures' ->> 'debit_reversals' = '0'
                      AND details -> 'switch_figures' ->> 'debit_reversals_amount' = '2000'
                    """
                ) == 1
            )
            // Every transaction of the terminal is in exactly one period.
            #expect(
                try await under.bank.count(
                    """
                    SELECT count(*)::int FROM bank.transactions t WHERE t.terminal_id = 'ATM00001'
                      AND NOT EXISTS (SELECT 1 FROM bank.cutover_transactions c WHERE c.transaction_id = t.id)
                    """
                ) == 0
            )
        }
    }

    // MARK: C. Replenishment

    @Test("REPLENISH loads the ATM from the vault; withdrawals lower CB by the cash given; a repeat posts once")
    func replenishment() async throws {
        try await SwitchUnderTest.with { under in
            try await under.terminal { atm in
                let vault = try await under.bank.balance("BANKVAULT")
                #expect(vault == -10_000_000)
                var load = try atm.header(.administrativeRequest)
                try load.set(48, ATM87TLV(.replenish, [(.loaded, "500000")]).encoded)
                let loaded = try await atm.send(load)
                #expect(loaded[39] == "00")
                #expect(ATM87Rules.check(response: loaded, to: load).isEmpty)
                #expect(try ATM87TLV(parsing: try #require(loaded[48]))[.cashHeld] == "C000000500000")
                // The same message again: the stored answer, posted once.
                let repeated = try await atm.send(load)
                #expect(repeated[39] == "00")
                #expect(repeated[48] == loaded[48])
                #expect(try await under.bank.balance("BANKVAULT") == vault + 500_000)

                #expect(
                    try await atm.cardRequest(.withdrawal, pan: alice.pan, pin: alice.pin, amount: 10_000)[39] == "00"
                )
                let partly = try await atm.cardRequest(.withdrawal, pan: alice.pan, amount: 6_000)
                #expect(partly[39] == "00")
                #expect(try await atm.reversal(of: partly, dispensed: 2_000)[39] == "00")
                #expect(try await atm.cardRequest(.deposit, pan: alice.pan, amount: 1_500)[39] == "00")
                // Cash given: 100.00 + 20.00; cash taken in: 15.00. Unload 100.00, load 50.00.
                var swap = try atm.header(.administrativeRequest)
                try swap.set(48, ATM87TLV(.replenish, [(.unloaded, "10000"), (.loaded, "5000")]).encoded)
                let swapped = try await atm.send(swap)
                #expect(swapped[39] == "00")
                let expected: Int64 = 500_000 - 10_000 - 2_000 + 1_500 - 10_000 + 5_000
                #expect(
                    try ATM87TLV(parsing: try #require(swapped[48]))[.cashHeld] == SignedAmount.encode(expected)
                )
                // The 0510 says the same.
                let reconciled = try await EndOfDayTests.reconcile(
                    atm,
                    try EndOfDayTests.reconciliation(
                        atm,
                        ReconciliationTotals(
                            credits: 1,
                            creditsAmount: 1_500,
                            debits: 2,
                            debitsAmount: 16_000,
                            debitReversals: 1,
                            debitReversalsAmount: 4_000
                        )
                    )
                )
                #expect(reconciled[39] == "00")
                #expect(try ATM87TLV(parsing: try #require(reconciled[48]))[.cashHeld] == SignedAmount.encode(expected))
                #expect(try await under.bank.balance("CASHATM00001") == -expected)

                // Nothing to move, or a malformed amount: refused, nothing posted.
                var nothing = try atm.header(.administrativeRequest)
                try nothing.set(48, ATM87TLV(.replenish, [(.loaded, "0")]).encoded)
                #expect(try await atm.send(nothing)[39] == "13")
                var malformed = try atm.header(.administrativeRequest)
                try malformed.set(48, ATM87TLV(.replenish, [(.loaded, "12x")]).encoded)
                #expect(try await atm.send(malformed)[39] == "30")
            }
            // A branch terminal does not replenish through this message.
            try await under.terminal("BRANCH01") { branch in
                var load = try branch.header(.administrativeRequest)
                try load.set(48, ATM87TLV(.replenish, [(.loaded, "1000")]).encoded)
                #expect(try await branch.send(load)[39] == "58")
            }
            #expect(try await under.auditCount("terminal.replenish") == 5)
            #expect(try await under.bank.balance("BANKVAULT") == -10_000_000 + 500_000 - 5_000)
            let report = try await under.bank.switchURL.withClient(logger: quietLogger, maximumConnections: 1) {
                try await LedgerVerifier.verify(client: $0, logger: quietLogger)
            }
            #expect(report.isClean, "\(report.findings)")
        }
    }
}
