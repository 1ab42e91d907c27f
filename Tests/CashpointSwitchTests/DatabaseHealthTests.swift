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
