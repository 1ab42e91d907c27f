import CashpointBank
public import CashpointDatabase
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// Keeps the switch answering when PostgreSQL is gone or a request is stuck. Every request runs under
/// `guarding`, and one sweeper (in `run()`, on the injected clock) looks at the requests in flight,
/// each at its own times, instead of a watchdog timer per request:
///
/// - A request that has not finished after `probeAfter`, while no other request finished, makes the
///   switch probe the database: a new TCP
///   connection that sends PostgreSQL's SSLRequest and waits for the one-byte answer ('S' or 'N'),
///   which the server gives before any authentication or query work, so a busy database still answers
///   it at once. If two probes in a row fail (each within `probeTimeout`), the request is cancelled and
///   answered 91, and so is every request after it, at once, until the recovery loop (in `run()`, a
///   probe every `probeInterval`) finds the database again. A request still waiting for a pooled
///   connection is cancelled before it reaches the database, so a request answered 91 never posts later.
/// - A slow but reachable database is waited for (looked at again every 4 × `probeAfter`), up to
///   `deadline`: then the request is cancelled and answered 96. So every request is answered within
///   `deadline + probeTimeout` (one probe answers at once when the database is there), even one whose
///   pooled connection died under it without a word.
///
/// The sweeper sleeps until the next request is due for a look, and never longer than `probeAfter`,
/// so a request that starts while it sleeps is looked at on time. Time is the injected `clock`'s, and
/// the probe is injected too, so all of this is tested without a database and without waiting.
public final class DatabaseHealth: Service, Sendable {
    /// Whether the database answers within the timeout.
    public typealias Probe = @Sendable (_ timeout: Duration) async -> Bool

    let probe: Probe
    let probeAfter: Duration
    let probeTimeout: Duration
    let probeInterval: Duration
    let deadline: Duration
    let clock: any Clock<Duration>
    /// The clock's time since this was made.
    let elapsed: @Sendable () -> Duration
    let logger: Logger
    let down = Atomic<Bool>(false)
    /// Requests that finished: when others finish while one waits, the database is there and slow
    /// (or that one request's connection is stuck), and no probe is needed.
    let finished = Atomic<Int>(0)
    /// The requests in flight, for the sweeper.
    let watched = Mutex(Watched())
    /// The probe in flight, shared by every request that asks meanwhile.
    let sharedProbe = Mutex<Task<Bool, Never>?>(nil)
    let wentDown: AsyncStream<Void>
    let wentDownContinuation: AsyncStream<Void>.Continuation

    public init(
        probe: @escaping Probe,
        probeAfter: Duration = .milliseconds(250),
        probeTimeout: Duration = .milliseconds(600),
        probeInterval: Duration = .milliseconds(250),
        deadline: Duration = .seconds(8),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger
    ) {
        self.probe = probe
        self.probeAfter = probeAfter
        self.probeTimeout = probeTimeout
        self.probeInterval = probeInterval
        self.deadline = max(deadline, probeAfter)
        self.clock = clock
        self.elapsed = Self.stopwatch(clock)
        self.logger = logger
        (self.wentDown, self.wentDownContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Probes PostgreSQL at `url` with an SSLRequest (see `ping`).
    public convenience init(
        url: DatabaseURL,
        probeAfter: Duration = .milliseconds(250),
        probeTimeout: Duration = .milliseconds(600),
        probeInterval: Duration = .milliseconds(250),
        deadline: Duration = .seconds(8),
        logger: Logger
    ) {
        let (host, port) = (url.host, url.port)
        self.init(
            probe: { timeout in await Self.ping(host: host, port: port, timeout: timeout) },
            probeAfter: probeAfter,
            probeTimeout: probeTimeout,
            probeInterval: probeInterval,
            deadline: deadline,
            logger: logger
        )
    }

    static func stopwatch<C: Clock>(_ clock: C) -> @Sendable () -> Duration where C.Duration == Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    public var isDown: Bool { self.down.load(ordering: .relaxed) }

    /// How many requests are in flight under `guarding`.
    public var requestsInFlight: Int { self.watched.withLock { $0.requests.count } }

    /// Runs `body`, or throws `DatabaseUnavailable`: `.unreachable` when the database cannot be reached
    /// (after probeAfter, or 4 × probeAfter more when other requests finished meanwhile, plus at most two
    /// probes of probeTimeout each: 2.5 s by default), `.deadlineExceeded` (within deadline +
    /// probeTimeout) when it can but the body has not finished. The sweeper of `run()` gives these
    /// answers: without it running, a request waits for its body.
    ///
    /// The body runs in a task of its own, so the answer can go out without waiting for a body that
    /// does not end (a query on a connection that died under it); that task prefers the caller's event
    /// loop (`EventLoopExecutor.preferred`), so the request still runs where its connection is.
    public func guarding<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        if self.isDown {
            throw DatabaseUnavailable(.unreachable, reason: "the database is unreachable: answering 91 until it returns")
        }
        let outcome = Outcome<T>()
        let id = self.watch(outcome)
        let work = Task(executorPreference: EventLoopExecutor.preferred) {
            do {
                let value = try await body()
                self.finished.add(1, ordering: .relaxed)
                outcome.finish(.success(value))
            } catch {
                outcome.finish(.failure(error))
            }
        }
        let result = await withTaskCancellationHandler {
            await outcome.value
        } onCancel: {
            outcome.finish(.failure(CancellationError()))
        }
        self.watched.withLock { _ = $0.requests.removeValue(forKey: id) }
        if case .failure(let error) = result, error is DatabaseUnavailable || error is CancellationError {
            work.cancel()
        }
        return try result.get()
    }

    /// A request in flight, as the sweeper sees it.
    struct Request {
        let started: Duration
        /// When the sweeper looks at it next.
        var due: Duration
        /// `finished` when it was last looked at.
        var seen: Int
        let outcome: any Failing
    }

    struct Watched {
        var next: UInt64 = 0
        var requests: [UInt64: Request] = [:]
    }

    func watch(_ outcome: some Failing) -> UInt64 {
        let started = self.elapsed()
        let seen = self.finished.load(ordering: .relaxed)
        return self.watched.withLock { watched in
            watched.next &+= 1
            watched.requests[watched.next] = Request(
                started: started,
                due: started + self.probeAfter,
                seen: seen,
                outcome: outcome
            )
            return watched.next
        }
    }

    /// The sweeper: at each request's due time, ends it with 91 when the database is unreachable, with
    /// 96 at the deadline. Sleeps until the next request is due, at most `probeAfter`.
    func sweep() async {
        while true {
            let now = self.elapsed()
            await self.look(at: now)
            let wake = self.watched.withLock { watched in
                watched.requests.values.reduce(now + self.probeAfter) { min($0, $1.due) }
            }
            do {
                try await self.clock.sleep(for: max(wake - self.elapsed(), .zero))
            } catch {
                return
            }
        }
    }

    /// One look at the requests due at `now`.
    func look(at now: Duration) async {
        let finished = self.finished.load(ordering: .relaxed)
        // Probe only for requests during whose wait nothing else finished: on a loaded machine the
        // answers keep coming, slowly, and a probe that is slow too must not turn that into an outage.
        var unsure: [UInt64] = []
        var late: [any Failing] = []
        self.watched.withLock { watched in
            for (id, request) in watched.requests where request.due <= now {
                if request.seen == finished {
                    unsure.append(id)
                } else {
                    self.lookedAt(id, request, now: now, finished: finished, watched: &watched, late: &late)
                }
            }
        }
        if !unsure.isEmpty {
            let reachable = await self.reachable()
            let unanswered: [any Failing] = self.watched.withLock { watched in
                var unanswered: [any Failing] = []
                for id in unsure {
                    guard let request = watched.requests[id] else { continue }
                    if reachable {
                        self.lookedAt(id, request, now: now, finished: finished, watched: &watched, late: &late)
                    } else {
                        watched.requests[id] = nil
                        unanswered.append(request.outcome)
                    }
                }
                return unanswered
            }
            for outcome in unanswered {
                outcome.fail(DatabaseUnavailable(.unreachable, reason: "the database did not answer a probe"))
            }
        }
        for outcome in late {
            self.logger.error("a request passed its deadline with the database reachable: answering 96")
            outcome.fail(
                DatabaseUnavailable(.deadlineExceeded, reason: "the request did not finish within \(self.deadline)")
            )
        }
    }

    /// A request looked at with the database reachable: past its deadline it is answered 96 (collected
    /// in `late`), otherwise looked at again later.
    func lookedAt(
        _ id: UInt64,
        _ request: Request,
        now: Duration,
        finished: Int,
        watched: inout Watched,
        late: inout [any Failing]
    ) {
        let waited = now - request.started
        if waited >= self.deadline {
            watched.requests[id] = nil
            late.append(request.outcome)
            return
        }
        var request = request
        request.seen = finished
        request.due = now + min(self.probeAfter * 4, self.deadline - waited)
        watched.requests[id] = request
    }

    /// One probe at a time, shared by every request that asks.
    func reachable() async -> Bool {
        if self.isDown { return false }
        let task = self.sharedProbe.withLock { current in
            if let current { return current }
            // A second look before declaring the database gone: on a loaded machine a new backend can
            // take longer than the timeout to start, and one slow answer is not an outage.
            let started = Task { [probe, probeTimeout] in
                if await probe(probeTimeout) { return true }
                return await probe(probeTimeout)
            }
            current = started
            return started
        }
        let ok = await task.value
        self.sharedProbe.withLock { current in
            if current == task { current = nil }
        }
        if !ok { self.markDown() }
        return ok
    }

    func markDown() {
        guard self.down.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return }
        self.logger.error("database unreachable: answering 91 until it returns")
        self.wentDownContinuation.yield()
    }

    func markUp() {
        guard self.down.compareExchange(expected: true, desired: false, ordering: .relaxed).exchanged else { return }
        self.logger.notice("database reachable again: serving")
    }

    /// The sweeper and the recovery loop (after the database is found unreachable, a probe every
    /// `probeInterval` until it answers). A service of the switch's group: it ends at graceful shutdown,
    /// which comes to it after the server has answered the requests in flight.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.sweep() }
                group.addTask { await self.recover() }
            }
        }
    }

    func recover() async {
        for await _ in self.wentDown {
            while self.isDown {
                do {
                    try await self.clock.sleep(for: self.probeInterval)
                } catch {
                    return
                }
                if await self.probe(self.probeTimeout) { self.markUp() }
            }
        }
    }

    /// Whether a PostgreSQL server answers an SSLRequest at host:port within `timeout`.
    public static func ping(host: String, port: Int, timeout: Duration) async -> Bool {
        let deadline = TimeAmount.nanoseconds(timeout.totalNanoseconds)
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connectTimeout(deadline)
                        .connect(host: host, port: port) { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                            }
                        }
                    return try await channel.executeThenClose { inbound, outbound in
                        // SSLRequest: length 8, code 80877103.
                        try await outbound.write(ByteBuffer(bytes: [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]))
                        for try await reply in inbound {
                            return reply.readableBytesView.first.map {
                                $0 == UInt8(ascii: "S") || $0 == UInt8(ascii: "N")
                            } ?? false
                        }
                        return false
                    }
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }
}

/// What the sweeper may end.
protocol Failing: AnyObject, Sendable {
    func fail(_ error: any Error)
}

/// The first result of a race, delivered once.
final class Outcome<T: Sendable>: Failing, Sendable {
    struct State {
        var result: Result<T, any Error>?
        var waiter: CheckedContinuation<Result<T, any Error>, Never>?
    }

    let state = Mutex(State())

    /// Delivers `result` unless a result was delivered before; says whether it was.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let (first, waiter): (Bool, CheckedContinuation<Result<T, any Error>, Never>?) = self.state.withLock { state in
            guard state.result == nil else { return (false, nil) }
            state.result = result
            defer { state.waiter = nil }
            return (true, state.waiter)
        }
        waiter?.resume(returning: result)
        return first
    }

    func fail(_ error: any Error) { self.finish(.failure(error)) }

    var value: Result<T, any Error> {
        get async {
            await withCheckedContinuation { continuation in
                let ready: Result<T, any Error>? = self.state.withLock { state in
                    if let result = state.result { return result }
                    state.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}
