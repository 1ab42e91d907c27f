/// The switch's watch over the database, as a value: which request to answer 91 or 96, when to probe,
/// when the database is down and when it is back. It does no I/O and has no clock, as postgres-nio's
/// `ConnectionStateMachine`: each event is a `mutating` method that returns what to do, and time is
/// the `at:` its caller passes (the time since the watch began). `DatabaseHealth` is its shell.
///
/// - A request that has not finished `probeAfter` after it started, while no other request finished,
///   asks for a probe. Two failed probes in a row mark the database down: the requests waiting for the
///   probe are answered 91, and so is every request after them, at once, until the recovery timer's
///   probe finds the database again.
/// - A request waited for while others finish (the database is there, and slow), or while a probe
///   answers, is looked at again `4 × probeAfter` later, and answered 96 at `deadline`.
/// - One probe at a time: a request that comes due while one is out waits for its answer.
public struct DatabaseHealthStateMachine: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// A request not finished after this long is looked at.
        public var probeAfter: Duration
        /// How long a probe may take.
        public var probeTimeout: Duration
        /// While the database is down, the time between two probes.
        public var probeInterval: Duration
        /// A request not finished after this long is answered 96; never below `probeAfter`.
        public var deadline: Duration

        public init(
            probeAfter: Duration = .milliseconds(250),
            probeTimeout: Duration = .milliseconds(600),
            probeInterval: Duration = .milliseconds(250),
            deadline: Duration = .seconds(8)
        ) {
            self.probeAfter = probeAfter
            self.probeTimeout = probeTimeout
            self.probeInterval = probeInterval
            self.deadline = max(deadline, probeAfter)
        }
    }

    /// A request under watch.
    public struct RequestID: Hashable, Sendable, CustomStringConvertible {
        let value: UInt64
        public var description: String { "request \(self.value)" }
    }

    /// Why a request is answered without its result.
    public enum Refusal: Sendable, Hashable {
        /// The database does not answer a probe: 91.
        case unreachable
        /// The database answers, but the request did not finish within the deadline: 96.
        case deadlineExceeded
    }

    /// What to do with a request that starts.
    public enum StartAction: Sendable, Hashable {
        /// Run it; it is watched under this id until `requestFinished` or `requestAbandoned`.
        case watch(RequestID)
        /// Answer it at once (the database is down).
        case refuse(Refusal)
    }

    public enum Action: Sendable, Hashable {
        /// Answer these requests now with the refusal; they are no longer watched.
        case answer([RequestID], Refusal)
        /// The database went down: say so, and start the recovery timer (`recoveryTimerFired` after
        /// `probeInterval`, again while it stays down).
        case markDown
        /// The database answers again: say so.
        case markUp
        /// Probe the database within `timeout`; its answer is the next event (`probeAnswered`). Always
        /// the last action of a list.
        case probe(timeout: Duration)
    }

    struct Request: Hashable {
        let started: Duration
        /// When it is looked at next.
        var due: Duration
        /// The count of finished requests when it was last looked at.
        var seen: Int
    }

    enum ProbeState: Hashable {
        case idle
        /// A probe for `waiting`, asked for at `at` when `finished` requests had finished; the second
        /// attempt is a second look before declaring the database gone (on a loaded machine a new
        /// backend can take longer than the timeout to start, and one slow answer is not an outage).
        case looking(waiting: [RequestID], at: Duration, finished: Int, secondAttempt: Bool)
        /// The recovery timer's probe, while the database is down.
        case recovering
    }

    public let configuration: Configuration
    public private(set) var isDown = false
    var probe = ProbeState.idle
    var requests: [RequestID: Request] = [:]
    /// Requests whose work succeeded: when others finish while one waits, the database is there and
    /// slow (or that one request's connection is stuck), and no probe is needed.
    var finished = 0
    var lastID: UInt64 = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// How many requests are watched.
    public var requestsInFlight: Int { self.requests.count }

    /// Whether a probe is out.
    public var isProbing: Bool { self.probe != .idle }

    // MARK: Events

    /// A request starts at `now`.
    public mutating func requestStarted(at now: Duration) -> StartAction {
        if self.isDown { return .refuse(.unreachable) }
        self.lastID &+= 1
        let id = RequestID(value: self.lastID)
        self.requests[id] = Request(started: now, due: now + self.configuration.probeAfter, seen: self.finished)
        return .watch(id)
    }

    /// A request's work ended, successfully or not (also after it was answered without it).
    public mutating func requestFinished(_ id: RequestID, succeeded: Bool) {
        if succeeded { self.finished += 1 }
        self.requests[id] = nil
    }

    /// The request's caller stopped waiting (it was cancelled) before its work ended.
    public mutating func requestAbandoned(_ id: RequestID) {
        self.requests[id] = nil
    }

    /// The sweeping timer fired at `now`: looks at every request due. A request during whose wait
    /// nothing else finished needs a probe (or, with the database down, is answered 91 at once); the
    /// others are answered 96 past the deadline, or looked at again later.
    public mutating func tick(at now: Duration) -> [Action] {
        var late: [RequestID] = []
        var unsure: [RequestID] = []
        let due = self.requests.filter { $0.value.due <= now && !self.isWaitingForProbe($0.key) }
        for (id, request) in due.sorted(by: { $0.key.value < $1.key.value }) {
            if request.seen == self.finished {
                unsure.append(id)
            } else if self.lookedAt(id, now: now, finished: self.finished) {
                late.append(id)
            }
        }
        var actions: [Action] = late.isEmpty ? [] : [.answer(late, .deadlineExceeded)]
        guard !unsure.isEmpty else { return actions }
        if self.isDown {
            for id in unsure { self.requests[id] = nil }
            actions.append(.answer(unsure, .unreachable))
            return actions
        }
        switch self.probe {
        case .idle:
            self.probe = .looking(waiting: unsure, at: now, finished: self.finished, secondAttempt: false)
            actions.append(.probe(timeout: self.configuration.probeTimeout))
        case .looking(let waiting, let at, let finished, let secondAttempt):
            // The probe out answers for these too.
            self.probe = .looking(waiting: waiting + unsure, at: at, finished: finished, secondAttempt: secondAttempt)
        case .recovering:
            break  // only while down, handled above
        }
        return actions
    }

    /// The recovery timer fired: while the database is down, one probe (with no second look).
    public mutating func recoveryTimerFired() -> [Action] {
        guard self.isDown, self.probe == .idle else { return [] }
        self.probe = .recovering
        return [.probe(timeout: self.configuration.probeTimeout)]
    }

    /// The probe that was asked for answered.
    public mutating func probeAnswered(reachable: Bool) -> [Action] {
        switch self.probe {
        case .idle:
            return []
        case .recovering:
            self.probe = .idle
            guard reachable else { return [] }
            self.isDown = false
            return [.markUp]
        case .looking(let waiting, let at, let finished, let secondAttempt):
            if reachable {
                self.probe = .idle
                let late = waiting.filter { self.requests[$0] != nil && self.lookedAt($0, now: at, finished: finished) }
                return late.isEmpty ? [] : [.answer(late, .deadlineExceeded)]
            }
            if !secondAttempt {
                self.probe = .looking(waiting: waiting, at: at, finished: finished, secondAttempt: true)
                return [.probe(timeout: self.configuration.probeTimeout)]
            }
            self.probe = .idle
            self.isDown = true
            let unanswered = waiting.filter { self.requests.removeValue(forKey: $0) != nil }
            return unanswered.isEmpty ? [.markDown] : [.markDown, .answer(unanswered, .unreachable)]
        }
    }

    // MARK: Time

    /// When the sweeping timer should fire next, after firing at `now`: when the next request is due,
    /// and never later than `probeAfter`, so a request that starts meanwhile is looked at on time.
    public func nextTick(after now: Duration) -> Duration {
        self.requests.reduce(now + self.configuration.probeAfter) { next, entry in
            self.isWaitingForProbe(entry.key) ? next : min(next, entry.value.due)
        }
    }

    // MARK: Rules

    func isWaitingForProbe(_ id: RequestID) -> Bool {
        guard case .looking(let waiting, _, _, _) = self.probe else { return false }
        return waiting.contains(id)
    }

    /// A request looked at with the database there: past its deadline it is no longer watched (true:
    /// answer it 96); otherwise it is looked at again `4 × probeAfter` later, or at its deadline.
    mutating func lookedAt(_ id: RequestID, now: Duration, finished: Int) -> Bool {
        guard var request = self.requests[id] else { return false }
        let waited = now - request.started
        if waited >= self.configuration.deadline {
            self.requests[id] = nil
            return true
        }
        request.seen = finished
        request.due = now + min(self.configuration.probeAfter * 4, self.configuration.deadline - waited)
        self.requests[id] = request
        return false
    }
}
