import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("bank: cards, PINs and money movement", .serialized, .enabled(if: databaseTestsEnabled))
struct CardTransactionTests {
    func alice(_ service: Bank) async throws -> CardHolder {
        let result = try await service.authenticateCard(
            service.present(pan: alicePAN),
            pin: "1234",
            terminal: "ATM00001",
            ip: "10.0.0.1"
        )
        guard case .approved(let holder) = result else { throw TestFailure("alice's PIN was refused: \(result)") }
        return holder
    }

    @Test("a right PIN approves the card and names its accounts, default first")
    func rightPIN() async throws {
        try await TestBank.with(fixture: try demoFixture()) { _, service in
            let holder = try await self.alice(service)
            #expect(holder.accounts == ["CP0000000001", "CP0000000002"])
            #expect(holder.maskedPAN == "476173******0119")
        }
    }

    @Test("unknown card 14, expired card 54")
    func unknownAndExpired() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let unknown = try await service.authenticateCard(
                service.present(pan: "4000000000000010"),
                pin: "1234",
                terminal: "ATM00001",
                ip: nil
            )
            #expect(unknown == .refused(.unknownCard, capture: false))
            let expired = try await service.authenticateCard(
                service.present(pan: carolExpiredPAN),
                pin: "9999",
                terminal: "ATM00001",
                ip: nil
            )
            #expect(expired == .refused(.expiredCard, capture: false))
            // Both refusals are audited, with the PAN masked.
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'card.refused'") == 2
            )
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE actor LIKE '%4111111111111111%'")
                    == 0
            )
        }
    }

    @Test("wrong PIN 55, 55, then 75 with capture; a blocked card answers 75 without a PIN check; a teller unlocks it")
    func lockout() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            for expected in [ResponseCode.wrongPIN, .wrongPIN] {
                let result = try await service.authenticateCard(service.present(pan: bobPAN), pin: "0000", terminal: "ATM00001", ip: nil)
                #expect(result == .refused(expected, capture: false))
            }
            let third = try await service.authenticateCard(service.present(pan: bobPAN), pin: "0000", terminal: "ATM00001", ip: nil)
            #expect(third == .refused(.pinTriesExceeded, capture: true))
            // The right PIN no longer helps, and no PIN check is recorded for it.
            let pinChecksBefore = try await bank.count(
                "SELECT count(*)::int FROM bank.audit_logs WHERE action LIKE 'pin.%'"
            )
            let blocked = try await service.authenticateCard(service.present(pan: bobPAN), pin: "4321", terminal: "ATM00001", ip: nil)
            #expect(blocked == .refused(.pinTriesExceeded, capture: true))
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action LIKE 'pin.%'")
                    == pinChecksBefore
            )
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE action = 'card.blocked'") == 1
            )
            // A customer cannot unlock; a teller can, and it is audited.
            guard
                case .approved(let teller) = try await service.loginStaff(
                    userName: "tina.teller",
                    password: "teller-test-password",
                    oneTimeCode: StaffCodes.next("tina.teller", scope: service.codeScope),
                    device: "BRANCH01",
                    ip: nil
                )
            else {
                throw TestFailure("teller login refused")
            }
            // Unblocking is high-risk: held, then approved by a second member of staff.
            let held = try await service.perform(
                .unlockCard(pan: bobPAN),
                by: teller,
                key: KeyMaker(terminal: "BRANCH01").next(),
                ip: nil
            )
            #expect(held.code == .additionalAuthenticationRequired)
            let checker = try await service.signedOnStaff("ada.admin", "admin-test-password")
            let unlock = try await service.performApproved(
                .unlockCard(pan: bobPAN),
                by: teller,
                checker: checker,
                key: KeyMaker(terminal: "BRANCH01").next()
            )
            #expect(unlock.code == .approved)
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE action = 'card.unlock' AND actor = 'ada.admin'"
                ) == 1
            )
            let again = try await service.authenticateCard(service.present(pan: bobPAN), pin: "4321", terminal: "ATM00001", ip: nil)
            guard case .approved = again else { throw TestFailure("unlocked card refused: \(again)") }
        }
    }

    @Test("a right PIN resets the try counter")
    func rightPINResets() async throws {
        try await TestBank.with(fixture: try demoFixture()) { _, service in
            for _ in 0..<2 {
                _ = try await service.authenticateCard(service.present(pan: bobPAN), pin: "1111", terminal: "ATM00001", ip: nil)
            }
            guard
                case .approved = try await service.authenticateCard(
                    service.present(pan: bobPAN),
                    pin: "4321",
                    terminal: "ATM00001",
                    ip: nil
                )
            else {
                throw TestFailure("right PIN refused")
            }
            // Two more wrong ones do not block: the counter started again.
            for _ in 0..<2 {
                let result = try await service.authenticateCard(service.present(pan: bobPAN), pin: "1111", terminal: "ATM00001", ip: nil)
                #expect(result == .refused(.wrongPIN, capture: false))
            }
        }
    }

    @Test("withdrawal 00 moves money from the customer to the terminal's cash, with balanced lines")
    func withdrawal() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            let keys = KeyMaker()
            let answer = try await service.perform(
                .withdrawal(amount: 10_000, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: keys.next(),
                ip: nil
            )
            #expect(answer.code == .approved)
            #expect(answer.balance == 240_000)
            #expect(answer.authCode?.count == 6)
            #expect(try await bank.balance("CP0000000001") == 240_000)
            #expect(try await bank.balance("CASHATM00001") == 10_000)
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.history WHERE transaction_id = \(answer.transactionID!)"
                ) == 2
            )
        }
    }

    @Test(
        "each refusal maps to its response code and moves nothing",
        arguments: [
            (
                "insufficient funds", CardOperation.withdrawal(amount: 300_000, account: "CP0000000001"),
                ResponseCode.insufficientFunds
            ),
            ("daily amount limit", .withdrawal(amount: 60_000, account: "CP0000000002"), .amountLimitExceeded),
            ("zero amount", .withdrawal(amount: 0, account: nil), .invalidAmount),
            ("negative amount", .deposit(amount: -5, account: nil), .invalidAmount),
            (
                "transfer to the same account", .transfer(amount: 100, from: "CP0000000001", to: "CP0000000001"),
                .invalidTransaction
            ),
            (
                "another customer's account", .withdrawal(amount: 100, account: "CP0000000003"),
                .notPermittedToCardholder
            ),
            (
                "transfer to another customer", .transfer(amount: 100, from: "CP0000000001", to: "CP0000000003"),
                .notPermittedToCardholder
            ),
        ] as [(String, CardOperation, ResponseCode)]
    )
    func refusals(name: String, operation: CardOperation, code: ResponseCode) async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            let before = try await bank.count("SELECT count(*)::int FROM bank.history")
            let answer = try await service.perform(
                operation,
                for: holder,
                card: service.present(pan: alicePAN),
                key: KeyMaker().next(),
                ip: nil
            )
            #expect(answer.code == code, "\(name)")
            #expect(try await bank.count("SELECT count(*)::int FROM bank.history") == before, "\(name)")
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.audit_logs WHERE outcome = '\(code.rawValue)'")
                    >= 1,
                "\(name)"
            )
        }
    }

    @Test("daily withdrawal count limit 65")
    func countLimit() async throws {
        try await TestBank.with(fixture: try demoFixture()) { _, service in
            let holder = try await self.alice(service)
            let keys = KeyMaker()
            for _ in 0..<3 {
                let answer = try await service.perform(
                    .withdrawal(amount: 1_000, account: "CP0000000002"),
                    for: holder,
                    card: service.present(pan: alicePAN),
                    key: keys.next(),
                    ip: nil
                )
                #expect(answer.code == .approved)
            }
            let fourth = try await service.perform(
                .withdrawal(amount: 1_000, account: "CP0000000002"),
                for: holder,
                card: service.present(pan: alicePAN),
                key: keys.next(),
                ip: nil
            )
            #expect(fourth.code == .countLimitExceeded)
        }
    }

    @Test("a locked account answers 62; unknown accounts 76 and 77 (as a teller sees them)")
    func lockedAndUnknownAccounts() async throws {
        try await TestBank.with(fixture: try demoFixture()) { _, service in
            let holder = try await self.alice(service)
            guard
                case .approved(let teller) = try await service.loginStaff(
                    userName: "tina.teller",
                    password: "teller-test-password",
                    oneTimeCode: StaffCodes.next("tina.teller", scope: service.codeScope),
                    device: "BRANCH01",
                    ip: nil
                )
            else {
                throw TestFailure("teller login refused")
            }
            let desk = KeyMaker(terminal: "BRANCH01")
            let atm = KeyMaker()
            #expect(
                try await service.perform(.lockAccount("CP0000000001"), by: teller, key: desk.next(), ip: nil).code
                    == .approved
            )
            let locked = try await service.perform(
                .withdrawal(amount: 100, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: atm.next(),
                ip: nil
            )
            #expect(locked.code == .restricted)
            let checker = try await service.signedOnStaff("ada.admin", "admin-test-password")
            #expect(
                try await service.performApproved(.unlockAccount("CP0000000001"), by: teller, checker: checker, key: desk.next())
                    .code == .approved
            )
            let unlocked = try await service.perform(
                .withdrawal(amount: 100, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: atm.next(),
                ip: nil
            )
            #expect(unlocked.code == .approved)
            let unknownFrom = try await service.perform(
                .transfer(from: "CP9999999999", to: "CP0000000003", amount: 100),
                by: teller,
                key: desk.next(),
                ip: nil
            )
            #expect(unknownFrom.code == .unknownFromAccount)
            let unknownTo = try await service.perform(
                .transfer(from: "CP0000000001", to: "CP9999999999", amount: 100),
                by: teller,
                key: desk.next(),
                ip: nil
            )
            #expect(unknownTo.code == .unknownToAccount)
        }
    }

    @Test("an internal failure surfaces as a typed error the switch answers with 96, and moves nothing")
    func internalError() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            try await bank.asSuperuser { connection in
                try await connection.query("ALTER FUNCTION bank.post RENAME TO post_gone", logger: quietLogger)
            }
            do {
                _ = try await service.perform(
                    .withdrawal(amount: 100, account: nil),
                    for: holder,
                    card: service.present(pan: alicePAN),
                    key: KeyMaker().next(),
                    ip: nil
                )
                Issue.record("a broken database gave an answer")
            } catch {
                #expect(error is StoreError)
                #expect(Bank.responseCode(for: error) == .systemMalfunction)
            }
            #expect(try await bank.balance("CP0000000001") == 250_000)
        }
    }

    @Test("a closed card is restricted (62)")
    func closedCard() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            try await bank.asSuperuser { connection in
                try await connection.query(
                    "UPDATE bank.cards SET status = 'closed' WHERE pan_masked = '555555******4444'",
                    logger: quietLogger
                )
            }
            let result = try await service.authenticateCard(service.present(pan: bobPAN), pin: "4321", terminal: "ATM00001", ip: nil)
            #expect(result == .refused(.restricted, capture: false))
        }
    }

    @Test("balance, deposit, transfer between own accounts, mini-statement of the last 10 lines")
    func everydayOperations() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            let keys = KeyMaker()
            #expect(
                try await service.perform(.balance(account: nil), for: holder, card: service.present(pan: alicePAN), key: keys.next(), ip: nil)
                    .balance == 250_000
            )
            #expect(
                try await service.perform(
                    .deposit(amount: 5_000, account: nil),
                    for: holder,
                    card: service.present(pan: alicePAN),
                    key: keys.next(),
                    ip: nil
                ).code == .approved
            )
            let transfer = try await service.perform(
                .transfer(amount: 20_000, from: "CP0000000002", to: "CP0000000001"),
                for: holder,
                card: service.present(pan: alicePAN),
                key: keys.next(),
                ip: nil
            )
            #expect(transfer.code == .approved)
            #expect(transfer.balance == 980_000)
            #expect(try await bank.balance("CP0000000001") == 275_000)
            for _ in 0..<12 {
                _ = try await service.perform(
                    .deposit(amount: 1, account: nil),
                    for: holder,
                    card: service.present(pan: alicePAN),
                    key: keys.next(),
                    ip: nil
                )
            }
            let statement = try await service.perform(
                .miniStatement(account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: keys.next(),
                ip: nil
            )
            #expect(statement.code == .approved)
            #expect(statement.statement.count == 10)
            #expect(statement.statement.first?.balanceAfter == 275_012)
            #expect(statement.statement.allSatisfy { $0.amount == 1 })
            // Another customer's statement is refused.
            let other = try await service.perform(
                .miniStatement(account: "CP0000000003"),
                for: holder,
                card: service.present(pan: alicePAN),
                key: keys.next(),
                ip: nil
            )
            #expect(other.code == .notPermittedToCardholder)
        }
    }

    @Test("PIN change checks the old PIN first and stores the new hash")
    func pinChange() async throws {
        try await TestBank.with(fixture: try demoFixture()) { _, service in
            let holder = try await self.alice(service)
            let keys = KeyMaker()
            let changed = try await service.perform(
                .pinChange(newPIN: "8642"),
                for: holder,
                card: service.present(pan: alicePAN),
                key: keys.next(),
                ip: nil
            )
            #expect(changed.code == .approved)
            let old = try await service.authenticateCard(service.present(pan: alicePAN), pin: "1234", terminal: "ATM00001", ip: nil)
            #expect(old == .refused(.wrongPIN, capture: false))
            guard
                case .approved = try await service.authenticateCard(
                    service.present(pan: alicePAN),
                    pin: "8642",
                    terminal: "ATM00001",
                    ip: nil
                )
            else {
                throw TestFailure("new PIN refused")
            }
            let bad = try await service.perform(
                .pinChange(newPIN: "12"),
                for: holder,
                card: service.present(pan: alicePAN),
                key: keys.next(),
                ip: nil
            )
            #expect(bad.code == .invalidTransaction)
        }
    }

    @Test("a repeat with the same key and content gets the original answer and posts nothing; other content gets 94")
    func idempotency() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            let key = KeyMaker().next()
            let first = try await service.perform(
                .withdrawal(amount: 2_000, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: key,
                ip: nil
            )
            let repeated = try await service.perform(
                .withdrawal(amount: 2_000, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: key,
                ip: nil
            )
            #expect(first.code == .approved)
            #expect(repeated.code == .approved)
            #expect(repeated.replayed)
            #expect(repeated.authCode == first.authCode)
            #expect(repeated.transactionID == first.transactionID)
            #expect(try await bank.balance("CP0000000001") == 248_000)
            let different = try await service.perform(
                .withdrawal(amount: 3_000, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: key,
                ip: nil
            )
            #expect(different.code == .duplicate)
            #expect(try await bank.balance("CP0000000001") == 248_000)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.transactions WHERE kind = 'withdrawal'") == 1)
        }
    }

    @Test("concurrent duplicates post once")
    func concurrentDuplicates() async throws {
        try await TestBank.with(fixture: try demoFixture(), maximumConnections: 8) { bank, service in
            let holder = try await self.alice(service)
            let key = KeyMaker().next()
            let answers = try await withThrowingTaskGroup(of: BankAnswer.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await service.perform(
                            .withdrawal(amount: 500, account: nil),
                            for: holder,
                            card: service.present(pan: alicePAN),
                            key: key,
                            ip: nil
                        )
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.code == .approved })
            #expect(answers.filter { !$0.replayed }.count == 1)
            #expect(try await bank.balance("CP0000000001") == 249_500)
        }
    }

    @Test("a duplicate that arrives while the first is uncommitted waits for it and gets its answer, not an error")
    func duplicateWaitsForTheFirst() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, _ in
            @Sendable func answer(_ connection: PostgresConnection) async throws -> (String, Int64, Bool) {
                let rows = try await connection.query(
                    """
                    SELECT response_code, transaction_id, replayed FROM bank.post('teller', NULL, NULL, 'teller.t', NULL,
                        'T', 'ATM00001', '000777', '1125093112', '\\x01'::bytea, 'deposit', 1000, NULL, 'CP0000000001')
                    """,
                    logger: quietLogger
                )
                for try await row in rows.decode((String, Int64, Bool).self) { return row }
                throw TestFailure("bank.post returned no row")
            }
            try await bank.asSwitchRole { first in
                try await first.query("BEGIN", logger: quietLogger)
                let original = try await answer(first)
                #expect(original.0 == "00" && !original.2)
                // The duplicate, on its own connection, waits on the first's locks.
                let duplicate = Task { try await bank.asSwitchRole { try await answer($0) } }
                var waiting = 0
                for _ in 0..<500 where waiting == 0 {
                    waiting = try await bank.count(
                        "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%bank.post(%'"
                    )
                    if waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
                }
                #expect(waiting == 1)
                try await first.query("COMMIT", logger: quietLogger)
                let repeated = try await duplicate.value
                #expect(repeated.0 == "00")
                #expect(repeated.1 == original.1)
                #expect(repeated.2)
            }
            #expect(try await bank.balance("CP0000000001") == 251_000)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.transactions WHERE stan = '000777'") == 1)
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE details ? 'replay_of' AND details->>'stan' = '000777'"
                ) == 1
            )
        }
    }

    @Test("a posting never reads the whole transactions table, whatever its size when the connection's plans were made")
    func noWholeTableRead() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, _ in
            // Statistics of a small table, as a new bank has: the plans a connection caches are made from them.
            try await bank.asSuperuser { try await $0.query("ANALYZE bank.transactions", logger: quietLogger) }
            try await bank.asSwitchRole { connection in
                func wholeTableReads() async throws -> Int {
                    try await connection.query("SELECT pg_stat_force_next_flush()", logger: quietLogger)
                    try await connection.query("SELECT pg_stat_clear_snapshot()", logger: quietLogger)
                    let rows = try await connection.query(
                        "SELECT seq_scan::int FROM pg_stat_user_tables WHERE relid = 'bank.transactions'::regclass",
                        logger: quietLogger
                    )
                    for try await count in rows.decode(Int.self) { return count }
                    throw TestFailure("no statistics for bank.transactions")
                }
                let before = try await wholeTableReads()
                for stan in 1...20 {
                    let rows = try await connection.query(
                        """
                        SELECT response_code FROM bank.post('teller', NULL, NULL, 'teller.t', NULL, 'T', 'ATM00001',
                            \(String(format: "%06d", 500 + stan)), '1125093112', '\\x01'::bytea, 'deposit', 100, NULL,
                            'CP0000000001')
                        """,
                        logger: quietLogger
                    )
                    for try await code in rows.decode(String.self) { #expect(code == "00") }
                }
                #expect(try await wholeTableReads() == before)
            }
        }
    }

    @Test("full reversal restores the balance with compensating lines; nothing is changed or deleted")
    func fullReversal() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            let keys = KeyMaker()
            let original = keys.next(time: "1125093112")
            _ = try await service.perform(
                .withdrawal(amount: 10_000, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: original,
                ip: nil
            )
            let linesBefore = try await bank.count("SELECT count(*)::int FROM bank.history")
            let reversal = try await service.reverse(
                key: keys.next(time: "1125093205"),
                originalSTAN: original.stan,
                originalTransmitted: original.transmitted,
                kind: .withdrawal,
                originalAmount: 10_000,
                card: service.present(pan: alicePAN),
                dispensed: nil,
                ip: nil
            )
            #expect(reversal.code == .approved)
            #expect(reversal.reversedAmount == 10_000)
            #expect(try await bank.balance("CP0000000001") == 250_000)
            #expect(try await bank.balance("CASHATM00001") == 0)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.history") == linesBefore + 2)
        }
    }

    @Test("partial reversal reverses only what was not dispensed; a repeat changes nothing")
    func partialReversal() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            let keys = KeyMaker()
            let original = keys.next(time: "1125093112")
            _ = try await service.perform(
                .withdrawal(amount: 10_000, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: original,
                ip: nil
            )
            let advice = keys.next(time: "1125093205")
            let first = try await service.reverse(
                key: advice,
                originalSTAN: original.stan,
                originalTransmitted: original.transmitted,
                kind: .withdrawal,
                originalAmount: 10_000,
                card: service.present(pan: alicePAN),
                dispensed: 6_000,
                ip: nil
            )
            #expect(first.code == .approved)
            #expect(first.reversedAmount == 4_000)
            #expect(try await bank.balance("CP0000000001") == 244_000)
            // 0421: the same advice again.
            let repeated = try await service.reverse(
                key: advice,
                originalSTAN: original.stan,
                originalTransmitted: original.transmitted,
                kind: .withdrawal,
                originalAmount: 10_000,
                card: service.present(pan: alicePAN),
                dispensed: 6_000,
                ip: nil
            )
            #expect(repeated.code == .approved)
            #expect(repeated.replayed)
            #expect(repeated.reversedAmount == 4_000)
            // Another advice for the same original: same answer, nothing moves.
            let another = try await service.reverse(
                key: keys.next(time: "1125093300"),
                originalSTAN: original.stan,
                originalTransmitted: original.transmitted,
                kind: .withdrawal,
                originalAmount: 10_000,
                card: service.present(pan: alicePAN),
                dispensed: nil,
                ip: nil
            )
            #expect(another.replayed)
            #expect(another.transactionID == first.transactionID)
            #expect(try await bank.balance("CP0000000001") == 244_000)
        }
    }

    @Test("a reversal of an unknown or refused original is acknowledged, audited, and moves nothing; the unknown one arriving later gets 68")
    func reversalOfNothing() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            let holder = try await self.alice(service)
            let keys = KeyMaker()
            let unknown = try await service.reverse(
                key: keys.next(),
                originalSTAN: "999999",
                originalTransmitted: "1125000000",
                kind: .withdrawal,
                originalAmount: 100,
                card: service.present(pan: alicePAN),
                dispensed: nil,
                ip: nil
            )
            #expect(unknown.code == .approved)
            #expect(unknown.reversedAmount == 0)
            let refusedKey = keys.next()
            let refused = try await service.perform(
                .withdrawal(amount: 999_999_00, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: refusedKey,
                ip: nil
            )
            #expect(refused.code == .insufficientFunds)
            let reversal = try await service.reverse(
                key: keys.next(),
                originalSTAN: refusedKey.stan,
                originalTransmitted: refusedKey.transmitted,
                kind: .withdrawal,
                originalAmount: 999_999_00,
                card: service.present(pan: alicePAN),
                dispensed: nil,
                ip: nil
            )
            #expect(reversal.code == .approved)
            #expect(reversal.reversedAmount == 0)
            #expect(try await bank.balance("CP0000000001") == 250_000)
            // The unknown original's key is claimed (0013): should it come after all, it posts nothing.
            #expect(
                try await bank.count(
                    "SELECT count(*)::int FROM bank.audit_logs WHERE action = 'reversal' AND details->>'voided' = 'true'"
                ) == 1
            )
            let late = try await service.perform(
                .withdrawal(amount: 100, account: nil),
                for: holder,
                card: service.present(pan: alicePAN),
                key: IdempotencyKey(terminal: keys.terminal, stan: "999999", transmitted: "1125000000"),
                ip: nil
            )
            #expect(late.code == .reversedBeforeArrival)
            #expect(try await bank.balance("CP0000000001") == 250_000)
        }
    }

    @Test("a teller deposits and withdraws at the desk on a customer's behalf, against the drawer")
    func tellerDesk() async throws {
        try await TestBank.with(fixture: try demoFixture()) { bank, service in
            guard
                case .approved(let teller) = try await service.loginStaff(
                    userName: "tina.teller",
                    password: "teller-test-password",
                    oneTimeCode: StaffCodes.next("tina.teller", scope: service.codeScope),
                    device: "BRANCH01",
                    ip: nil
                )
            else {
                throw TestFailure("teller login refused")
            }
            let desk = KeyMaker(terminal: "BRANCH01")
            #expect(
                try await service.perform(
                    .deposit(account: "CP0000000003", amount: 7_000),
                    by: teller,
                    key: desk.next(),
                    ip: nil
                ).code == .approved
            )
            #expect(
                try await service.perform(
                    .withdrawal(account: "CP0000000003", amount: 2_000),
                    by: teller,
                    key: desk.next(),
                    ip: nil
                ).code == .approved
            )
            #expect(try await bank.balance("CP0000000003") == 85_000)
            #expect(try await bank.balance("DRAWERBRANCH01") == -5_000)
        }
    }
}
