/// Which postings go to the database together: the posting service's pure core (no I/O, no clock).
///
/// Natural batching: a posting that arrives while fewer than `maxInFlight` batches are at the database
/// starts one at once (a batch of one on an idle switch); postings that arrive while the database is
/// busy wait, and each batch that ends takes the waiting ones with it. No timer holds a posting back.
///
/// A batch never holds two postings that touch one thing (an account, a terminal, a card: `keys`): the
/// database checks each posting of a batch against the balance before the batch. A waiting posting
/// that shares a key with one taken into the batch waits for the next batch, and so does every later
/// posting that shares a key with it: postings on one account keep their order of arrival.
public struct PostingBatches: Sendable {
    public typealias Member = UInt64

    public enum Action: Equatable, Sendable {
        /// Send these postings to the database as one batch; report `finished` when it has answered.
        case start([Member])
        case none
    }

    public let maxInFlight: Int
    public let maxSize: Int
    public private(set) var inFlight = 0
    private var waiting: [(member: Member, keys: [String])] = []

    public init(maxInFlight: Int, maxSize: Int) {
        precondition(maxInFlight >= 1 && maxSize >= 1)
        self.maxInFlight = maxInFlight
        self.maxSize = maxSize
    }

    public var waitingCount: Int { self.waiting.count }

    /// A posting arrives, with the keys of what it touches.
    public mutating func submitted(_ member: Member, keys: [String]) -> Action {
        self.waiting.append((member, keys))
        return self.next()
    }

    /// A batch the database has answered (or failed: its members are then posted alone).
    public mutating func finished() -> Action {
        precondition(self.inFlight > 0, "a batch finished that had not started")
        self.inFlight -= 1
        return self.next()
    }

    /// A waiting posting whose caller gave up (its request's deadline): true when it was still waiting
    /// and is now gone; false when it is in a batch already (its answer comes with the batch) or unknown.
    public mutating func withdrawn(_ member: Member) -> Bool {
        guard let index = self.waiting.firstIndex(where: { $0.member == member }) else { return false }
        self.waiting.remove(at: index)
        return true
    }

    private mutating func next() -> Action {
        guard self.inFlight < self.maxInFlight, !self.waiting.isEmpty else { return .none }
        var claimed: Set<String> = []
        var batch: [Member] = []
        var left: [(member: Member, keys: [String])] = []
        for posting in self.waiting {
            let free = batch.count < self.maxSize && posting.keys.allSatisfy { !claimed.contains($0) }
            claimed.formUnion(posting.keys)
            if free {
                batch.append(posting.member)
            } else {
                left.append(posting)
            }
        }
        self.waiting = left
        self.inFlight += 1
        return .start(batch)
    }
}
