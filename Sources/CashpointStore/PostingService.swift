public import CashpointBank
import CashpointDatabase
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import Synchronization

/// A card session's posting, as the posting service batches it (`bank.post_batch`'s element).
public struct BatchedPosting: Sendable {
    public var kind: PostingKind
    public var actor: ActorContext
    public var cardID: Int64
    public var key: IdempotencyKey
    public var digest: [UInt8]
    public var amount: Int64
    public var from: String?
    public var to: String?
    public var session: CardSessionKey

    /// What the posting touches: a batch holds no two postings that share one of these.
    var keys: [String] {
        var keys = ["t" + self.key.terminal, "c\(self.cardID)"]
        if let from = self.from { keys.append("a" + from) }
        if let to = self.to { keys.append("a" + to) }
        return keys
    }
}

/// Card-session postings gathered into batches, each posted by one call in one transaction
/// (`bank.post_batch_committed`): the group commit of issue 23, section 2. `PostingBatches` decides
/// what goes together; this shell only runs its decisions. A member's answer is exactly what
/// `bank.post` would have answered it alone. A batch of one is posted by the caller's own single call
/// (`bank.post_committed`: at one posting the batch function's fixed work costs more than it shares),
/// holding the batch's place until it ends. A batch that fails in any way commits nothing, and each of
/// its members is posted alone: the caller's own keyed call, with its retries and recovery, so no
/// posting fails because of another.
public final class PostingService: Sendable {
    /// What a waiting posting is told: its batch's answer, or to post itself alone (holding a batch's
    /// place at the database when it is a batch of one).
    private enum Outcome: Sendable {
        case answered(BatchedAnswer)
        case alone(holdingPlace: Bool)
    }

    private struct Waiter {
        var posting: BatchedPosting
        var continuation: CheckedContinuation<Outcome, any Error>?
        var cancelled = false
    }

    private struct State {
        var core: PostingBatches
        var waiters: [UInt64: Waiter] = [:]
        var nextMember: UInt64 = 0
    }

    /// What the service did, for metrics and tests.
    public enum Event: Sendable, Hashable {
        /// A posting arrived and did not start a batch: this many wait.
        case waiting(Int)
        /// A batch went to the database (a batch of one: its posting's own call).
        case started(size: Int)
        /// A batch is done: every member answered (a batch of one: its call ended, however).
        case answered(size: Int)
        /// A batch failed: its members are posted alone.
        case split(size: Int)
    }

    private let store: BankStore
    private let state: Mutex<State>
    private let logger: Logger
    private let observe: @Sendable (Event) -> Void
    private let patience: Duration

    /// `patience`: how long a batch may take before its members are posted alone and its place is
    /// given to the next (a database that stopped answering, and a connection that does not know it
    /// yet, must not hold every later posting back); the switch gives its request deadline. A batch
    /// that commits after that is found by each member's key.
    public init(
        store: BankStore,
        maxInFlight: Int,
        maxSize: Int,
        patience: Duration = .seconds(8),
        observe: @escaping @Sendable (Event) -> Void = { _ in }
    ) {
        var store = store
        store.postings = nil
        self.store = store
        self.logger = store.logger
        self.observe = observe
        self.patience = patience
        self.state = Mutex(State(core: PostingBatches(maxInFlight: maxInFlight, maxSize: maxSize)))
    }

    /// The posting's answer from its batch, or from `alone` (the caller's own single call) when it is a
    /// batch of one or its batch failed. Cancelled while it waits for a batch, it leaves the queue
    /// (CancellationError); once in a batch its answer comes with the batch.
    public func post(
        _ posting: BatchedPosting,
        alone: () async throws -> PostingResult
    ) async throws -> PostingResult {
        switch try await self.outcome(posting) {
        case .answered(.posted(let result)):
            return result
        case .answered(.refused(let refused)):
            throw refused
        case .alone(holdingPlace: false):
            return try await alone()
        case .alone(holdingPlace: true):
            defer {
                self.observe(.answered(size: 1))
                let next = self.state.withLock { $0.core.finished() }
                self.perform(next)
            }
            return try await alone()
        }
    }

    private func outcome(_ posting: BatchedPosting) async throws -> Outcome {
        let member = self.state.withLock { state in
            state.nextMember &+= 1
            state.waiters[state.nextMember] = Waiter(posting: posting)
            return state.nextMember
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let submitted: (PostingBatches.Action, waiting: Int)? = self.state.withLock { state in
                    guard state.waiters[member]?.cancelled == false else {
                        state.waiters[member] = nil
                        return nil
                    }
                    state.waiters[member]?.continuation = continuation
                    let action = state.core.submitted(member, keys: posting.keys)
                    return (action, state.core.waitingCount)
                }
                guard let (action, waiting) = submitted else { return continuation.resume(throwing: CancellationError()) }
                if action == .none { self.observe(.waiting(waiting)) }
                self.perform(action)
            }
        } onCancel: {
            let continuation: CheckedContinuation<Outcome, any Error>?? = self.state.withLock { state in
                guard state.waiters[member] != nil else { return nil }
                guard state.waiters[member]?.continuation != nil else {
                    state.waiters[member]?.cancelled = true
                    return nil
                }
                guard state.core.withdrawn(member) else { return nil }
                return state.waiters.removeValue(forKey: member)?.continuation
            }
            if let continuation = continuation ?? nil { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Runs the core's decision. A batch runs in one task on the caller's event loop when it has one
    /// (`EventLoopExecutor.preferred`: no hop between Swift's pool and NIO's threads for its query), its
    /// patience on that loop's timer; whichever ends first, the answers or the patience, ends the batch.
    private func perform(_ action: PostingBatches.Action, on executor: EventLoopExecutor? = EventLoopExecutor.preferred) {
        guard case .start(let members) = action else { return }
        self.observe(.started(size: members.count))
        if members.count == 1 {
            let continuation = self.state.withLock { $0.waiters.removeValue(forKey: members[0])?.continuation }
            continuation?.resume(returning: .alone(holdingPlace: true))
            return
        }
        let batch = BatchInFlight(
            members: members,
            postings: self.state.withLock { state in members.compactMap { state.waiters[$0]?.posting } }
        )
        let loop = executor?.loop ?? MultiThreadedEventLoopGroup.singleton.any()
        let patience = loop.scheduleTask(in: TimeAmount(self.patience)) {
            if self.end(batch, answers: nil, executor: executor) {
                self.logger.warning(
                    "a batch of postings did not answer in time: each is posted alone",
                    metadata: ["postings": "\(batch.postings.count)"]
                )
            }
        }
        Task(executorPreference: executor) {
            do {
                _ = self.end(batch, answers: try await self.store.postBatch(batch.postings), executor: executor)
            } catch {
                self.logger.notice(
                    "a batch of postings failed: each is posted alone",
                    metadata: ["postings": "\(batch.postings.count)", "error": "\(String(reflecting: type(of: error)))"]
                )
                _ = self.end(batch, answers: nil, executor: executor)
            }
            patience.cancel()
        }
    }

    /// Ends the batch, the first time only (its answers, or nil: each member posts alone), and starts
    /// what the core says comes next. False when it had already ended.
    private func end(_ batch: BatchInFlight, answers: [BatchedAnswer]?, executor: EventLoopExecutor?) -> Bool {
        guard batch.claimEnd() else { return false }
        self.observe(answers == nil ? .split(size: batch.postings.count) : .answered(size: batch.postings.count))
        let (continuations, next) = self.state.withLock { state in
            let continuations = batch.members.map { state.waiters.removeValue(forKey: $0)?.continuation }
            return (continuations, state.core.finished())
        }
        for (index, continuation) in continuations.enumerated() {
            continuation?.resume(returning: answers.map { .answered($0[index]) } ?? .alone(holdingPlace: false))
        }
        self.perform(next, on: executor)
        return true
    }
}

/// A batch at the database: its members, their postings, and whether it has ended (by its answers or
/// its patience, whichever came first: the other finds it ended and does nothing).
private final class BatchInFlight: Sendable {
    let members: [UInt64]
    let postings: [BatchedPosting]
    private let ended = Mutex(false)

    init(members: [UInt64], postings: [BatchedPosting]) {
        self.members = members
        self.postings = postings
    }

    /// True the first time only.
    func claimEnd() -> Bool {
        self.ended.withLock { ended in
            defer { ended = true }
            return !ended
        }
    }
}

/// A batched posting's answer: the stored answer, or the facts of a card session that may not go on.
public enum BatchedAnswer: Sendable, Hashable {
    case posted(PostingResult)
    case refused(CardSessionRefused)
}

extension BankStore {
    /// Card-session postings in one transaction, confirmed by its commit (`CALL bank.post_batch_committed`):
    /// one answer per posting, in order. Any failure (a refused batch, CPBAT; a lost connection; an
    /// unexpected error) throws, and nothing of the batch was posted unless the commit landed unseen:
    /// then each member's own keyed call finds its stored answer.
    public func postBatch(_ postings: [BatchedPosting]) async throws -> [BatchedAnswer] {
        do {
            return try await self.postingBatch(PostBatchStatement(postings: postings))
        } catch let error as PSQLError {
            throw Self.storeError(error)
        }
    }

    private func postingBatch(_ statement: PostBatchStatement) async throws -> [BatchedAnswer] {
        let postings = statement.postings
        for try await row in try await self.client.execute(statement, logger: self.logger) {
            let (codes, transactions, balances, known, auths, replayed, cards, statuses, expired, locked, ended) = row
            guard [transactions.count, balances.count, known.count, auths.count, replayed.count, cards.count,
                statuses.count, expired.count, locked.count, ended.count, postings.count].allSatisfy({ $0 == codes.count })
            else {
                throw StoreError(kind: .unavailable, detail: "bank.post_batch answered \(codes.count) of \(postings.count)")
            }
            return codes.indices.map { index in
                guard !codes[index].isEmpty else {
                    return .refused(
                        Self.refused(
                            card: cards[index] == 0 ? nil : cards[index],
                            status: statuses[index].isEmpty ? nil : statuses[index],
                            expired: expired[index],
                            locked: locked[index],
                            ended: ended[index]
                        )
                    )
                }
                return .posted(
                    PostingResult(
                        code: ResponseCode(rawValue: codes[index]),
                        transactionID: transactions[index] == 0 ? nil : transactions[index],
                        balanceAfter: known[index] ? balances[index] : nil,
                        authCode: auths[index].isEmpty ? nil : auths[index],
                        replayed: replayed[index]
                    )
                )
            }
        }
        throw StoreError(kind: .unavailable, detail: "CALL bank.post_batch_committed returned no row")
    }
}

/// `bank.post_batch_committed` as a prepared statement: one array per column of the batch ('' for no
/// text: postgres-nio encodes no NULL element).
struct PostBatchStatement: PostgresPreparedStatement {
    static let sql = """
        CALL bank.post_batch_committed(
            $1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
            $9::bytea[], $10::text[], $11::bigint[], $12::text[], $13::text[], $14::bytea[], $15::text[])
        """
    typealias Row = (
        [String], [Int64], [Int64], [Bool], [String], [Bool], [Int64], [String], [Bool], [Bool], [Bool]
    )

    var postings: [BatchedPosting]

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 15)
        let postings = self.postings
        bindings.append(postings.map { $0.actor.userID ?? 0 })
        bindings.append(postings.map(\.cardID))
        bindings.append(postings.map(\.actor.name))
        bindings.append(postings.map { $0.actor.ip ?? "" })
        bindings.append(postings.map { $0.actor.device ?? "" })
        bindings.append(postings.map(\.key.terminal))
        bindings.append(postings.map(\.key.stan))
        bindings.append(postings.map(\.key.transmitted))
        bindings.append(postings.map { ByteBuffer(bytes: $0.digest) })
        bindings.append(postings.map(\.kind.rawValue))
        bindings.append(postings.map(\.amount))
        bindings.append(postings.map { $0.from ?? "" })
        bindings.append(postings.map { $0.to ?? "" })
        bindings.append(postings.map { ByteBuffer(bytes: $0.session.panDigest) })
        bindings.append(postings.map(\.session.sessionID))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
