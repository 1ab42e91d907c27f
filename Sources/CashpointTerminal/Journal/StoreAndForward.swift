import ATM87

/// How the store-and-forward sender retries.
public struct SAFPolicy: Sendable, Hashable {
    /// The wait before the first retry.
    public var firstRetry: Duration
    /// The longest wait between two attempts.
    public var maxDelay: Duration
    /// After this many attempts an entry is left for the operator (`atm-terminal saf`).
    public var maxAttempts: Int

    public init(firstRetry: Duration = .seconds(1), maxDelay: Duration = .seconds(60), maxAttempts: Int = 10) {
        self.firstRetry = firstRetry
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
    }
}

/// The store-and-forward queue's sender as a pure core: which entry goes next, and what an attempt's
/// outcome means for it. Times are Unix milliseconds passed in; jitter comes from a seeded generator,
/// so a run is reproduced from its seed. The shell keeps the entries (in SQLite) and sends.
public struct StoreAndForward: Sendable {
    public enum Outcome: Sendable, Hashable {
        /// A 0430 arrived with this response code.
        case answered(String)
        /// No answer in time, or the link went down.
        case noAnswer
    }

    public var policy: SAFPolicy
    var random: SplitMix64

    public init(policy: SAFPolicy = SAFPolicy(), seed: UInt64) {
        self.policy = policy
        self.random = SplitMix64(seed: seed)
    }

    /// Response codes that end an entry: the switch has settled the original (00: reversed, or nothing
    /// to reverse; 94 would be a key reused with other content, which a repeat never is).
    public static let accepted: Set<String> = ["00"]
    /// Codes worth trying again: the switch or its database could not answer now.
    public static let transient: Set<String> = ["91", "96"]

    /// The entry to send now: the oldest queued one that is due. Entries go one at a time and in the
    /// order they were queued, so the reversals of one original never overtake each other.
    public static func next(_ entries: [SAFEntry], now: Int64) -> SAFEntry? {
        guard let first = entries.filter({ $0.state == .queued }).min(by: { $0.id < $1.id }) else { return nil }
        return (first.nextAttempt ?? 0) <= now ? first : nil
    }

    /// When the oldest queued entry is due (nil: nothing queued).
    public static func due(_ entries: [SAFEntry]) -> Int64? {
        entries.filter { $0.state == .queued }.min(by: { $0.id < $1.id }).map { $0.nextAttempt ?? 0 }
    }

    /// What becomes, at start, of a request the journal shows armed (sent, its outcome not settled) when
    /// the terminal last stopped.
    public enum Recovery: Sendable, Hashable {
        /// Reverse it: `dispensed` is the cash given (field 95).
        case reverse(Reason, dispensed: Int64)
        /// Nothing of it is to be undone.
        case settle

        public enum Reason: String, Sendable, Hashable {
            /// Sent, and no answer recorded: the outcome is in doubt, reversed in full.
            case noAnswerBeforeStop
            /// A withdrawal approved whose cash was not all given: reversed for the amount not given.
            case stoppedDuringDispense

            /// For the journal.
            public var explanation: String {
                switch self {
                case .noAnswerBeforeStop: return "the terminal stopped after sending, before an answer"
                case .stoppedDuringDispense: return "the terminal stopped before all the cash was given"
                }
            }
        }
    }

    /// The start-up rule: a request sent with no answer recorded, or a withdrawal approved whose cash
    /// was not all given, is reversed (for the amount not given); anything else (a refusal, an approval
    /// that moved no cash or gave all of it) is settled.
    public static func recovery(of entry: SAFEntry) -> Recovery {
        guard let code = entry.answerCode else { return .reverse(.noAnswerBeforeStop, dispensed: entry.dispensed) }
        let withdrawal = (try? ProcessingCode(field: entry.processingCode))?.transaction == .withdrawal
        if code == "00", withdrawal, entry.dispensed < entry.amount {
            return .reverse(.stoppedDuringDispense, dispensed: entry.dispensed)
        }
        return .settle
    }

    /// Whether this attempt is a repeat (0421): every attempt after the first.
    public static func isRepeat(_ entry: SAFEntry) -> Bool { entry.attempts > 0 }

    /// Records an attempt's outcome on the entry: done, due again after a backoff, or left for the
    /// operator after `maxAttempts` (or at once, for a refusal that no repeat can change).
    public mutating func attempted(_ entry: SAFEntry, _ outcome: Outcome, now: Int64) -> SAFEntry {
        var entry = entry
        entry.attempts += 1
        switch outcome {
        case .answered(let code) where Self.accepted.contains(code):
            entry.lastCode = code
            entry.state = .done
            entry.nextAttempt = nil
            return entry
        case .answered(let code) where !Self.transient.contains(code):
            entry.lastCode = code
            entry.state = .operator
            entry.nextAttempt = nil
            return entry
        case .answered(let code):
            entry.lastCode = code
        case .noAnswer:
            break
        }
        guard entry.attempts < self.policy.maxAttempts else {
            entry.state = .operator
            entry.nextAttempt = nil
            return entry
        }
        entry.nextAttempt = now + self.delay(afterAttempt: entry.attempts)
        return entry
    }

    /// Milliseconds to wait after the n-th attempt: first retry, doubling, capped, with "equal jitter"
    /// (half the delay, plus a random part of the other half), so terminals that lost the switch
    /// together do not come back in step.
    public mutating func delay(afterAttempt attempt: Int) -> Int64 {
        let first = Self.milliseconds(self.policy.firstRetry)
        let cap = Self.milliseconds(self.policy.maxDelay)
        let exponent = min(max(attempt - 1, 0), 30)
        let base = min(cap, first << Int64(exponent))
        let half = base / 2
        return half + (half > 0 ? Int64(self.random.next() % UInt64(half + 1)) : 0)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }
}
