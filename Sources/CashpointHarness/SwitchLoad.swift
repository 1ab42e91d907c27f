import ATM87
import CashpointBank
import CashpointSecurity
public import CashpointStore
public import CashpointTerminal
public import Crypto
import Foundation
import Synchronization

/// Why a load could not run: said so that the person running it knows what to do.
public struct LoadFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The bank fixture cannot give the terminals and cards asked for.
        case fixture
        /// A terminal could not connect, sign on or open its card session.
        case startUp
    }

    public var kind: Kind
    public var reason: String
    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }
    public var description: String { self.reason }
}

/// Load on a running switch over TCP, as a bank's ATMs make it: every terminal connects over its own
/// connection and signs on (0800, its own session keys), all at once; each opens a card session with
/// its card's PIN (bcrypt once), then sends token transactions drawn from a mix (withdrawals, balance
/// inquiries, transfers between the card's two accounts, deposits), each MACed, each answer's MAC
/// checked. Closed loop (each terminal sends when its last answer is in) or open loop at a rate for
/// all terminals together (`LoadPacing`: latency from the intended send time). The measured window
/// follows a warm-up; latencies go into an HDR histogram (`LoadStatistics`).
public struct SwitchLoad: Sendable {
    /// One load terminal: its id and master key, and the card its sessions use with two of its accounts;
    /// with `otherCards`, the cards it takes in turn after the first (a cash-out ring: many cards at one
    /// ATM, each request a new card session with its PIN, as a new customer at the machine).
    public struct Terminal: Sendable {
        public struct Card: Sendable {
            public var pan: String
            public var pin: String
            public var accounts: (first: String, second: String)
        }

        public var id: String
        public var masterKey: SymmetricKey
        public var pan: String
        public var pin: String
        public var accounts: (first: String, second: String)
        public var otherCards: [Card] = []

        public init(id: String, masterKey: SymmetricKey, pan: String, pin: String, accounts: (String, String)) {
            self.id = id
            self.masterKey = masterKey
            self.pan = pan
            self.pin = pin
            self.accounts = accounts
        }

        /// The cards in the order the terminal takes them.
        public var cards: [Card] { [Card(pan: self.pan, pin: self.pin, accounts: self.accounts)] + self.otherCards }
    }

    /// What each kind of request moves, in minor units. With the default mix a withdrawal's 20.00 four
    /// times against a deposit's 80.00 once leaves balances where they were; transfers go back and forth.
    public struct Amounts: Sendable, Hashable {
        public var withdrawal: Int = 2_000
        public var deposit: Int = 8_000
        public var transfer: Int = 100
        public init() {}
    }

    /// The bank's switches: terminal `i` signs on to the `i`-th, round the list.
    public var switches: [SwitchAddress]
    public var terminals: [Terminal]
    public var mix: LoadMix
    /// Requests a second, all terminals together; nil for a closed loop.
    public var rate: Double?
    public var duration: Duration
    public var warmup: Duration
    public var seed: UInt64
    public var amounts = Amounts()

    public init(
        switches: [SwitchAddress],
        terminals: [Terminal],
        mix: LoadMix = .atm,
        rate: Double? = nil,
        duration: Duration,
        warmup: Duration = .seconds(1),
        seed: UInt64 = 1
    ) {
        precondition(!switches.isEmpty, "a load needs a switch")
        self.switches = switches
        self.terminals = terminals
        self.mix = mix
        self.rate = rate
        self.duration = duration
        self.warmup = warmup
        self.seed = seed
    }

    /// The first `count` ATMs of a bank fixture that have a test master key, each with a card that
    /// names two accounts (terminal `i` takes the `i`-th such card, round the list; with
    /// `cardsPerTerminal` k, the cards `i*k` to `i*k+k-1`, round the list). Each terminal signs on once
    /// over its own connection, so there must be `count` of them.
    public static func terminals(_ count: Int, from fixture: BankFixture, cardsPerTerminal: Int = 1) throws -> [Terminal] {
        let atms = fixture.terminals.filter { $0.kind == "atm" && $0.masterKey != nil }
        let cards = fixture.customers.flatMap(\.cards).filter { $0.accounts.count >= 2 }
        guard count <= atms.count else {
            throw LoadFailure(
                .fixture,
                "the bank fixture has \(atms.count) ATMs with test master keys, and every load terminal signs on "
                    + "over its own connection: for \(count), write a load bank (atm-harness load-bank --terminals "
                    + "\(count) > FILE), seed it (atm-switch seed FILE) and pass --fixture FILE"
            )
        }
        guard !cards.isEmpty else {
            throw LoadFailure(.fixture, "the bank fixture has no card that names two accounts (transfers need two)")
        }
        guard cardsPerTerminal >= 1, cardsPerTerminal <= cards.count else {
            throw LoadFailure(
                .fixture,
                "the bank fixture has \(cards.count) cards that name two accounts: a terminal cannot take "
                    + "\(cardsPerTerminal) different ones"
            )
        }
        return try atms.prefix(count).enumerated().map { index, atm in
            let card = cards[index * cardsPerTerminal % cards.count]
            let key: SecretKey
            do {
                key = try SecretKey(hex: atm.masterKey ?? "", name: "master key of \(atm.id)")
            } catch {
                throw LoadFailure(.fixture, "\(error)")
            }
            var terminal = Terminal(
                id: atm.id,
                masterKey: key.key,
                pan: card.pan,
                pin: card.pin,
                accounts: (card.accounts[0], card.accounts[1])
            )
            terminal.otherCards = (1..<cardsPerTerminal).map { offset in
                let other = cards[(index * cardsPerTerminal + offset) % cards.count]
                return Terminal.Card(pan: other.pan, pin: other.pin, accounts: (other.accounts[0], other.accounts[1]))
            }
            return terminal
        }
    }

    /// Runs the load: every terminal signed on and in its card session first, then `warmup` and the
    /// measured `duration`. `progress` is called once a second from the start of the warm-up.
    public func run(progress: (@Sendable (LoadProgress) -> Void)? = nil) async throws -> LoadReport {
        try await self.measure(progress: progress).report
    }

    /// `run`, with the measured window's statistics (the latency histogram) beside the report.
    public func measure(
        progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) async throws -> (report: LoadReport, statistics: LoadStatistics) {
        let recorder = LoadRecorder()
        let gate = StartGate(expected: self.terminals.count)
        let outcomes = try await withThrowingTaskGroup(of: TerminalOutcome.self) { group in
            for (index, terminal) in self.terminals.enumerated() {
                group.addTask {
                    try await self.drive(terminal, index: index, gate: gate, recorder: recorder)
                }
            }
            if let progress {
                group.addTask {
                    guard let start = await gate.started() else { return TerminalOutcome() }
                    let seconds = Int((self.warmup + self.duration).inSeconds.rounded(.up))
                    for second in 1...max(1, seconds) {
                        try await Task.sleep(until: start + .seconds(second), clock: .continuous)
                        progress(
                            LoadProgress(
                                second: second,
                                warmingUp: .seconds(second) <= self.warmup,
                                interval: recorder.takeInterval()
                            )
                        )
                    }
                    return TerminalOutcome()
                }
            }
            var outcomes: [TerminalOutcome] = []
            for try await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        let statistics = recorder.total
        let report = LoadReport(
            statistics: statistics,
            terminals: self.terminals.count,
            targetRate: self.rate,
            mix: self.mix,
            seconds: self.duration.inSeconds,
            unsent: outcomes.reduce(0) { $0 + $1.unsent },
            terminalsLost: outcomes.filter(\.lost).count,
            switches: min(self.switches.count, self.terminals.count)
        )
        return (report, statistics)
    }

    struct TerminalOutcome: Sendable {
        var unsent = 0
        var lost = false
    }

    /// One terminal: connect, sign on, open the card session, wait for the others, then send on its
    /// schedule until the end of the run.
    func drive(
        _ terminal: Terminal,
        index: Int,
        gate: StartGate,
        recorder: LoadRecorder
    ) async throws -> TerminalOutcome {
        var arrived = false
        do {
            let address = self.switches[index % self.switches.count]
            return try await SwitchLink.with(host: address.host, port: address.port) { link in
                let session = TerminalSession(link: link, terminal: terminal.id, masterKey: terminal.masterKey)
                let signOn = try await session.signOn()
                guard signOn[39] == "00" else {
                    throw LoadFailure(
                        .startUp,
                        "terminal \(terminal.id): the sign-on answered \(signOn[39] ?? "nothing")"
                    )
                }
                let opened = try await session.cardRequest(
                    .balance,
                    pan: terminal.pan,
                    pin: terminal.pin,
                    from: terminal.accounts.first
                )
                guard opened[39] == "00" else {
                    throw LoadFailure(
                        .startUp,
                        "terminal \(terminal.id): the card session did not open, response code \(opened[39] ?? "none")"
                    )
                }
                arrived = true
                guard let start = await gate.arrive(failed: false) else { return TerminalOutcome() }
                return await self.send(session, terminal, index: index, start: start, recorder: recorder)
            }
        } catch {
            if !arrived { _ = await gate.arrive(failed: true) }
            if let failure = error as? LoadFailure { throw failure }
            throw LoadFailure(.startUp, "terminal \(terminal.id) could not start: \(error)")
        }
    }

    /// The terminal's requests from `start` to the end of the run.
    func send(
        _ session: TerminalSession,
        _ terminal: Terminal,
        index: Int,
        start: ContinuousClock.Instant,
        recorder: LoadRecorder
    ) async -> TerminalOutcome {
        let clock = ContinuousClock()
        let end = self.warmup + self.duration
        var schedule = LoadSchedule(.forTerminal(index, of: self.terminals.count, rate: self.rate))
        var generator = SplitMix64.stream(index, of: self.seed)
        var transfers = 0
        var pin: String?
        let cards = terminal.cards
        var sent = 0
        while true {
            let now = clock.now - start
            guard now < end else { break }
            let intended = schedule.next(now: now)
            guard intended < end else { break }
            if intended > now { try? await Task.sleep(until: start + intended, clock: clock) }
            let kind = self.mix.draw(using: &generator)
            let measured = intended >= self.warmup
            // One card: its session goes on with the token. Several: each request is the next card's,
            // a new card session with its PIN.
            let card = cards[sent % cards.count]
            sent += 1
            if cards.count > 1 { pin = card.pin }
            do {
                let answer: ATM87Message
                let (first, second) = (card.accounts.first, card.accounts.second)
                switch kind {
                case .withdrawal:
                    answer = try await session.cardRequest(
                        .withdrawal,
                        pan: card.pan,
                        pin: pin,
                        amount: self.amounts.withdrawal,
                        from: first
                    )
                case .deposit:
                    answer = try await session.cardRequest(
                        .deposit,
                        pan: card.pan,
                        pin: pin,
                        amount: self.amounts.deposit,
                        to: first
                    )
                case .balance:
                    answer = try await session.cardRequest(.balance, pan: card.pan, pin: pin, from: first)
                case .transfer:
                    transfers += 1
                    answer = try await session.cardRequest(
                        .transfer,
                        pan: card.pan,
                        pin: pin,
                        amount: self.amounts.transfer,
                        from: transfers.isMultiple(of: 2) ? second : first,
                        to: transfers.isMultiple(of: 2) ? first : second
                    )
                }
                let code = answer[39] ?? "--"
                recorder.record(kind, code: code, latency: clock.now - (start + intended), measured: measured)
                // 63: the card session's token was refused (it expired, after at most two minutes): the
                // terminal opens a new card session with the PIN, as an ATM asks for the card again.
                pin = code == ResponseCode.securityViolation.rawValue ? card.pin : nil
            } catch {
                recorder.recordError(measured: measured)
                return TerminalOutcome(unsent: schedule.unsent(before: end), lost: true)
            }
        }
        return TerminalOutcome(unsent: schedule.unsent(before: end), lost: false)
    }
}

/// The statistics all terminals record into: the measured run's and the current second's.
final class LoadRecorder: Sendable {
    let state = Mutex((total: LoadStatistics(), interval: LoadStatistics()))

    func record(_ kind: LoadKind, code: String, latency: Duration, measured: Bool) {
        self.state.withLock {
            if measured { $0.total.record(kind, code: code, latency: latency) }
            $0.interval.record(kind, code: code, latency: latency)
        }
    }

    func recordError(measured: Bool) {
        self.state.withLock {
            if measured { $0.total.recordError() }
            $0.interval.recordError()
        }
    }

    /// The current second's statistics, and a fresh start for the next.
    func takeInterval() -> LoadStatistics {
        self.state.withLock {
            let interval = $0.interval
            $0.interval = LoadStatistics()
            return interval
        }
    }

    var total: LoadStatistics { self.state.withLock { $0.total } }
}

/// Holds every terminal until all have signed on and opened their card sessions, so the load starts
/// at once; nil for all when any could not.
actor StartGate {
    let expected: Int
    var arrived = 0
    var failed = false
    var start: ContinuousClock.Instant??
    var waiters: [CheckedContinuation<ContinuousClock.Instant?, Never>] = []

    init(expected: Int) { self.expected = expected }

    func arrive(failed: Bool) async -> ContinuousClock.Instant? {
        self.arrived += 1
        self.failed = self.failed || failed
        if self.arrived == self.expected {
            let start: ContinuousClock.Instant? = self.failed ? nil : .now
            self.start = .some(start)
            for waiter in self.waiters { waiter.resume(returning: start) }
            self.waiters = []
        }
        return await self.started()
    }

    /// The instant the run started, once every terminal has arrived; nil if one failed.
    func started() async -> ContinuousClock.Instant? {
        if let start = self.start { return start }
        return await withCheckedContinuation { self.waiters.append($0) }
    }
}
