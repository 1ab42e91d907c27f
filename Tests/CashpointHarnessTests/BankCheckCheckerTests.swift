import CashpointBank
import CashpointHarness
import Foundation
import Testing

/// The bank check's checker fed histories and ledgers by hand: a clean run passes; an acknowledged
/// transfer missing, one doubled, a refused one posted, a request in doubt left posted, a total that
/// moved and a negative balance are each named.
@Suite struct BankCheckCheckerTests {
    static let terminal = "LOAD0001"
    static let (current, savings, cash, equity) = ("LC0000000001", "LS0000000001", "CASHLOAD0001", "LOADEQUITY")

    static func key(_ stan: Int) -> BankCheckKey {
        BankCheckKey(
            terminal: Self.terminal,
            stan: String(format: "%06d", stan),
            transmitted: "1201120000"
        )
    }

    static func transfer(_ stan: Int, _ amount: Int64, _ outcome: BankCheckOutcome) -> BankCheckRequest {
        BankCheckRequest(
            key: Self.key(stan),
            operation: BankCheckOperation(.transfer, amount: amount, from: Self.current, to: Self.savings),
            outcome: outcome
        )
    }

    /// The row a posted transfer leaves.
    static func transferRow(id: Int64, _ stan: Int, _ amount: Int64) -> BankCheckLedgerRow {
        BankCheckLedgerRow(
            id: id,
            key: Self.key(stan),
            kind: "transfer",
            amount: amount,
            responseCode: "00",
            lines: [.init(account: Self.current, amount: -amount), .init(account: Self.savings, amount: amount)]
        )
    }

    static func snapshot(current: Int64, savings: Int64) -> BankCheckSnapshot {
        BankCheckSnapshot([
            BankCheckBalance(account: Self.current, isCustomer: true, balance: current),
            BankCheckBalance(account: Self.savings, isCustomer: true, balance: savings),
            BankCheckBalance(account: Self.cash, isCustomer: false, balance: 0),
            BankCheckBalance(account: Self.equity, isCustomer: false, balance: -(current + savings)),
        ])
    }

    /// Three acknowledged transfers of 100, 200 and 300 and a refused one of 5,000, from 1,000 and 0.
    static let history: [BankCheckRequest] = [
        Self.transfer(1, 100, .acknowledged),
        Self.transfer(2, 200, .acknowledged),
        Self.transfer(3, 300, .acknowledged),
        Self.transfer(4, 5_000, .refused(code: "51")),
    ]
    static let cleanLedger: [BankCheckLedgerRow] = [
        Self.transferRow(id: 11, 1, 100),
        Self.transferRow(id: 12, 2, 200),
        Self.transferRow(id: 13, 3, 300),
        BankCheckLedgerRow(id: 14, key: Self.key(4), kind: "transfer", amount: 5_000, responseCode: "51", lines: []),
    ]
    static let opening = Self.snapshot(current: 1_000, savings: 0)

    @Test func aCleanHistoryPasses() {
        let verdict = BankCheckChecker.check(
            requests: Self.history,
            ledger: Self.cleanLedger,
            opening: Self.opening,
            reads: [Self.snapshot(current: 900, savings: 100)],
            final: Self.snapshot(current: 400, savings: 600)
        )
        #expect(verdict.findings == [])
        #expect(verdict.passed)
    }

    @Test func aMissingADoubledAndAPostedRefusalAreEachNamed() {
        // Transfer 1 is lost; transfer 2 is in twice; the refused transfer 4 was posted.
        var ledger = Self.cleanLedger.filter { $0.id != 11 && $0.id != 14 }
        ledger.append(Self.transferRow(id: 15, 2, 200))
        var refusedPosted = Self.transferRow(id: 14, 4, 5_000)
        refusedPosted.responseCode = "51"
        ledger.append(refusedPosted)
        let verdict = BankCheckChecker.check(
            requests: Self.history,
            ledger: ledger,
            opening: Self.opening,
            reads: [],
            final: Self.snapshot(current: 300, savings: 700)
        )
        #expect(verdict.findings.contains(.acknowledgedMissing(Self.key(1))))
        #expect(verdict.findings.contains(.acknowledgedDoubled(Self.key(2), rows: 2)))
        #expect(verdict.findings.contains(.refusedPosted(Self.key(4), code: "51")))
        #expect(!verdict.passed)
    }

    @Test func anAcknowledgedTransferLostWhileTheTotalIsKeptIsSeenInTheBalances() {
        // The row is there but the end balances say it never moved: only the model sees it.
        let verdict = BankCheckChecker.check(
            requests: Self.history,
            ledger: Self.cleanLedger,
            opening: Self.opening,
            reads: [],
            final: Self.snapshot(current: 500, savings: 500)
        )
        #expect(
            verdict.findings == [
                .balanceDiffers(account: Self.current, expected: 400, found: 500),
                .balanceDiffers(account: Self.savings, expected: 600, found: 500),
            ]
        )
    }

    @Test func anAcknowledgedTransferPostedForAnotherAmountIsNamed() {
        var ledger = Self.cleanLedger
        ledger[0] = Self.transferRow(id: 11, 1, 150)
        let verdict = BankCheckChecker.check(
            requests: Self.history,
            ledger: ledger,
            opening: Self.opening,
            reads: [],
            final: Self.snapshot(current: 350, savings: 650)
        )
        #expect(verdict.findings.contains(.acknowledgedWrong(Self.key(1), "its row is for 150, not 100")))
    }

    /// Four requests in doubt, each settled another way, all reversed with an acknowledged advice.
    @Test func requestsInDoubtAreSettledAndTheReportSaysHow() {
        func doubtful(_ stan: Int, reversal: Int) -> BankCheckRequest {
            var request = Self.transfer(stan, 50, .inDoubt(.connectionLost))
            request.reversal = BankCheckReversal(key: Self.key(reversal), answer: "00")
            return request
        }
        let requests = [doubtful(21, reversal: 31), doubtful(22, reversal: 32), doubtful(23, reversal: 33),
            doubtful(24, reversal: 34)]
        let ledger: [BankCheckLedgerRow] = [
            // 21 never arrived: nothing but the advice's own row.
            BankCheckLedgerRow(id: 1, key: Self.key(31), kind: "reversal", amount: 0, responseCode: "00", lines: []),
            // 22's reversal came first and claimed its key.
            BankCheckLedgerRow(id: 2, key: Self.key(22), kind: "voided", amount: 0, responseCode: "68", lines: []),
            BankCheckLedgerRow(
                id: 3, key: Self.key(32), kind: "reversal", amount: 0, responseCode: "00", originalID: 2, lines: []),
            // 23 was refused.
            BankCheckLedgerRow(id: 4, key: Self.key(23), kind: "transfer", amount: 50, responseCode: "51", lines: []),
            // 24 was posted and reversed.
            Self.transferRow(id: 5, 24, 50),
            BankCheckLedgerRow(
                id: 6, key: Self.key(34), kind: "reversal", amount: 50, responseCode: "00", originalID: 5,
                lines: [.init(account: Self.current, amount: 50), .init(account: Self.savings, amount: -50)]
            ),
        ]
        let verdict = BankCheckChecker.check(
            requests: requests,
            ledger: ledger,
            opening: Self.opening,
            reads: [Self.snapshot(current: 950, savings: 50)],
            final: Self.opening
        )
        #expect(verdict.findings == [])
        #expect(verdict.settlements[Self.key(21)] == .absent)
        #expect(verdict.settlements[Self.key(22)] == .voided)
        #expect(verdict.settlements[Self.key(23)] == .refused)
        #expect(verdict.settlements[Self.key(24)] == .postedAndReversed)
    }

    /// A deposit in doubt whose money was spent before its reversal came: the reversal is refused (51),
    /// the deposit stands, present once, and the model counts it.
    @Test func aDepositInDoubtWhoseReversalWasRefusedStands() {
        var deposit = BankCheckRequest(
            key: Self.key(41),
            operation: BankCheckOperation(.deposit, amount: 300, to: Self.current),
            outcome: .inDoubt(.connectionLost)
        )
        deposit.reversal = BankCheckReversal(key: Self.key(42), answer: "51")
        let row = BankCheckLedgerRow(
            id: 1, key: Self.key(41), kind: "deposit", amount: 300, responseCode: "00",
            lines: [.init(account: Self.current, amount: 300), .init(account: Self.cash, amount: -300)]
        )
        let refusal = BankCheckLedgerRow(
            id: 2, key: Self.key(42), kind: "reversal", amount: 300, responseCode: "51", originalID: 1, lines: []
        )
        var final = Self.snapshot(current: 1_300, savings: 0)
        final.balances[2].balance = -300
        final.balances[3].balance = -1_000
        let verdict = BankCheckChecker.check(
            requests: [deposit],
            ledger: [row, refusal],
            opening: Self.opening,
            reads: [],
            final: final
        )
        #expect(verdict.findings == [])
        #expect(verdict.settlements[Self.key(41)] == .postedReversalRefused)
    }

    @Test func aRequestInDoubtLeftPostedOrNeverSettledIsNamed() {
        var reversedButPosted = Self.transfer(21, 50, .inDoubt(.noAnswer))
        reversedButPosted.reversal = BankCheckReversal(key: Self.key(31), answer: "00")
        var neverSettled = Self.transfer(22, 50, .inDoubt(.issuerInoperative))
        neverSettled.reversal = BankCheckReversal(key: Self.key(32), answer: nil, attempts: 5)
        let verdict = BankCheckChecker.check(
            requests: [reversedButPosted, neverSettled],
            ledger: [Self.transferRow(id: 1, 21, 50)],
            opening: Self.opening,
            reads: [],
            final: Self.snapshot(current: 950, savings: 50)
        )
        #expect(verdict.findings.contains(.inDoubtNotReversed(Self.key(21))))
        #expect(verdict.findings.contains(.inDoubtUnsettled(Self.key(22))))
        #expect(verdict.settlements[Self.key(21)] == .postedNotReversed)
        #expect(verdict.settlements[Self.key(22)] == .unsettled)
    }

    @Test func aTotalThatMovedANegativeBalanceAndARowNobodyAskedForAreNamed() {
        var skewed = Self.snapshot(current: 900, savings: 100)
        skewed.balances[3].balance += 1
        let negative = Self.snapshot(current: -100, savings: 1_100)
        let stranger = Self.transferRow(id: 99, 77, 10)
        let verdict = BankCheckChecker.check(
            requests: Self.history,
            ledger: Self.cleanLedger + [stranger],
            opening: Self.opening,
            reads: [skewed, negative],
            final: Self.snapshot(current: 400, savings: 600)
        )
        #expect(verdict.findings.contains(.totalChanged(read: 1, expected: 0, found: 1)))
        #expect(verdict.findings.contains(.negativeBalance(read: 2, account: Self.current, balance: -100)))
        #expect(verdict.findings.contains(.unexplainedRow(id: 99, Self.key(77))))
    }

    @Test(arguments: [("00", BankCheckOutcome.acknowledged), ("51", .refused(code: "51")),
        ("68", .refused(code: "68")), ("91", .inDoubt(.issuerInoperative)), ("96", .inDoubt(.systemMalfunction))])
    func responseCodesSortRequests(code: String, outcome: BankCheckOutcome) {
        #expect(BankCheckOutcome.of(responseCode: code) == outcome)
    }
}
