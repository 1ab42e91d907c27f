import ATM87
import CashpointSecurity
import CashpointSwitch
import CashpointTerminal
import CashpointTestSupport
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// A clock that moves only when a test says so.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: self.offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - self.offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
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
    var now: Instant { self.state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
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
    func sleeper(within duration: Duration, sourceLocation: SourceLocation = #_sourceLocation) async {
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
    func advance(by duration: Duration) {
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

/// A front end that keeps what the machine showed and did, and lets a test wait for it.
final class RecordingFrontEnd: ATMFrontEnd, Sendable {
    struct State {
        var lines: [String] = []
        var waiters: [(id: UUID, text: String, times: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    }

    let state = Mutex(State())
    var lines: [String] { self.state.withLock { $0.lines } }

    func record(_ line: String) {
        let ready = self.state.withLock { state in
            state.lines.append(line)
            let lines = state.lines
            let ready = state.waiters.filter { waiter in lines.filter { $0.contains(waiter.text) }.count >= waiter.times }
            state.waiters.removeAll { waiter in lines.filter { $0.contains(waiter.text) }.count >= waiter.times }
            return ready
        }
        for waiter in ready { waiter.continuation.resume(returning: true) }
    }

    func draw(_ display: ATMDisplay, status: ATMStatus) { self.record(display.plainText) }
    func printReceipt(_ lines: [String]) { self.record(lines.joined(separator: "\n")) }
    func device(_ event: String) { self.record("* " + event) }
    func discardTypeAhead() {}

    /// Waits until `times` things shown contain the text. A wait that 30 s do not end is recorded as a
    /// failure naming what was shown last, and ends (a wait that never returns would hang the whole run).
    func waitFor(_ text: String, times: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) async {
        let id = UUID()
        let expiry = Task {
            try await Task.sleep(for: .seconds(30))
            self.expire(id)
        }
        defer { expiry.cancel() }
        let found = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ready = self.state.withLock { state in
                if state.lines.filter({ $0.contains(text) }).count >= times { return true }
                state.waiters.append((id, text, times, continuation))
                return false
            }
            if ready { continuation.resume(returning: true) }
        }
        if !found {
            Issue.record("the ATM never showed \"\(text)\" \(times) time(s); last: \(self.lines.suffix(4))", sourceLocation: sourceLocation)
        }
    }

    func expire(_ id: UUID) {
        let waiter = self.state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index).continuation
        }
        waiter?.resume(returning: false)
    }
}

/// An ATM controller in the test's process, against a switch under test: a manual clock, a front end
/// that records, a journal in a temporary folder.
struct ControllerUnderTest {
    let clock: ManualClock
    let frontEnd: RecordingFrontEnd
    let events: ATMEvents
    let journal: ElectronicJournal
    let running: Task<Void, Never>

    static func with(
        _ under: SwitchUnderTest,
        cassettes: [Cassette] = [Cassette(denomination: 2_000, count: 50, currency: "978")],
        timeouts: ATMTimeouts = ATMTimeouts(),
        seed: UInt64,
        _ body: (ControllerUnderTest) async throws -> Void
    ) async throws {
        var configuration = TerminalConfiguration(terminal: "ATM00001", port: under.port, cassettes: cassettes, timeouts: timeouts)
        configuration.fixture = repositoryRoot.appendingPathComponent("fixtures/bank.json").path
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let key = try configuration.loadMasterKey().key
        let journal = try ElectronicJournal(path: folder + "/journal.sqlite", masterKey: key)
        let clock = ManualClock()
        let frontEnd = RecordingFrontEnd()
        let events = ATMEvents()
        let controller = ATMController(
            configuration: configuration,
            masterKey: key,
            frontEnd: frontEnd,
            events: events,
            clock: clock,
            retryDelay: .seconds(5),
            keepAliveInterval: .seconds(60),
            journal: journal,
            seed: seed
        )
        let running = Task { await controller.run() }
        try await body(ControllerUnderTest(clock: clock, frontEnd: frontEnd, events: events, journal: journal, running: running))
        await running.value
    }

    /// Inputs handed over from a thread of their own, one at a time, as the console's reader does.
    func type(_ inputs: [ATMInput]) {
        let events = self.events
        Thread { for input in inputs { events.submit(input) } }.start()
    }

    func waitFor(_ text: String, times: Int = 1) async { await self.frontEnd.waitFor(text, times: times) }

    /// Moves the clock past the next wait of at most `duration` (a reconnect, a keep-alive).
    func advance(_ duration: Duration) async {
        await self.clock.sleeper(within: duration)
        self.clock.advance(by: duration)
    }

    var shown: String { self.frontEnd.lines.joined(separator: "\n") }
}

@Suite("The ATM controller against the switch", .enabled(if: databaseTestsEnabled), .timeLimit(.minutes(2)))
struct ATMControllerTests {
    @Test("no answer in time: the card comes back, and the reversal goes once the link is up again")
    func doubtSettledAfterReconnect() async throws {
        try await SwitchUnderTest.with { under in
            try await ControllerUnderTest.with(
                under,
                cassettes: [Cassette(denomination: 5_000, count: 10, currency: "978")],
                timeouts: ATMTimeouts(response: .seconds(2)),
                seed: 1
            ) { atm in
                await atm.waitFor("[WELCOME]")
                // Bob's account is held: his withdrawal waits at the switch past the ATM's patience.
                try await under.holdingRow("CP0000000003") {
                    atm.type([.typed(bob.pan), .typed(bob.pin), .key(.function(.a)), .key(.function(.a))])
                    await atm.waitFor("no answer from the switch")
                    await atm.waitFor("Your account will not be charged.")
                }
                #expect(try await under.bank.balance(bob.current) == 75_000)
                // The link was closed at the timeout; the ATM tries again after its retry delay.
                await atm.advance(.seconds(5))
                await atm.waitFor("reversal sent (timeout): answered 00")
                #expect(try await under.bank.balance(bob.current) == 80_000)
                atm.type([.take, .quit])
                await atm.running.value
                #expect(atm.shown.contains("[PLEASE TAKE YOUR CARD]"))
                #expect(!atm.shown.contains("[TAKE YOUR CASH]"))
                #expect(!atm.shown.contains(bob.pan))
            }
        }
    }

    @Test("an idle ATM tests its link; when the switch is gone it goes out of service and comes back by itself")
    func keepAliveAndReconnect() async throws {
        try await SwitchUnderTest.with { under in
            try await ControllerUnderTest.with(under, seed: 2) { atm in
                await atm.waitFor("[WELCOME]")
                try await under.current.stop()
                await atm.advance(.seconds(60))
                await atm.waitFor("the link to the switch is gone")
                await atm.waitFor("[SORRY]", times: 2)
                try await under.startAgain(samePort: true)
                await atm.advance(.seconds(5))
                await atm.waitFor("signed on to the switch", times: 2)
                atm.type([.typed(alice.pan), .typed(alice.pin)])
                await atm.waitFor("[MAIN MENU]")
                atm.type([.key(.cancel), .take, .quit])
            }
        }
    }

    @Test("the switch stops mid-session: the ATM goes out of service, keeps its journal, and drains its queue when it returns")
    func switchStopsDuringSession() async throws {
        try await SwitchUnderTest.with { under in
            try await ControllerUnderTest.with(under, seed: 3) { atm in
                await atm.waitFor("[WELCOME]")
                atm.type([.typed(alice.pan), .typed(alice.pin)])
                await atm.waitFor("[MAIN MENU]")
                try await under.current.stop()
                // Fast cash 20.00 from the current account: the request cannot reach the switch.
                atm.type([.key(.function(.a)), .key(.function(.a)), .key(.function(.a))])
                await atm.waitFor("Your account will not be charged.")
                atm.type([.take])
                await atm.waitFor("[SORRY]", times: 2)
                #expect(try atm.journal.safEntries(states: [.queued]).count == 1)
                // While the switch is away the journal goes on: the card returned and taken are on record.
                #expect(try atm.journal.records(kinds: ["card.taken"]).count == 1)
                try await under.startAgain(samePort: true)
                await atm.advance(.seconds(5))
                await atm.waitFor("reversal sent (linkLost): answered 00; done")
                await atm.waitFor("[WELCOME]", times: 2)
                atm.type([.quit])
                await atm.running.value
                let drained = try #require(atm.shown.range(of: "reversal sent (linkLost)"))
                let served = try #require(atm.shown.range(of: "[WELCOME]", options: .backwards))
                #expect(drained.lowerBound < served.lowerBound)
                #expect(try await under.bank.balance(alice.current) == 250_000)
                #expect(try await under.ledgerAgrees())
                #expect(try atm.journal.safEntries(states: [.queued]).isEmpty)
                #expect(try atm.journal.verify().isIntact)
                #expect(try atm.journal.records(kinds: ["link.down"]).count >= 1)
            }
        }
    }
}

/// A new empty folder under the system's temporary folder.
func temporaryFolder() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cashpoint-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}
