import ATMTestSupport
import CashpointBank
import CashpointDatabase
import CashpointSwitch
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

/// `DatabaseHealth` on a manual clock with a probe the test answers: no database, no waiting.
@Suite("Database health: 91, the deadline's 96, recovery, and where the request runs")
struct DatabaseHealthTests {
    /// A probe whose answer the test sets, counting its calls.
    final class FakeProbe: Sendable {
        let reachable = Atomic<Bool>(true)
        let calls = Atomic<Int>(0)
        var probe: DatabaseHealth.Probe {
            { _ in
                self.calls.add(1, ordering: .relaxed)
                return self.reachable.load(ordering: .relaxed)
            }
        }
    }

    /// A flag that tasks may set.
    final class Flag: Sendable {
        let isSet = Atomic<Bool>(false)
    }

    static func health(_ probe: FakeProbe, clock: ManualClock) -> DatabaseHealth {
        DatabaseHealth(
            probe: probe.probe,
            probeAfter: .milliseconds(250),
            probeTimeout: .milliseconds(600),
            probeInterval: .milliseconds(250),
            deadline: .seconds(8),
            clock: clock,
            logger: Logger(label: "health") { _ in SwiftLogNoOpLogHandler() }
        )
    }

    /// Runs `body` while `health` runs (its sweeper and recovery loop) in a service group, then stops it.
    static func running(_ health: DatabaseHealth, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(services: [health], logger: Logger(label: "group") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await body()
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
    }

    /// Waits until `count` requests are in flight under `guarding`.
    static func inFlight(_ health: DatabaseHealth, _ count: Int) async {
        while health.requestsInFlight < count { await Task.yield() }
    }

    /// A body that never ends by itself (a query on a connection that died under it), until cancelled.
    static func forever() async throws -> Int {
        try await Task.sleep(for: .seconds(3600))
        return 0
    }

    @Test("a request that finishes is answered with its result, and no probe runs")
    func fast() async throws {
        let probe = FakeProbe()
        let health = Self.health(probe, clock: ManualClock())
        #expect(try await health.guarding { 42 } == 42)
        #expect(probe.calls.load(ordering: .relaxed) == 0)
    }

    @Test("database unreachable: 91 after probeAfter, then at once, until the recovery loop finds it")
    func unreachable() async throws {
        let probe = FakeProbe()
        probe.reachable.store(false, ordering: .relaxed)
        let clock = ManualClock()
        let health = Self.health(probe, clock: clock)
        try await Self.running(health) {
            let first = Task { try await health.guarding { try await Self.forever() } }
            await Self.inFlight(health, 1)
            await clock.sleeper(within: .milliseconds(250))
            clock.advance(by: .milliseconds(250))
            let error = await #expect(throws: DatabaseUnavailable.self) { try await first.value }
            #expect(error?.kind == .unreachable)
            #expect(health.isDown)
            // While down, at once and without a probe.
            let calls = probe.calls.load(ordering: .relaxed)
            await #expect(throws: DatabaseUnavailable.self) { try await health.guarding { 1 } }
            #expect(probe.calls.load(ordering: .relaxed) == calls)
            // The recovery loop probes every interval; when the database answers, requests go through.
            probe.reachable.store(true, ordering: .relaxed)
            while health.isDown {
                await clock.sleeper(within: .milliseconds(250))
                clock.advance(by: .milliseconds(250))
                await Task.yield()
            }
            let answer = try await health.guarding { 7 }
            #expect(answer == 7)
        }
    }

    @Test("database reachable but the request never ends: 96 at the deadline, and the body is cancelled")
    func deadline() async throws {
        let probe = FakeProbe()
        let clock = ManualClock()
        let health = Self.health(probe, clock: clock)
        let cancelled = Flag()
        try await Self.running(health) {
            let request = Task {
                try await health.guarding {
                    do {
                        return try await Self.forever()
                    } catch {
                        cancelled.isSet.store(true, ordering: .relaxed)
                        throw error
                    }
                }
            }
            await Self.inFlight(health, 1)
            // 250 ms, then a probe every second (4 × probeAfter) up to 8 s.
            var elapsed = Duration.zero
            while elapsed < .seconds(8) {
                await clock.sleeper(within: .seconds(1))
                let step: Duration = elapsed == .zero ? .milliseconds(250) : min(.seconds(1), .seconds(8) - elapsed)
                clock.advance(by: step)
                elapsed += step
            }
            let error = await #expect(throws: DatabaseUnavailable.self) { try await request.value }
            #expect(error?.kind == .deadlineExceeded)
            #expect(!health.isDown)
            #expect(probe.calls.load(ordering: .relaxed) >= 8)
            while !cancelled.isSet.load(ordering: .relaxed) { await Task.yield() }
        }
    }

    @Test("one sweeping timer: many requests in flight, one sleeper on the clock, each answered 96 at its own deadline")
    func oneSweeper() async throws {
        let clock = ManualClock()
        let health = Self.health(FakeProbe(), clock: clock)
        try await Self.running(health) {
            // Ten requests that never end, started at 0 s...
            let early = (0..<10).map { _ in Task { try await health.guarding { try await Self.forever() } } }
            await Self.inFlight(health, 10)
            // ...and, after a request that finishes, one more at 3 s.
            let answer = try await health.guarding { 1 }
            #expect(answer == 1)
            await clock.sleeper(within: .milliseconds(250))
            #expect(clock.sleeperCount == 1, "a timer per request")
            clock.advance(by: .seconds(3))
            let late = Task { try await health.guarding { try await Self.forever() } }
            await Self.inFlight(health, 11)
            // Time moves on in quarter seconds, as a loaded switch would see it.
            func advance(to target: Duration) async {
                while clock.now.offset < target {
                    await clock.sleeper(within: .milliseconds(250))
                    #expect(clock.sleeperCount == 1, "a timer per request")
                    clock.advance(by: .milliseconds(250))
                }
            }
            await advance(to: .seconds(8))
            for request in early {
                let error = await #expect(throws: DatabaseUnavailable.self) { try await request.value }
                #expect(error?.kind == .deadlineExceeded)
            }
            // The late one is still waited for: its deadline is at 11 s.
            await clock.sleeper(within: .milliseconds(250))
            #expect(health.requestsInFlight == 1)
            await advance(to: .seconds(11))
            let error = await #expect(throws: DatabaseUnavailable.self) { try await late.value }
            #expect(error?.kind == .deadlineExceeded)
            #expect(health.requestsInFlight == 0)
            #expect(!health.isDown)
        }
    }

    @Test("while other requests finish, a slow one is waited for without a probe, up to the deadline")
    func othersFinishing() async throws {
        let probe = FakeProbe()
        probe.reachable.store(false, ordering: .relaxed)
        let clock = ManualClock()
        let health = Self.health(probe, clock: clock)
        try await Self.running(health) {
            let slow = Task { try await health.guarding { try await Self.forever() } }
            await Self.inFlight(health, 1)
            await clock.sleeper(within: .milliseconds(250))
            // Others are answered meanwhile: the database is there.
            let answer = try await health.guarding { 1 }
            #expect(answer == 1)
            clock.advance(by: .milliseconds(250))
            await clock.sleeper(within: .seconds(1))
            #expect(probe.calls.load(ordering: .relaxed) == 0)
            // Nothing else finishes in the next second: now it probes, finds nothing, and answers 91.
            clock.advance(by: .seconds(1))
            let error = await #expect(throws: DatabaseUnavailable.self) { try await slow.value }
            #expect(error?.kind == .unreachable)
            #expect(probe.calls.load(ordering: .relaxed) == 2)
        }
    }

    @Test("the request's body runs on its connection's event loop")
    func onTheConnectionsLoop() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loop = loops.next()
        let executor = EventLoopExecutor(loop)
        let health = Self.health(FakeProbe(), clock: ManualClock())
        // As SwitchServer runs a connection: preferring its loop, and saying so to work it starts.
        let onLoop = try await withTaskExecutorPreference(executor) {
            try await EventLoopExecutor.$preferred.withValue(executor) {
                try await health.guarding { loop.inEventLoop }
            }
        }
        #expect(onLoop)
        try await loops.shutdownGracefully()
    }
}

extension DatabaseHealthTests {
    typealias Machine = DatabaseHealthStateMachine

    /// The core alone, fed events: no sockets, no clock, no tasks. Times are since the watch began.
    @Suite("Database health, the state machine: events in, actions out")
    struct Core {
        static let configuration = Machine.Configuration(
            probeAfter: .milliseconds(250),
            probeTimeout: .milliseconds(600),
            probeInterval: .milliseconds(250),
            deadline: .seconds(8)
        )
        static let probe = Machine.Action.probe(timeout: .milliseconds(600))

        static func ms(_ value: Int) -> Duration { .milliseconds(value) }

        /// A started request's id (the machine is up).
        static func start(_ machine: inout Machine, at now: Duration) throws -> Machine.RequestID {
            guard case .watch(let id) = machine.requestStarted(at: now) else {
                Issue.record("refused while up")
                throw CancellationError()
            }
            return id
        }

        /// A machine that has just gone down, with no request in flight.
        static func down() throws -> Machine {
            var machine = Machine(configuration: Self.configuration)
            let id = try Self.start(&machine, at: .zero)
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [.markDown, .answer([id], .unreachable)])
            return machine
        }

        @Test("a request that finishes before probeAfter is never looked at, and no probe is asked for")
        func finishesInTime() throws {
            var machine = Machine(configuration: Self.configuration)
            let id = try Self.start(&machine, at: .zero)
            #expect(machine.tick(at: Self.ms(100)) == [])
            machine.requestFinished(id, succeeded: true)
            #expect(machine.tick(at: Self.ms(250)) == [])
            #expect(machine.requestsInFlight == 0)
            #expect(!machine.isProbing)
        }

        @Test("due with nothing else finished: a probe; the database there: looked at again 4 × probeAfter later")
        func probeThenWait() throws {
            var machine = Machine(configuration: Self.configuration)
            _ = try Self.start(&machine, at: .zero)
            #expect(machine.tick(at: Self.ms(249)) == [])
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
            #expect(machine.isProbing)
            #expect(machine.probeAnswered(reachable: true) == [])
            #expect(!machine.isProbing)
            #expect(machine.nextTick(after: Self.ms(250)) == Self.ms(500), "never later than probeAfter")
            #expect(machine.tick(at: Self.ms(500)) == [])
            #expect(machine.tick(at: Self.ms(1_000)) == [])
            #expect(machine.nextTick(after: Self.ms(1_000)) == Self.ms(1_250))
            #expect(machine.tick(at: Self.ms(1_250)) == [Self.probe])
        }

        @Test("one failed probe is looked at twice; two in a row mark the database down and answer 91")
        func twoFailuresMarkDown() throws {
            var machine = Machine(configuration: Self.configuration)
            let id = try Self.start(&machine, at: .zero)
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [Self.probe])
            #expect(!machine.isDown, "one slow answer is not an outage")
            #expect(machine.probeAnswered(reachable: false) == [.markDown, .answer([id], .unreachable)])
            #expect(machine.isDown)
            #expect(machine.requestsInFlight == 0)
            #expect(machine.requestStarted(at: Self.ms(300)) == .refuse(.unreachable))
        }

        @Test("the second look finding the database: no outage, and the request is waited for")
        func secondLookFinds() throws {
            var machine = Machine(configuration: Self.configuration)
            _ = try Self.start(&machine, at: .zero)
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [Self.probe])
            #expect(machine.probeAnswered(reachable: true) == [])
            #expect(!machine.isDown)
            #expect(machine.requestsInFlight == 1)
        }

        @Test("while down, the recovery timer asks for one probe at a time; an answer marks the database up")
        func recovery() throws {
            var machine = try Self.down()
            #expect(machine.recoveryTimerFired() == [Self.probe])
            #expect(machine.recoveryTimerFired() == [], "one probe at a time")
            #expect(machine.probeAnswered(reachable: false) == [], "no second look while recovering")
            #expect(machine.isDown)
            #expect(machine.recoveryTimerFired() == [Self.probe])
            #expect(machine.probeAnswered(reachable: true) == [.markUp])
            #expect(!machine.isDown)
            #expect(machine.recoveryTimerFired() == [], "up: nothing to recover")
            if case .refuse = machine.requestStarted(at: Self.ms(1_000)) { Issue.record("refused after recovery") }
        }

        @Test("a request in flight when the database went down is answered 91 when due, without a probe")
        func dueWhileDown() throws {
            var machine = Machine(configuration: Self.configuration)
            let first = try Self.start(&machine, at: .zero)
            let second = try Self.start(&machine, at: Self.ms(100))
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [.markDown, .answer([first], .unreachable)])
            #expect(machine.tick(at: Self.ms(350)) == [.answer([second], .unreachable)])
            #expect(machine.requestsInFlight == 0)
        }

        @Test("while others finish, a slow request is waited for without a probe; then probed when they stop")
        func othersFinishing() throws {
            var machine = Machine(configuration: Self.configuration)
            let slow = try Self.start(&machine, at: .zero)
            let quick = try Self.start(&machine, at: Self.ms(10))
            machine.requestFinished(quick, succeeded: true)
            #expect(machine.tick(at: Self.ms(250)) == [], "another finished meanwhile: the database is there")
            #expect(machine.nextTick(after: Self.ms(250)) == Self.ms(500))
            #expect(machine.tick(at: Self.ms(500)) == [])
            #expect(machine.tick(at: Self.ms(1_250)) == [Self.probe], "nothing finished for a second")
            #expect(machine.probeAnswered(reachable: false) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [.markDown, .answer([slow], .unreachable)])
        }

        @Test("a request that failed does not count as finished: the slow one is still probed for")
        func failuresDoNotCount() throws {
            var machine = Machine(configuration: Self.configuration)
            _ = try Self.start(&machine, at: .zero)
            let failed = try Self.start(&machine, at: Self.ms(10))
            machine.requestFinished(failed, succeeded: false)
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
        }

        @Test("the database there but the request never ends: 96 exactly at the deadline, never before")
        func deadline() throws {
            var machine = Machine(configuration: Self.configuration)
            let id = try Self.start(&machine, at: .zero)
            var now = Duration.zero
            var ticks = 0
            while true {
                now = machine.nextTick(after: now)
                #expect(now <= .seconds(8), "looked at after its deadline")
                let actions = machine.tick(at: now)
                ticks += 1
                if actions == [.answer([id], .deadlineExceeded)] { break }
                if actions == [Self.probe] {
                    let answer = machine.probeAnswered(reachable: true)
                    if answer == [.answer([id], .deadlineExceeded)] { break }
                    #expect(answer == [])
                } else {
                    #expect(actions == [])
                }
                try #require(ticks < 100)
            }
            #expect(now == .seconds(8))
            #expect(machine.requestsInFlight == 0)
            #expect(!machine.isDown)
        }

        @Test("past its deadline while others finish: 96 without a probe, beside the probe another needs")
        func lateWithoutProbe() throws {
            var machine = Machine(configuration: Self.configuration)
            let old = try Self.start(&machine, at: .zero)
            // The database there, nothing else finishing: looked at every second, last at 7.25 s.
            var now = Duration.zero
            while machine.nextTick(after: now) <= Self.ms(7_700) {
                now = machine.nextTick(after: now)
                if machine.tick(at: now) == [Self.probe] { #expect(machine.probeAnswered(reachable: true) == []) }
            }
            let quick = try Self.start(&machine, at: Self.ms(7_700))
            machine.requestFinished(quick, succeeded: true)
            let fresh = try Self.start(&machine, at: Self.ms(7_750))
            #expect(machine.tick(at: .seconds(8)) == [.answer([old], .deadlineExceeded), Self.probe])
            #expect(machine.probeAnswered(reachable: true) == [])
            #expect(machine.requestsInFlight == 1)
            machine.requestFinished(fresh, succeeded: true)
            #expect(machine.requestsInFlight == 0)
        }

        @Test("work that succeeds after its request was answered 96 still shows the database there")
        func lateSuccessCounts() throws {
            let configuration = Machine.Configuration(probeAfter: Self.ms(250), deadline: Self.ms(250))
            var machine = Machine(configuration: configuration)
            let stuck = try Self.start(&machine, at: .zero)
            #expect(machine.tick(at: Self.ms(250)) == [.probe(timeout: Self.ms(600))])
            #expect(machine.probeAnswered(reachable: true) == [.answer([stuck], .deadlineExceeded)])
            let next = try Self.start(&machine, at: Self.ms(300))
            machine.requestFinished(stuck, succeeded: true)
            #expect(machine.tick(at: Self.ms(550)) == [.answer([next], .deadlineExceeded)], "no probe needed")
        }

        @Test("one probe at a time: a request that comes due while one is out shares its answer")
        func sharedProbe() throws {
            var machine = Machine(configuration: Self.configuration)
            let first = try Self.start(&machine, at: .zero)
            let second = try Self.start(&machine, at: Self.ms(100))
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
            #expect(machine.nextTick(after: Self.ms(250)) == Self.ms(350))
            #expect(machine.tick(at: Self.ms(350)) == [], "no second probe while one is out")
            #expect(machine.nextTick(after: Self.ms(350)) == Self.ms(600), "both wait for the probe")
            #expect(machine.probeAnswered(reachable: false) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [.markDown, .answer([first, second], .unreachable)])
        }

        @Test("a request that finishes, or whose caller leaves, while a probe is out is not answered by it")
        func endsDuringProbe() throws {
            var machine = Machine(configuration: Self.configuration)
            let finishing = try Self.start(&machine, at: .zero)
            let leaving = try Self.start(&machine, at: .zero)
            let waiting = try Self.start(&machine, at: .zero)
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
            machine.requestFinished(finishing, succeeded: false)
            machine.requestAbandoned(leaving)
            #expect(machine.probeAnswered(reachable: false) == [Self.probe])
            #expect(machine.probeAnswered(reachable: false) == [.markDown, .answer([waiting], .unreachable)])
        }

        @Test("an answer nobody asked for changes nothing")
        func strayAnswer() throws {
            var machine = Machine(configuration: Self.configuration)
            _ = try Self.start(&machine, at: .zero)
            #expect(machine.probeAnswered(reachable: false) == [])
            #expect(!machine.isDown)
            #expect(machine.tick(at: Self.ms(250)) == [Self.probe])
        }

        @Test("the sweeping timer fires at the next request due, and at most probeAfter later")
        func nextTick() throws {
            var machine = Machine(configuration: Self.configuration)
            #expect(machine.nextTick(after: .seconds(3)) == Self.ms(3_250))
            _ = try Self.start(&machine, at: Self.ms(3_100))
            #expect(machine.nextTick(after: .seconds(3)) == Self.ms(3_250))
            _ = try Self.start(&machine, at: Self.ms(2_900))
            #expect(machine.nextTick(after: .seconds(3)) == Self.ms(3_150))
        }

        @Test("a deadline below probeAfter is raised to it")
        func deadlineAtLeastProbeAfter() {
            let configuration = Machine.Configuration(probeAfter: .seconds(1), deadline: .milliseconds(10))
            #expect(configuration.deadline == .seconds(1))
        }
    }

    /// A TCP server on a free port that answers each read with `reply`, or never; `received` yields per read.
    static func server(reply: UInt8?) async throws -> (channel: any Channel, received: AsyncStream<Void>) {
        let (received, continuation) = AsyncStream<Void>.makeStream()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Answerer(reply: reply, received: continuation))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return (channel, received)
    }

    final class Answerer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let reply: UInt8?
        let received: AsyncStream<Void>.Continuation

        init(reply: UInt8?, received: AsyncStream<Void>.Continuation) {
            self.reply = reply
            self.received = received
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            self.received.yield()
            if let reply = self.reply {
                context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(bytes: [reply])), promise: nil)
            }
        }
    }

    @Test("ping: a server that answers the SSLRequest with N is there")
    func pingAnswered() async throws {
        let (server, _) = try await Self.server(reply: UInt8(ascii: "N"))
        let port = try #require(server.localAddress?.port)
        #expect(await DatabaseHealth.ping(host: "127.0.0.1", port: port, timeout: .seconds(30), clock: ManualClock()))
        try await server.close()
    }

    @Test("ping: a server that never answers is given up on when the injected clock passes the timeout")
    func pingTimesOutOnTheClock() async throws {
        let (server, received) = try await Self.server(reply: nil)
        let port = try #require(server.localAddress?.port)
        let clock = ManualClock()
        let ping = Task {
            await DatabaseHealth.ping(host: "127.0.0.1", port: port, timeout: .seconds(30), clock: clock)
        }
        var reads = received.makeAsyncIterator()
        _ = await reads.next()  // the SSLRequest arrived, and nothing answers it
        await clock.sleeper(within: .seconds(30))
        clock.advance(by: .seconds(30))
        #expect(await ping.value == false)
        try await server.close()
    }
}
