import CashpointBank
import CashpointTestSupport
import Foundation
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@testable import CashpointStore

/// Batched postings (bank.post_batch): a batch answers every posting exactly as bank.post answers it
/// alone, and a batch that fails is split, each member posted alone.
@Suite("batched postings: one transaction, each posting's own answer", .serialized, .enabled(if: databaseTestsEnabled))
struct PostingBatchTests {
    /// The demo bank with four more ATMs: a batch holds one posting per terminal.
    static func fixture() throws -> BankFixture {
        var fixture = try demoFixture()
        for n in 3...6 {
            fixture.terminals.append(
                .init(id: "ATM0000\(n)", kind: "atm", location: "Test \(n)", cashAccount: "CASHATM0000\(n)", masterKey: nil)
            )
        }
        return fixture
    }

    struct Card {
        var pan: String
        var record: CardRecord
    }

    static func card(_ pan: String, _ service: Bank) async throws -> Card {
        let record = try #require(try await service.store.card(panDigest: service.present(pan: pan).digest))
        return Card(pan: pan, record: record)
    }

    static func posting(
        _ kind: PostingKind,
        _ card: Card,
        terminal: String,
        stan: String,
        amount: Int64,
        from: String? = nil,
        to: String? = nil,
        pan: String? = nil,
        digest: UInt8 = 1,
        service: Bank
    ) -> BatchedPosting {
        BatchedPosting(
            kind: kind,
            actor: ActorContext(role: .customer, userID: card.record.userID, name: "card test", device: terminal, ip: "10.0.0.9"),
            cardID: card.record.cardID,
            key: IdempotencyKey(terminal: terminal, stan: stan, transmitted: "1207120000"),
            digest: [digest],
            amount: amount,
            from: from,
            to: to,
            session: CardSessionKey(panDigest: service.present(pan: pan ?? card.pan).digest, sessionID: "session-\(stan)")
        )
    }

    /// Every kind of answer: approved, refused for funds, a deposit, a card not linked to the account,
    /// a customer whose identity is not verified (hugo: 1K), a session whose card is not the one its PAN
    /// names, an unknown terminal.
    static func firstBatch(_ service: Bank) async throws -> [BatchedPosting] {
        let alice = try await Self.card(alicePAN, service)
        let bob = try await Self.card(bobPAN, service)
        let carol = try await Self.card(carolPAN, service)
        let pat = try await Self.card("4761739001010556", service)
        let hugo = try await Self.card("4761739001010663", service)
        return [
            Self.posting(.withdrawal, alice, terminal: "ATM00001", stan: "000001", amount: 20_000, from: "CP0000000001", service: service),
            Self.posting(.withdrawal, bob, terminal: "ATM00002", stan: "000001", amount: 90_000, from: "CP0000000003", service: service),
            Self.posting(.deposit, carol, terminal: "ATM00003", stan: "000001", amount: 1_000, to: "CP0000000004", service: service),
            Self.posting(.transfer, pat, terminal: "ATM00004", stan: "000001", amount: 500, from: "CP0000000005", to: "CP0000000099", service: service),
            Self.posting(.withdrawal, hugo, terminal: "ATM00005", stan: "000001", amount: 100_001, from: "CP0000000006", service: service),
            Self.posting(.withdrawal, hugo, terminal: "ATM00006", stan: "000001", amount: 100, from: "CP0000000009", pan: bobPAN, service: service),
            Self.posting(.withdrawal, alice, terminal: "NOSUCH01", stan: "000001", amount: 100, from: "CP0000000002", service: service),
        ]
    }

    /// The first batch's first posting again (a repeat: the stored answer), and its second's key with
    /// other content (94).
    static func secondBatch(_ first: [BatchedPosting]) -> [BatchedPosting] {
        var repeated = first[0]
        repeated.actor.name = "card test again"
        var other = first[1]
        other.digest = [2]
        return [repeated, other]
    }

    /// What bank.post answers, comparable across two banks (the ids and authorisation codes differ).
    enum Answer: Equatable, CustomStringConvertible {
        case posted(ResponseCode, balance: Int64?, replayed: Bool, authorised: Bool)
        case refused(CardSessionState)
        var description: String {
            switch self {
            case .posted(let code, let balance, let replayed, let authorised):
                "\(code.rawValue) balance \(balance.map(String.init) ?? "-") replayed \(replayed) auth \(authorised)"
            case .refused(let state): "refused \(state)"
            }
        }
    }

    static func answer(_ answer: BatchedAnswer) -> Answer {
        switch answer {
        case .posted(let result):
            .posted(result.code, balance: result.balanceAfter, replayed: result.replayed, authorised: result.authCode != nil)
        case .refused(let refused): .refused(refused.state)
        }
    }

    static func alone(_ posting: BatchedPosting, _ store: BankStore) async throws -> Answer {
        do {
            let result = try await store.post(
                posting.kind,
                actor: posting.actor,
                cardID: posting.cardID,
                key: posting.key,
                digest: posting.digest,
                amount: posting.amount,
                from: posting.from,
                to: posting.to,
                session: posting.session
            )
            return Self.answer(.posted(result))
        } catch let refused as CardSessionRefused {
            return .refused(refused.state)
        }
    }

    static let ledgerQuery = """
        SELECT string_agg(account_no || '=' || balance || '/' || line_count || '/' || withdrawn_today || '/' || withdrawals_today, ' ' ORDER BY account_no)
        FROM bank.accounts
        """

    static func ledger(_ bank: TestBank) async throws -> String {
        try await bank.asSuperuser { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: Self.ledgerQuery), logger: quietLogger)
            for try await text in rows.decode(String.self) { return text }
            return ""
        }
    }

    static let countsQuery = """
        SELECT (SELECT count(*) FROM bank.transactions)::text || ' transactions, '
            || (SELECT count(*) FROM bank.history)::text || ' lines, '
            || (SELECT count(*) FROM bank.audit_logs WHERE action IN ('withdrawal', 'deposit', 'transfer'))::text || ' audited'
        """

    static func counts(_ bank: TestBank) async throws -> String {
        try await bank.asSuperuser { connection in
            let rows = try await connection.query(PostgresQuery(unsafeSQL: Self.countsQuery), logger: quietLogger)
            for try await text in rows.decode(String.self) { return text }
            return ""
        }
    }

    @Test("a batch answers each posting as bank.post alone, and leaves the same ledger")
    func sameAsAlone() async throws {
        let alone = try await TestBank.with(fixture: try Self.fixture()) { bank, service in
            let first = try await Self.firstBatch(service)
            var answers: [Answer] = []
            for posting in first + Self.secondBatch(first) { answers.append(try await Self.alone(posting, service.store)) }
            return (answers, try await Self.ledger(bank), try await Self.counts(bank))
        }
        let batched = try await TestBank.with(fixture: try Self.fixture()) { bank, service in
            let first = try await Self.firstBatch(service)
            var answers = try await service.store.postBatch(first).map(Self.answer)
            answers += try await service.store.postBatch(Self.secondBatch(first)).map(Self.answer)
            return (answers, try await Self.ledger(bank), try await Self.counts(bank))
        }
        #expect(batched.0 == alone.0)
        #expect(batched.1 == alone.1)
        #expect(batched.2 == alone.2)
        // The answers are the ones each case is there for.
        let codes = alone.0.map { answer -> String in
            if case .posted(let code, _, _, _) = answer { return code.rawValue }
            return "refused"
        }
        #expect(codes == ["00", "51", "00", "57", "1K", "refused", "58", "00", "94"])
        #expect(alone.0[7] == .posted(.approved, balance: 230_000, replayed: true, authorised: true))
    }

    @Test("the batch's context (0032): row-level security shows it the bank's accounts and its customers', no other's")
    func batchContext() async throws {
        try await TestBank.with(fixture: try Self.fixture()) { bank, service in
            let alice = try await Self.card(alicePAN, service)
            let bob = try await Self.card(bobPAN, service)
            let users = "\(alice.record.userID),\(bob.record.userID)"
            let seen = try await bank.asSuperuser { connection in
                try await connection.query("BEGIN", logger: quietLogger)
                try await connection.query("SET LOCAL ROLE cashpoint_owner", logger: quietLogger)
                try await connection.query(
                    "SELECT set_config('cashpoint.role', 'customers', true), set_config('cashpoint.user_ids', \(users), true)",
                    logger: quietLogger
                )
                let rows = try await connection.query(
                    """
                    SELECT (SELECT string_agg(account_no, ' ' ORDER BY account_no) FROM bank.accounts WHERE kind = 'customer'),
                        (SELECT count(*) FROM bank.accounts WHERE kind <> 'customer')::int,
                        (SELECT count(*) FROM bank.cards)::int
                    """,
                    logger: quietLogger
                )
                var seen: (String, Int, Int)?
                for try await row in rows.decode((String, Int, Int).self) { seen = row }
                try await connection.query("ROLLBACK", logger: quietLogger)
                return try #require(seen)
            }
            #expect(seen.0 == "CP0000000001 CP0000000002 CP0000000003")
            #expect(seen.1 >= 6)  // every terminal's cash, the drawer, the vault, equity
            #expect(seen.2 == 2)
        }
    }

    @Test("a batch with two postings on one account is refused whole (CPBAT) and nothing is posted")
    func sharedAccountRefused() async throws {
        try await TestBank.with(fixture: try Self.fixture()) { bank, service in
            let alice = try await Self.card(alicePAN, service)
            let one = Self.posting(.withdrawal, alice, terminal: "ATM00001", stan: "000001", amount: 1_000, from: "CP0000000001", service: service)
            let two = Self.posting(.withdrawal, alice, terminal: "ATM00002", stan: "000001", amount: 1_000, from: "CP0000000001", service: service)
            let before = try await bank.count("SELECT count(*)::int FROM bank.transactions")
            await #expect {
                try await service.store.postBatch([one, two])
            } throws: { error in
                (error as? StoreError)?.sqlState == "CPBAT"
            }
            #expect(try await bank.balance("CP0000000001") == 250_000)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.transactions") == before)
        }
    }

    /// A store whose card-session postings go through a posting service of one batch at a time, and
    /// what the service does.
    static func batching(_ store: BankStore, patience: Duration) -> (BankStore, AsyncStream<PostingService.Event>) {
        let (events, sink) = AsyncStream.makeStream(of: PostingService.Event.self)
        var batching = store
        batching.postings = PostingService(store: store, maxInFlight: 1, maxSize: 8, patience: patience) { sink.yield($0) }
        return (batching, events)
    }

    /// Alice's withdrawal at ATM00001, bob's at ATM00002, carol's deposit at ATM00003 (its STAN given).
    static func threePostings(
        _ service: Bank,
        thirdSTAN: String
    ) async throws -> (BatchedPosting, BatchedPosting, BatchedPosting) {
        let alice = try await Self.card(alicePAN, service)
        let bob = try await Self.card(bobPAN, service)
        let carol = try await Self.card(carolPAN, service)
        return (
            Self.posting(.withdrawal, alice, terminal: "ATM00001", stan: "000001", amount: 1_000, from: "CP0000000001", service: service),
            Self.posting(.withdrawal, bob, terminal: "ATM00002", stan: "000001", amount: 2_000, from: "CP0000000003", service: service),
            Self.posting(.deposit, carol, terminal: "ATM00003", stan: thirdSTAN, amount: 3_000, to: "CP0000000004", service: service)
        )
    }

    @Test("a batch that fails is split: its members are posted alone, and only the one at fault fails")
    func split() async throws {
        try await TestBank.with(fixture: try Self.fixture()) { bank, service in
            let (store, events) = Self.batching(service.store, patience: .seconds(8))
            // Not a STAN (six characters): the batch's statement fails on bank.stan; alone, only this posting.
            let (first, good, bad) = try await Self.threePostings(service, thirdSTAN: "12345")
            let before = try await bank.count("SELECT count(*)::int FROM bank.transactions")
            try await bank.asSuperuser { holder in
                var seen = events.makeAsyncIterator()
                var event: PostingService.Event?
                // The first batch waits for alice's account, so the next two wait for it and go together.
                try await holder.query("BEGIN", logger: quietLogger)
                try await holder.query("SELECT 1 FROM bank.accounts WHERE account_no = 'CP0000000001' FOR UPDATE", logger: quietLogger)
                async let firstAnswer = Self.alone(first, store)
                event = await seen.next()
                #expect(event == .started(size: 1))
                async let goodAnswer = Self.alone(good, store)
                event = await seen.next()
                #expect(event == .waiting(1))
                async let badAnswer: Result<Answer, any Error> = {
                    do { return .success(try await Self.alone(bad, store)) } catch { return .failure(error) }
                }()
                event = await seen.next()
                #expect(event == .waiting(2))
                try await holder.query("COMMIT", logger: quietLogger)
                event = await seen.next()
                #expect(event == .answered(size: 1))
                event = await seen.next()
                #expect(event == .started(size: 2))
                event = await seen.next()
                #expect(event == .split(size: 2))
                #expect(try await firstAnswer == .posted(.approved, balance: 249_000, replayed: false, authorised: true))
                #expect(try await goodAnswer == .posted(.approved, balance: 78_000, replayed: false, authorised: true))
                switch await badAnswer {
                case .success(let answer): Issue.record("the bad posting was answered: \(answer)")
                case .failure(let error): #expect((error as? StoreError)?.kind == .invalidValue)
                }
            }
            #expect(try await bank.balance("CP0000000003") == 78_000)
            #expect(try await bank.balance("CP0000000004") == 5_000)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.transactions") == before + 2)
        }
    }

    @Test("a batch that takes longer than the service's patience gives its place up: its members are posted alone, each once")
    func patience() async throws {
        try await TestBank.with(fixture: try Self.fixture()) { bank, service in
            let (store, events) = Self.batching(service.store, patience: .milliseconds(300))
            let (first, held, other) = try await Self.threePostings(service, thirdSTAN: "000001")
            let before = try await bank.count("SELECT count(*)::int FROM bank.transactions")
            try await bank.asSuperuser { aliceHolder in
                try await bank.asSuperuser { bobHolder in
                    var seen = events.makeAsyncIterator()
                    var event: PostingService.Event?
                    for (holder, account) in [(aliceHolder, "CP0000000001"), (bobHolder, "CP0000000003")] {
                        try await holder.query("BEGIN", logger: quietLogger)
                        try await holder.query(
                            "SELECT 1 FROM bank.accounts WHERE account_no = \(account) FOR UPDATE",
                            logger: quietLogger
                        )
                    }
                    async let firstAnswer = Self.alone(first, store)
                    event = await seen.next()
                    #expect(event == .started(size: 1))
                    async let heldAnswer = Self.alone(held, store)
                    event = await seen.next()
                    #expect(event == .waiting(1))
                    async let otherAnswer = Self.alone(other, store)
                    event = await seen.next()
                    #expect(event == .waiting(2))
                    try await aliceHolder.query("COMMIT", logger: quietLogger)
                    event = await seen.next()
                    #expect(event == .answered(size: 1))
                    event = await seen.next()
                    #expect(event == .started(size: 2))
                    // The batch waits for bob's account past its patience: given up, its members go alone.
                    event = await seen.next()
                    #expect(event == .split(size: 2))
                    try await bobHolder.query("COMMIT", logger: quietLogger)
                    let answers = [try await firstAnswer, try await heldAnswer, try await otherAnswer]
                    for answer in answers {
                        guard case .posted(let code, _, _, _) = answer else {
                            Issue.record("not posted: \(answer)")
                            continue
                        }
                        #expect(code == .approved)
                    }
                }
            }
            #expect(try await bank.balance("CP0000000001") == 249_000)
            #expect(try await bank.balance("CP0000000003") == 78_000)
            #expect(try await bank.balance("CP0000000004") == 8_000)
            #expect(try await bank.count("SELECT count(*)::int FROM bank.transactions") == before + 3)
        }
    }
}
