import CashpointBank
import CashpointSecurity
import CashpointStore
import CashpointTestSupport
import Foundation
import PostgresNIO
import Testing

@Suite("bank: concurrent postings", .serialized, .enabled(if: databaseTestsEnabled))
struct ConcurrencyTests {
    /// A count, not a time: the test proves the invariants over a known amount of work on any machine.
    static let requestsPerTask = 40

    /// Ten customers, each with one account and a card, generous limits.
    static func fixture() throws -> BankFixture {
        var fixture = try demoFixture()
        fixture.customers = (1...10).map { number in
            let account = String(format: "CC%010d", number)
            return BankFixture.Customer(
                userName: "load\(number)",
                fullName: "Load Customer \(number)",
                accounts: [
                    BankFixture.Account(
                        accountNo: account,
                        name: "Load \(number)",
                        opening: 1_000_000,
                        dailyLimit: 100_000_000,
                        dailyCount: 100_000
                    )
                ],
                cards: [
                    BankFixture.Card(
                        pan: String(format: "40000000%08d", number),
                        pin: "1234",
                        expiry: "2030-12-31",
                        accounts: [account]
                    )
                ]
            )
        }
        return fixture
    }

    @Test(
        "32 tasks, 40 random transfers or withdrawals each and withdrawals among 10 accounts: totals conserved, no negative balance, ledger and audit verify, no conflict reaches a caller"
    )
    func randomLoad() async throws {
        try await TestBank.with(fixture: try Self.fixture(), maximumConnections: 32) { bank, service in
            var holders: [CardHolder] = []
            for number in 1...10 {
                let pan = String(format: "40000000%08d", number)
                guard
                    case .approved(let holder) = try await service.authenticateCard(
                        service.present(pan: pan),
                        pin: "1234",
                        terminal: "ATM00001",
                        ip: nil
                    )
                else {
                    throw TestFailure("card \(number) refused")
                }
                holders.append(holder)
            }
            guard
                case .approved(let teller) = try await service.loginStaff(
                    userName: "tina.teller",
                    password: "teller-test-password",
                    oneTimeCode: StaffCodes.next("tina.teller", scope: service.codeScope),
                    device: "BRANCH01",
                    ip: nil
                )
            else {
                throw TestFailure("teller refused")
            }
            let customersBefore = try await bank.count(
                "SELECT sum(balance)::int FROM bank.accounts WHERE kind = 'customer'"
            )
            let cashBefore = try await bank.count(
                "SELECT coalesce(sum(balance), 0)::int FROM bank.accounts WHERE kind = 'terminal_cash'"
            )
            let sealer = AuditSealer(client: service.store.client, key: testAuditKey.key, logger: quietLogger)
            let holdersCopy = holders
            let totals = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
                group.addTask {
                    await sealer.run(every: .milliseconds(50))
                    return (0, 0, 0)
                }
                let totals = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { workers in
                    for worker in 0..<32 {
                        workers.addTask {
                            var generator = SystemRandomNumberGenerator()
                            var (approved, refused, withdrawn) = (0, 0, 0)
                            var stan = 0
                            let terminal = worker % 2 == 0 ? "ATM00001" : "ATM00002"
                            for _ in 0..<Self.requestsPerTask {
                                stan += 1
                                let key = IdempotencyKey(
                                    terminal: worker < 16 ? terminal : "BRANCH01",
                                    stan: String(format: "%06d", stan),
                                    transmitted: String(format: "11%08d", worker)
                                )
                                let amount = Int64.random(in: 1...20_000, using: &generator)
                                let answer: BankAnswer
                                if worker < 16 {
                                    let holder = holdersCopy.randomElement(using: &generator)!
                                    answer = try await service.perform(
                                        .withdrawal(amount: amount, account: nil),
                                        for: holder,
                                        card: service.present(pan: ""),
                                        key: key,
                                        ip: nil
                                    )
                                    if answer.code == .approved { withdrawn += Int(amount) }
                                } else {
                                    let from = holdersCopy.randomElement(using: &generator)!.accounts[0]
                                    var to = from
                                    while to == from { to = holdersCopy.randomElement(using: &generator)!.accounts[0] }
                                    answer = try await service.perform(
                                        .transfer(from: from, to: to, amount: amount),
                                        by: teller,
                                        key: key,
                                        ip: nil
                                    )
                                }
                                if answer.code == .approved {
                                    approved += 1
                                } else {
                                    #expect(answer.code == .insufficientFunds, "unexpected \(answer.code)")
                                    refused += 1
                                }
                            }
                            return (approved, refused, withdrawn)
                        }
                    }
                    return try await workers.reduce(into: (0, 0, 0)) { $0 = ($0.0 + $1.0, $0.1 + $1.1, $0.2 + $1.2) }
                }
                group.cancelAll()
                return totals
            }
            let (approved, refused, withdrawn) = totals
            try await sealer.sealAll()
            let customersAfter = try await bank.count(
                "SELECT sum(balance)::int FROM bank.accounts WHERE kind = 'customer'"
            )
            let cashAfter = try await bank.count(
                "SELECT coalesce(sum(balance), 0)::int FROM bank.accounts WHERE kind = 'terminal_cash'"
            )
            let total = try await bank.count("SELECT sum(balance)::int FROM bank.accounts")
            #expect(approved + refused == 32 * Self.requestsPerTask)
            #expect(approved > 100, "too little work to prove anything")
            // Money only left the customers as cash the terminals dispensed; the whole ledger sums to zero.
            #expect(customersBefore - customersAfter == withdrawn)
            #expect(cashAfter - cashBefore == withdrawn)
            #expect(total == 0)
            #expect(
                try await bank.count("SELECT count(*)::int FROM bank.accounts WHERE kind = 'customer' AND balance < 0")
                    == 0
            )
            let ledger = try await LedgerVerifier.verify(client: service.store.client, logger: quietLogger)
            #expect(ledger.isClean, "\(ledger.findings)")
            let audit = try await AuditVerifier.verify(
                client: service.store.client,
                key: testAuditKey.key,
                logger: quietLogger
            )
            #expect(audit.isClean, "\(audit.findings)")
            #expect(audit.pending == 0)
            print("concurrency: \(approved) approved, \(refused) refused (51) in 5 s by 32 tasks")
        }
    }
}
