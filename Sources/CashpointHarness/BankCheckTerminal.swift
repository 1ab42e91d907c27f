import ATM87
import CashpointBank
import CashpointTerminal
import Foundation
import Synchronization

/// What the bank check's terminals record: every money-moving request with its outcome and reversal,
/// and the answers to balance inquiries.
final class BankCheckRecorder: Sendable {
    struct State {
        var requests: [BankCheckRequest] = []
        var inquiries: [String: Int] = [:]
        var reconnects = 0
    }

    let state = Mutex(State())

    /// Records a request; returns its index, by which its reversal is recorded.
    func record(_ request: BankCheckRequest) -> Int {
        self.state.withLock {
            $0.requests.append(request)
            return $0.requests.count - 1
        }
    }

    func recordReversal(_ reversal: BankCheckReversal, of index: Int) {
        self.state.withLock { $0.requests[index].reversal = reversal }
    }

    func recordInquiry(code: String) { self.state.withLock { $0.inquiries[code, default: 0] += 1 } }
    func recordReconnect() { self.state.withLock { $0.reconnects += 1 } }

    var snapshot: State { self.state.withLock { $0 } }
}

/// Set when the run's time is up: terminals send no new request, only the reversals they still owe.
final class BankCheckStop: Sendable {
    let stopped = Atomic<Bool>(false)
    func stop() { self.stopped.store(true, ordering: .relaxed) }
    var isStopped: Bool { self.stopped.load(ordering: .relaxed) }
}

/// Why a terminal drops its connection and connects again.
struct BankCheckReconnect: Error {
    var reason: String
}

/// One terminal of the bank check: connects (again, after any failure), signs on, and sends requests
/// drawn from the mix, each recorded with its outcome. A request without a usable answer (none, a lost
/// connection, 91, 96) is in doubt: the terminal sends its reversal advice (0420, then 0421 repeats of
/// the same advice) before anything else, until it is answered, as an ATM's store-and-forward queue does.
struct BankCheckTerminal: Sendable {
    var terminal: SwitchLoad.Terminal
    var index: Int
    var host: String
    /// The ports of the bank's switches (through the run's proxies): the terminal starts on the
    /// `index`-th, round the list, and moves to the next each time it connects again, as an ATM with
    /// several switch addresses does on a lost link.
    var ports: [Int]
    /// The run's start, from which each request's send and end are measured.
    var start: ContinuousClock.Instant
    var mix: LoadMix
    /// The largest amount of a request, minor units; amounts are whole units (multiples of 100) from 1.00.
    var largestAmount: Int64
    var seed: UInt64
    var requestTimeout: Duration
    /// Past it, a terminal gives up the reversal it still owes (the checker then names the request).
    var settleDeadline: @Sendable () -> ContinuousClock.Instant
    /// Told of each request that goes in doubt and of each reversal answered.
    var note: @Sendable (String) -> Void = { _ in }

    /// A request in doubt whose reversal has not been acknowledged.
    struct Owed {
        var index: Int
        var original: ATM87Message
        var advice: ATM87Message?
        var attempts = 0
    }

    func run(stop: BankCheckStop, recorder: BankCheckRecorder) async {
        var generator = SplitMix64.stream(self.index, of: self.seed)
        var stan = Int.random(in: 1...500_000, using: &generator)
        var owed: Owed?
        var backoff: Duration = .milliseconds(200)
        var next = self.index
        while owed != nil || !stop.isStopped {
            if owed != nil && ContinuousClock.now > self.settleDeadline() { return }
            let port = self.ports[next % self.ports.count]
            next += 1
            do {
                try await SwitchLink.with(host: self.host, port: port) { link in
                    let session = TerminalSession(
                        link: link,
                        terminal: self.terminal.id,
                        masterKey: self.terminal.masterKey,
                        firstSTAN: stan + 1
                    )
                    defer { stan = session.stan }
                    let signOn = try await session.signOn()
                    guard signOn[39] == "00" else {
                        throw BankCheckReconnect(reason: "sign-on answered \(signOn[39] ?? "nothing")")
                    }
                    backoff = .milliseconds(200)
                    try await self.session(session, owed: &owed, generator: &generator, stop: stop, recorder: recorder)
                }
                if owed == nil && stop.isStopped { return }
            } catch {
                // Connection refused (the switch restarting), lost, or a sign-on refused (91: the database
                // away): wait a little, longer each time, and connect again.
            }
            recorder.recordReconnect()
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(2))
        }
    }

    /// Requests over one signed-on session until the run stops or the connection fails.
    func session(
        _ session: TerminalSession,
        owed: inout Owed?,
        generator: inout SplitMix64,
        stop: BankCheckStop,
        recorder: BankCheckRecorder
    ) async throws {
        // The card session is opened with the PIN on the first request of every connection.
        var pin: String? = self.terminal.pin
        while true {
            if var debt = owed {
                let settled = try await self.settle(&debt, session: session, recorder: recorder)
                owed = settled ? nil : debt
                if !settled {
                    try await Task.sleep(for: .milliseconds(500))
                    continue
                }
            }
            guard !stop.isStopped else { return }
            let kind = self.mix.draw(using: &generator)
            let amount = Int64.random(in: 1...max(1, self.largestAmount / 100), using: &generator) * 100
            let (first, second) = self.terminal.accounts
            let swap = Bool.random(using: &generator)
            let operation: BankCheckOperation
            let card: CardRequest
            switch kind {
            case .balance:
                let inquiry = CardRequest(TransactionKind.balance.code, pan: self.terminal.pan, from: first, pin: pin)
                let answer = try await self.send(session.build(inquiry), session: session)
                let code = answer?[39] ?? "--"
                recorder.recordInquiry(code: code)
                guard answer != nil else { throw BankCheckReconnect(reason: "no answer to a balance inquiry") }
                pin = code == ResponseCode.securityViolation.rawValue ? self.terminal.pin : nil
                continue
            case .withdrawal:
                let from = swap ? second : first
                operation = BankCheckOperation(.withdrawal, amount: amount, from: from)
                card = CardRequest(TransactionKind.withdrawal.code, pan: self.terminal.pan, amount: amount, from: from, pin: pin)
            case .deposit:
                let to = swap ? second : first
                operation = BankCheckOperation(.deposit, amount: amount, to: to)
                card = CardRequest(TransactionKind.deposit.code, pan: self.terminal.pan, amount: amount, to: to, pin: pin)
            case .transfer:
                let (from, to) = swap ? (second, first) : (first, second)
                operation = BankCheckOperation(.transfer, amount: amount, from: from, to: to)
                card = CardRequest(TransactionKind.transfer.code, pan: self.terminal.pan, amount: amount, from: from, to: to, pin: pin)
            }
            let request = try session.build(card)
            let key = Self.key(of: request)
            let sent = ContinuousClock.now - self.start
            var lost: BankCheckDoubt?
            let answer: ATM87Message?
            do {
                answer = try await session.send(cardRequest: request, timeout: self.requestTimeout)
            } catch let error as LinkError {
                answer = nil
                lost = error.kind == .timeout ? .noAnswer : .connectionLost
            } catch {
                answer = nil
                lost = .connectionLost
            }
            let outcome = answer.map { BankCheckOutcome.of(responseCode: $0[39] ?? "--") } ?? .inDoubt(lost!)
            let index = recorder.record(
                BankCheckRequest(
                    key: key,
                    operation: operation,
                    outcome: outcome,
                    sent: sent,
                    ended: ContinuousClock.now - self.start
                )
            )
            if case .inDoubt(let why) = outcome {
                owed = Owed(index: index, original: request)
                self.note("\(key) \(operation.kind.rawValue) in doubt: \(why.rawValue)")
            }
            guard let answer else { throw BankCheckReconnect(reason: "request \(key) got no answer") }
            // 63: the card session's token was refused (expired, or the switch restarted): the PIN again.
            pin = answer[39] == ResponseCode.securityViolation.rawValue ? self.terminal.pin : nil
        }
    }

    /// A request's key: fields 41, 11 and 7.
    static func key(of message: ATM87Message) -> BankCheckKey {
        BankCheckKey(terminal: message[41] ?? "", stan: message[11] ?? "", transmitted: message[7] ?? "")
    }

    /// Sends a balance inquiry; nil when no answer came (the connection is then closed).
    func send(_ request: ATM87Message, session: TerminalSession) async throws -> ATM87Message? {
        do {
            return try await session.send(cardRequest: request, timeout: self.requestTimeout)
        } catch is LinkError {
            return nil
        }
    }

    /// Sends (or repeats) the reversal advice of a request in doubt. True when it was answered with
    /// anything but 91 or 96 (00: settled; any other code is recorded for the checker to name); a lost
    /// connection throws, to connect again.
    func settle(_ owed: inout Owed, session: TerminalSession, recorder: BankCheckRecorder) async throws -> Bool {
        let answer: ATM87Message
        owed.attempts += 1
        if let advice = owed.advice {
            answer = try await session.reversal(
                of: owed.original,
                dispensed: nil,
                repeatOf: advice,
                timeout: self.requestTimeout
            )
        } else {
            let advice = try session.reversalAdvice(of: owed.original, dispensed: nil)
            owed.advice = advice
            // Recorded before it is sent: its row, if it gets one, is then explained whatever happens next.
            recorder.recordReversal(BankCheckReversal(key: Self.key(of: advice), attempts: 1), of: owed.index)
            answer = try await session.send(advice, timeout: self.requestTimeout)
        }
        let code = answer[39] ?? "--"
        let key = Self.key(of: owed.advice!)
        let final = code != "91" && code != "96"
        // The first answer and the last: a repeat every half second while the database is away says nothing new.
        if final || owed.attempts == 1 {
            self.note("\(Self.key(of: owed.original)): its reversal answered \(code) (attempt \(owed.attempts))")
        }
        recorder.recordReversal(
            BankCheckReversal(key: key, answer: final ? code : nil, attempts: owed.attempts),
            of: owed.index
        )
        return final
    }
}
