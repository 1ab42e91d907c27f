public import CashpointTerminal
public import Crypto
public import Foundation
import Synchronization
public import Testing

/// A front end that keeps what the machine showed and did, and lets a test wait for it.
public final class RecordingFrontEnd: ATMFrontEnd, Sendable {
    struct State {
        var lines: [String] = []
        var statuses: [ATMStatus] = []
        var lastScreen: String?
        var waiters: [(id: UUID, text: String, times: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    }

    let state = Mutex(State())
    public init() {}

    /// Everything shown: screens as plain text, receipts, device lines (`* ...`).
    public var lines: [String] { self.state.withLock { $0.lines } }
    /// The status beside each screen drawn, in order.
    public var statuses: [ATMStatus] { self.state.withLock { $0.statuses } }

    /// Keeps a line (a screen only when it differs from the last one drawn, as a terminal would show
    /// it) and a status with each draw.
    func record(_ line: String, screen: Bool = false, status: ATMStatus? = nil) {
        let ready = self.state.withLock { state -> [CheckedContinuation<Bool, Never>] in
            if let status { state.statuses.append(status) }
            if screen {
                guard state.lastScreen != line else { return [] }
                state.lastScreen = line
            }
            state.lines.append(line)
            let lines = state.lines
            let ready = state.waiters.filter { waiter in lines.filter { $0.contains(waiter.text) }.count >= waiter.times }
            state.waiters.removeAll { waiter in lines.filter { $0.contains(waiter.text) }.count >= waiter.times }
            return ready.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: true) }
    }

    public func draw(_ display: ATMDisplay, status: ATMStatus) { self.record(display.plainText, screen: true, status: status) }
    public func printReceipt(_ lines: [String]) { self.record(lines.joined(separator: "\n")) }
    public func device(_ event: String) { self.record("* " + event) }
    public func discardTypeAhead() {}

    /// Waits until `times` things shown contain the text. A wait that 30 s do not end is recorded as a
    /// failure naming what was shown last, and ends (a wait that never returns would hang the whole run).
    public func waitFor(_ text: String, times: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) async {
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

/// An ATM controller in the test's process: a manual clock, a front end that records, a journal in a
/// temporary folder, and whatever connector the test gives (an in-memory switch, or TCP to a real one).
public struct ControllerUnderTest: Sendable {
    public let clock: ManualClock
    public let frontEnd: RecordingFrontEnd
    public let events: ATMEvents
    public let journal: ElectronicJournal
    public let running: Task<Void, Never>

    public static func with(
        configuration: TerminalConfiguration,
        masterKey: SymmetricKey,
        connector: any ATMConnector,
        dispenser: EmulatedDispenser = EmulatedDispenser(),
        journalFolder: String? = nil,
        seed: UInt64,
        _ body: (ControllerUnderTest) async throws -> Void
    ) async throws {
        let folder = try journalFolder ?? temporaryFolder()
        defer { if journalFolder == nil { try? FileManager.default.removeItem(atPath: folder) } }
        let journal = try ElectronicJournal(path: folder + "/journal.sqlite", masterKey: masterKey)
        let clock = ManualClock()
        let start = Date()
        let frontEnd = RecordingFrontEnd()
        let events = ATMEvents()
        let controller = ATMController(
            configuration: configuration,
            masterKey: masterKey,
            frontEnd: frontEnd,
            events: events,
            connector: connector,
            dispenser: dispenser,
            clock: clock,
            // The wall clock as the switch sees it, moved on with the manual clock (the sign-on's time is
            // checked against the switch's).
            now: { start.addingTimeInterval(Double(clock.now.offset.components.seconds)) },
            retryDelay: .seconds(5),
            keepAliveInterval: .seconds(60),
            journal: journal,
            forwarding: configuration.forwarding,
            seed: seed
        )
        let running = Task { await controller.run() }
        try await body(ControllerUnderTest(clock: clock, frontEnd: frontEnd, events: events, journal: journal, running: running))
        await running.value
    }

    /// Inputs handed over from a thread of their own, one at a time, as the console's reader does.
    public func type(_ inputs: [ATMInput]) {
        let events = self.events
        Thread { for input in inputs { events.submit(input) } }.start()
    }

    public func waitFor(_ text: String, times: Int = 1, sourceLocation: SourceLocation = #_sourceLocation) async {
        await self.frontEnd.waitFor(text, times: times, sourceLocation: sourceLocation)
    }

    /// Moves the clock past the next wait of at most `duration` (a timer of the session, a reconnect, a
    /// keep-alive), once something waits that long.
    public func advance(_ duration: Duration, sourceLocation: SourceLocation = #_sourceLocation) async {
        await self.clock.sleeper(within: duration, sourceLocation: sourceLocation)
        self.clock.advance(by: duration)
    }

    /// Everything shown, one line after another.
    public var shown: String { self.frontEnd.lines.joined(separator: "\n") }
}

/// A new empty folder under the system's temporary folder.
public func temporaryFolder() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cashpoint-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}
