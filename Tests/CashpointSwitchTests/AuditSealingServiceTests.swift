import ATMTestSupport
import CashpointSwitch
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// `AuditSealingService` on a manual clock with rounds the test scripts: no database, no waiting.
@Suite("Audit sealing service: a round that hangs is abandoned; shutdown is bounded", .timeLimit(.minutes(1)))
struct AuditSealingServiceTests {
    /// What a scripted round does.
    enum Step: Sendable {
        /// Seals this many rows.
        case seal(Int)
        /// Never ends, not even when cancelled (as a query whose promise postgres-nio dropped): the test
        /// lets it go at the end.
        case hang
    }

    enum Event: Sendable, Equatable {
        case started(Int)
        case cancelled(Int)
    }

    /// Rounds that follow a script (then seal nothing), reporting when each starts and is cancelled.
    final class ScriptedRounds: Sendable {
        let script: Mutex<[Step]>
        let count = Atomic<Int>(0)
        let hanging = Mutex<[CheckedContinuation<Void, Never>]>([])
        let events: AsyncStream<Event>
        let continuation: AsyncStream<Event>.Continuation

        init(_ script: [Step]) {
            self.script = Mutex(script)
            (self.events, self.continuation) = AsyncStream.makeStream()
        }

        var round: AuditSealingService.Round {
            {
                let number = self.count.add(1, ordering: .relaxed).newValue
                self.continuation.yield(.started(number))
                let step = self.script.withLock { $0.isEmpty ? .seal(0) : $0.removeFirst() }
                switch step {
                case .seal(let rows):
                    return rows
                case .hang:
                    await withTaskCancellationHandler {
                        await withCheckedContinuation { continuation in
                            self.hanging.withLock { $0.append(continuation) }
                        }
                    } onCancel: {
                        self.continuation.yield(.cancelled(number))
                    }
                    return 0
                }
            }
        }

        /// Lets every hanging round end.
        func release() {
            for continuation in self.hanging.withLock({ hanging in
                defer { hanging = [] }
                return hanging
            }) {
                continuation.resume()
            }
        }
    }

    static func service(_ rounds: ScriptedRounds, clock: ManualClock) -> AuditSealingService {
        AuditSealingService(
            round: rounds.round,
            interval: .seconds(1),
            roundDeadline: .seconds(10),
            finalDeadline: .milliseconds(1_500),
            clock: clock,
            logger: Logger(label: "sealer") { _ in SwiftLogNoOpLogHandler() }
        )
    }

    static let quiet = Logger(label: "group") { _ in SwiftLogNoOpLogHandler() }

    @Test("a round that never ends is cancelled at its deadline and not waited for; the next starts after the interval")
    func hangingRoundAbandoned() async throws {
        let rounds = ScriptedRounds([.hang, .seal(3)])
        let clock = ManualClock()
        let group = ServiceGroup(services: [Self.service(rounds, clock: clock)], logger: Self.quiet)
        var events = rounds.events.makeAsyncIterator()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await events.next() == .started(1))
            // Nothing happens before the deadline: the round's timer is the only thing due.
            await clock.sleeper(within: .seconds(10))
            clock.advance(by: .seconds(9))
            #expect(rounds.count.load(ordering: .relaxed) == 1)
            clock.advance(by: .seconds(1))
            #expect(await events.next() == .cancelled(1))
            // The hung round still has not ended; the service sleeps its interval and starts another.
            await clock.sleeper(within: .seconds(1))
            clock.advance(by: .seconds(1))
            #expect(await events.next() == .started(2))
            // The last round at shutdown.
            await group.triggerGracefulShutdown()
            #expect(await events.next() == .started(3))
            try await tasks.next()
        }
        rounds.release()
    }

    @Test("at graceful shutdown the round in progress is abandoned at once, and the last round is bounded")
    func shutdownBounded() async throws {
        let rounds = ScriptedRounds([.hang, .hang])
        let clock = ManualClock()
        let group = ServiceGroup(services: [Self.service(rounds, clock: clock)], logger: Self.quiet)
        var events = rounds.events.makeAsyncIterator()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(await events.next() == .started(1))
            await group.triggerGracefulShutdown()
            #expect(await events.next() == .cancelled(1))
            #expect(await events.next() == .started(2))
            // The last round hangs too: it is given finalDeadline, then the service ends.
            await clock.sleeper(within: .milliseconds(1_500))
            clock.advance(by: .milliseconds(1_500))
            #expect(await events.next() == .cancelled(2))
            try await tasks.next()
        }
        #expect(rounds.count.load(ordering: .relaxed) == 2)
        rounds.release()
    }
}
