import Foundation
import Synchronization
public import Testing

/// A clock that moves only when a test says so.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol {
        public var offset: Duration
        public func advanced(by duration: Duration) -> Instant { Instant(offset: self.offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - self.offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    struct State {
        var now = Instant(offset: .zero)
        var next = 0
        var sleepers: [Int: Sleeper] = [:]
        /// Tests waiting for someone to sleep until a deadline within reach.
        var watchers: [(id: UUID, within: Instant, continuation: CheckedContinuation<Bool, Never>)] = []
    }

    let state = Mutex(State())
    public init() {}

    /// How many wait on the clock now.
    public var sleeperCount: Int { self.state.withLock { $0.sleepers.count } }

    public var now: Instant { self.state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = self.state.withLock { state in
            state.next += 1
            return state.next
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resume: Result<Void, any Error>? = self.state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    let woken = state.watchers.filter { deadline <= $0.within }
                    state.watchers.removeAll { deadline <= $0.within }
                    for watcher in woken { watcher.continuation.resume(returning: true) }
                    return nil
                }
                if let resume { continuation.resume(with: resume) }
            }
        } onCancel: {
            let sleeper = self.state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Waits until something sleeps until a deadline at most `duration` from now: a timer that
    /// `advance(by: duration)` will fire. Gives up (a recorded failure) after 30 s of real time.
    public func sleeper(within duration: Duration, sourceLocation: SourceLocation = #_sourceLocation) async {
        let id = UUID()
        let expiry = Task {
            try await Task.sleep(for: .seconds(30))
            let watcher = self.state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.watchers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.watchers.remove(at: index).continuation
            }
            watcher?.resume(returning: false)
        }
        defer { expiry.cancel() }
        let found = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ready = self.state.withLock { state in
                let within = state.now.advanced(by: duration)
                if state.sleepers.values.contains(where: { $0.deadline <= within }) { return true }
                state.watchers.append((id, within, continuation))
                return false
            }
            if ready { continuation.resume(returning: true) }
        }
        if !found { Issue.record("nothing started to wait \(duration) on the manual clock", sourceLocation: sourceLocation) }
    }

    /// Moves time on and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due = self.state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers.removeValue(forKey: id) }
            return Array(due.values)
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
