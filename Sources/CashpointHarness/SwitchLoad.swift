import ATM87
import CashpointSecurity
public import CashpointStore
public import CashpointTerminal
public import Crypto
import Foundation
import NIOCore
import NIOPosix
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
    /// The terminals' first requests spread over this time from the run's start (ramp-up).
    public var ramp: Duration = .zero
    /// A closed loop's pause after each answer before the terminal's next request.
    public var think: Duration = .zero
    /// Scripts played beside the mix by script users of their own, from the run's start to its end.
    public var scripts: ScriptLoad?

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

    /// `count` ATMs of a bank fixture with test master keys, after the first `skip`, with their keys;
    /// `shortage` (given how many the fixture has) says what is missing when it has too few.
    static func keyedATMs(
        _ count: Int,
        from fixture: BankFixture,
        after skip: Int,
        shortage: (Int) -> String
    ) throws(LoadFailure) -> [(id: String, key: SymmetricKey)] {
        let atms = fixture.terminals.filter { $0.kind == "atm" && $0.masterKey != nil }
        guard skip + count <= atms.count else { throw LoadFailure(.fixture, shortage(atms.count)) }
        var keyed: [(id: String, key: SymmetricKey)] = []
        for atm in atms.dropFirst(skip).prefix(count) {
            do {
                keyed.append((atm.id, try SecretKey(hex: atm.masterKey ?? "", name: "master key of \(atm.id)").key))
            } catch {
                throw LoadFailure(.fixture, "\(error)")
            }
        }
        return keyed
    }

    /// Runs the load: every terminal signed on and in its card session first, then `warmup` and the
    /// measured `duration`. `progress` is called once a second from the start of the warm-up.
    public func run(progress: (@Sendable (LoadProgress) -> Void)? = nil) async throws -> LoadReport {
        try await self.measure(progress: progress).report
    }

    /// `run`, with the measured window's statistics (the latency histogram) beside the report. The
    /// terminals run on one event loop of their own (`LoadDriver`); `progress` is called from a task.
    public func measure(
        progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) async throws -> (report: LoadReport, statistics: LoadStatistics) {
        let recorder = LoadRecorder()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let started = loop.makePromise(of: Void.self)
        let finished = loop.makePromise(of: [TerminalOutcome].self)
        loop.execute {
            LoadDriver(self, loop: loop, recorder: recorder, started: started, outcomes: finished).run()
        }
        let reporter = progress.map { progress in
            Task {
                guard (try? await started.futureResult.get()) != nil else { return }
                let start = ContinuousClock.now
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
            }
        }
        let scripted = self.scripts.map { scripts in
            Task { () -> ScriptLoadTally? in
                guard (try? await started.futureResult.get()) != nil else { return nil }
                return await scripts.play(from: .now, warmup: self.warmup, end: self.warmup + self.duration)
            }
        }
        let outcomes: [TerminalOutcome]
        do {
            outcomes = try await finished.futureResult.get()
        } catch {
            scripted?.cancel()
            reporter?.cancel()
            try? await group.shutdownGracefully()
            throw error
        }
        _ = await reporter?.result
        let scriptTally = await scripted?.value
        try? await group.shutdownGracefully()
        let statistics = recorder.total
        var report = LoadReport(
            statistics: statistics,
            terminals: self.terminals.count,
            targetRate: self.rate,
            mix: self.mix,
            seconds: self.duration.inSeconds,
            unsent: outcomes.reduce(0) { $0 + $1.unsent },
            terminalsLost: outcomes.filter(\.lost).count,
            switches: min(self.switches.count, self.terminals.count),
            ramp: self.ramp,
            think: self.think
        )
        if let scripts = self.scripts, let scriptTally {
            report.script = ScriptLoadReport(scriptTally, load: scripts, seconds: self.duration.inSeconds)
        }
        return (report, statistics)
    }

    struct TerminalOutcome: Sendable {
        var unsent = 0
        var lost = false
    }

    /// The card request of a kind for a card (`pin`: with the PIN, else with the card session's token):
    /// withdrawals and balance inquiries from its first account, deposits to it, transfers between its
    /// two accounts, the other way round when `reversed`.
    func cardRequest(_ kind: LoadKind, card: Terminal.Card, pin: String?, reversed: Bool) -> CardRequest {
        let (first, second) = card.accounts
        switch kind {
        case .withdrawal:
            return CardRequest(
                TransactionKind.withdrawal.code,
                pan: card.pan,
                amount: Int64(self.amounts.withdrawal),
                from: first,
                pin: pin
            )
        case .deposit:
            return CardRequest(
                TransactionKind.deposit.code,
                pan: card.pan,
                amount: Int64(self.amounts.deposit),
                to: first,
                pin: pin
            )
        case .balance:
            return CardRequest(TransactionKind.balance.code, pan: card.pan, from: first, pin: pin)
        case .transfer:
            return CardRequest(
                TransactionKind.transfer.code,
                pan: card.pan,
                amount: Int64(self.amounts.transfer),
                from: reversed ? second : first,
                to: reversed ? first : second,
                pin: pin
            )
        }
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
