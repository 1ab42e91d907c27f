import CashpointBank
public import CashpointDatabase
public import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// Keeps the switch answering when PostgreSQL is gone or a request is stuck: the shell of
/// `DatabaseHealthStateMachine`, which decides; this only performs. Every request runs under
/// `guarding`, and one sweeper (in `run()`, on the injected clock) feeds the machine its ticks, instead
/// of a watchdog timer per request:
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
/// The sweeper sleeps until the next request is due, and never longer than `probeAfter`, so a request
/// that starts while it sleeps is looked at on time; while a probe it asked for is out, its answer is
/// the sweeper's next event. Time is the injected `clock`'s, and the probe is injected too, so all of
/// this is tested without a database and without waiting.
public final class DatabaseHealth: Service, Sendable {
    /// Whether the database answers within the timeout.
    public typealias Probe = @Sendable (_ timeout: Duration) async -> Bool
    typealias Machine = DatabaseHealthStateMachine

    struct State {
        var machine: Machine
        /// What each watched request's caller waits on.
        var outcomes: [Machine.RequestID: any Failing] = [:]
    }

    let probe: Probe
    let configuration: Machine.Configuration
    let clock: any Clock<Duration>
    /// The clock's time since this was made.
    let elapsed: @Sendable () -> Duration
    let logger: Logger
    let state: Mutex<State>
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
        self.clock = clock
        self.elapsed = Self.stopwatch(clock)
        self.logger = logger
        self.configuration = Machine.Configuration(
            probeAfter: probeAfter,
            probeTimeout: probeTimeout,
            probeInterval: probeInterval,
            deadline: deadline
        )
        self.state = Mutex(State(machine: Machine(configuration: self.configuration)))
        (self.wentDown, self.wentDownContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Probes the server `client`'s pool is on with an SSLRequest (see `ping`), its timeout on `clock`;
    /// a server that does not answer makes the client look for the one to use (`DatabaseClient.relocate`).
    public convenience init(
        client: DatabaseClient,
        probeAfter: Duration = .milliseconds(250),
        probeTimeout: Duration = .milliseconds(600),
        probeInterval: Duration = .milliseconds(250),
        deadline: Duration = .seconds(8),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger
    ) {
        self.init(
            probe: { timeout in
                let server = client.endpoint
                let answered = await Self.ping(host: server.host, port: server.port, timeout: timeout, clock: clock)
                if !answered { client.relocate(from: server) }
                return answered
            },
            probeAfter: probeAfter,
            probeTimeout: probeTimeout,
            probeInterval: probeInterval,
            deadline: deadline,
            clock: clock,
            logger: logger
        )
    }

    static func stopwatch<C: Clock>(_ clock: C) -> @Sendable () -> Duration where C.Duration == Duration {
        let start = clock.now
        return { start.duration(to: clock.now) }
    }

    public var isDown: Bool { self.state.withLock { $0.machine.isDown } }

    /// How many requests are in flight under `guarding`.
    public var requestsInFlight: Int { self.state.withLock { $0.machine.requestsInFlight } }

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
        let outcome = Outcome<T>()
        let start = self.state.withLock { state in
            let start = state.machine.requestStarted(at: self.elapsed())
            if case .watch(let id) = start { state.outcomes[id] = outcome }
            return start
        }
        let id: Machine.RequestID
        switch start {
        case .refuse(let refusal): throw self.unavailable(refusal, whileDown: true)
        case .watch(let watched): id = watched
        }
        let work = Task(executorPreference: EventLoopExecutor.preferred) {
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            let succeeded = if case .success = result { true } else { false }
            self.state.withLock { state in
                state.machine.requestFinished(id, succeeded: succeeded)
                state.outcomes[id] = nil
            }
            outcome.finish(result)
        }
        let result = await withTaskCancellationHandler {
            await outcome.value
        } onCancel: {
            outcome.finish(.failure(CancellationError()))
        }
        if case .failure(let error) = result, error is DatabaseUnavailable || error is CancellationError {
            if error is CancellationError {
                self.state.withLock { state in
                    state.machine.requestAbandoned(id)
                    state.outcomes[id] = nil
                }
            }
            work.cancel()
        }
        return try result.get()
    }

    /// The error a refused request is answered with.
    func unavailable(_ refusal: Machine.Refusal, whileDown: Bool = false) -> DatabaseUnavailable {
        switch refusal {
        case .unreachable where whileDown:
            DatabaseUnavailable(.unreachable, reason: "the database is unreachable: answering 91 until it returns")
        case .unreachable:
            DatabaseUnavailable(.unreachable, reason: "the database did not answer a probe")
        case .deadlineExceeded:
            DatabaseUnavailable(
                .deadlineExceeded,
                reason: "the request did not finish within \(self.configuration.deadline)"
            )
        }
    }

    // MARK: Performing the machine's actions

    /// An action with the callers it answers, found under the lock and performed outside it.
    enum Step {
        case answer([any Failing], Machine.Refusal)
        case markDown
        case markUp
        case probe(timeout: Duration)
    }

    /// Feeds the machine one event and performs what it returns; the timeout of the probe it asks for,
    /// whose answer is then the caller's next event.
    func handle(_ event: (inout Machine) -> [Machine.Action]) -> Duration? {
        let steps = self.state.withLock { state in
            event(&state.machine).map { action -> Step in
                switch action {
                case .answer(let ids, let refusal):
                    .answer(ids.compactMap { state.outcomes.removeValue(forKey: $0) }, refusal)
                case .markDown: .markDown
                case .markUp: .markUp
                case .probe(let timeout): .probe(timeout: timeout)
                }
            }
        }
        var probe: Duration?
        for step in steps {
            switch step {
            case .markDown:
                self.logger.error("database unreachable: answering 91 until it returns")
                self.wentDownContinuation.yield()
            case .markUp:
                self.logger.notice("database reachable again: serving")
            case .answer(let outcomes, let refusal):
                for outcome in outcomes {
                    if refusal == .deadlineExceeded {
                        self.logger.error("a request passed its deadline with the database reachable: answering 96")
                    }
                    outcome.fail(self.unavailable(refusal))
                }
            case .probe(let timeout):
                probe = timeout
            }
        }
        return probe
    }

    /// Feeds the machine `event`, performs its actions, and while they ask for a probe, probes and
    /// feeds it the answer.
    func run(_ event: (inout Machine) -> [Machine.Action]) async {
        var timeout = self.handle(event)
        while let probeTimeout = timeout {
            let reachable = await self.probe(probeTimeout)
            timeout = self.handle { $0.probeAnswered(reachable: reachable) }
        }
    }

    /// The sweeper: the machine's ticks, on the clock. Sleeps until the next request is due, at most
    /// `probeAfter`.
    func sweep() async {
        while true {
            let now = self.elapsed()
            await self.run { $0.tick(at: now) }
            let wake = self.state.withLock { $0.machine.nextTick(after: now) }
            do {
                try await self.clock.sleep(for: max(wake - self.elapsed(), .zero))
            } catch {
                return
            }
        }
    }

    /// The recovery loop: after the database is found unreachable, a probe every `probeInterval` until
    /// it answers.
    func recover() async {
        for await _ in self.wentDown {
            while self.isDown {
                do {
                    try await self.clock.sleep(for: self.configuration.probeInterval)
                } catch {
                    return
                }
                await self.run { $0.recoveryTimerFired() }
            }
        }
    }

    /// The sweeper and the recovery loop. A service of the switch's group: it ends at graceful shutdown,
    /// which comes to it after the server has answered the requests in flight.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await self.sweep() }
                group.addTask { await self.recover() }
            }
        }
    }

    /// Whether a PostgreSQL server answers an SSLRequest at host:port within `timeout` on `clock`.
    public static func ping(
        host: String,
        port: Int,
        timeout: Duration,
        clock: any Clock<Duration> = ContinuousClock()
    ) async -> Bool {
        // NIO's connect timeout is a backstop in real time, for a connection attempt that hangs.
        let connectTimeout = TimeAmount.nanoseconds(timeout.totalNanoseconds)
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                        .connectTimeout(connectTimeout)
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
                try? await clock.sleep(for: timeout)
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
