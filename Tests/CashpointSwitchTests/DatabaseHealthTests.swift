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
        let group = ServiceGroup(services: [health], logger: Logger(label: "group") { _ in SwiftLogNoOpLogHandler() })
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let first = Task { try await health.guarding { try await Self.forever() } }
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
            #expect(try await health.guarding { 7 } == 7)
            await group.triggerGracefulShutdown()
            try await tasks.next()
        }
    }

    @Test("database reachable but the request never ends: 96 at the deadline, and the body is cancelled")
    func deadline() async throws {
        let probe = FakeProbe()
        let clock = ManualClock()
        let health = Self.health(probe, clock: clock)
        let cancelled = Atomic<Bool>(false)
        let request = Task {
            try await health.guarding {
                do {
                    return try await Self.forever()
                } catch {
                    cancelled.store(true, ordering: .relaxed)
                    throw error
                }
            }
        }
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
        while !cancelled.load(ordering: .relaxed) { await Task.yield() }
    }

    @Test("while other requests finish, a slow one is waited for without a probe, up to the deadline")
    func othersFinishing() async throws {
        let probe = FakeProbe()
        probe.reachable.store(false, ordering: .relaxed)
        let clock = ManualClock()
        let health = Self.health(probe, clock: clock)
        let slow = Task { try await health.guarding { try await Self.forever() } }
        await clock.sleeper(within: .milliseconds(250))
        // Others are answered meanwhile: the database is there.
        #expect(try await health.guarding { 1 } == 1)
        clock.advance(by: .milliseconds(250))
        await clock.sleeper(within: .seconds(1))
        #expect(probe.calls.load(ordering: .relaxed) == 0)
        // Nothing else finishes in the next second: now it probes, finds nothing, and answers 91.
        clock.advance(by: .seconds(1))
        let error = await #expect(throws: DatabaseUnavailable.self) { try await slow.value }
        #expect(error?.kind == .unreachable)
        #expect(probe.calls.load(ordering: .relaxed) == 2)
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
