import ATM87
public import CashpointStore
public import CashpointTerminal
public import Crypto
import Foundation

/// Scripts played as part of a load (`atm-harness load --script FILE`): script users, each a terminal
/// of its own, play a script's runs (its data rows, each repetition) over and over beside the load's
/// fixed mix, every step built, sent and checked as `atm-harness run` does (`ScriptRunner`), so a
/// tester's own sequence and its expectations are what the switch answers under load.
///
/// - Each user plays the script as its own terminal (the fixture's ATMs after the busy and idle
///   ones), not the script's `terminal`: a terminal signs on over one connection, and a second sign-on
///   of the same terminal replaces its session keys under the first.
/// - The runs are dealt out: user `u` of `U` plays runs `u`, `u + U`, `u + 2U`, ... and then again
///   from its first, so a run (a data row, with its card) is only ever played by one user, and never
///   by two at once: a row's checks on its own card's balances hold under load, as long as the mix's
///   terminals do not use that card.
/// - A user plays one run, then starts another while the load's window (warm-up and measured time) is
///   open, and plays each to its end; the runs that start in the warm-up are checked but not measured.
/// - A user's STANs go on from run to run, as a terminal's do.
public struct ScriptLoad: Sendable {
    /// A script user: the terminal it plays and the switch it talks to.
    public struct User: Sendable {
        public var terminal: String
        public var masterKey: SymmetricKey
        public var address: SwitchAddress

        public init(terminal: String, masterKey: SymmetricKey, address: SwitchAddress) {
            self.terminal = terminal
            self.masterKey = masterKey
            self.address = address
        }
    }

    /// One run of a script's steps: which script, and which of its iterations (data row, repetition).
    struct Run: Sendable {
        var plan: Int
        var iteration: ScriptPlan.Iteration
    }

    public let plans: [ScriptPlan]
    public let users: [User]
    /// Every run of every script, in the order `atm-harness run` plays them.
    let runs: [Run]
    /// How long a step waits for its answer unless it says `timeout`.
    public var defaultTimeout: Duration = .seconds(10)

    /// Refuses more users than runs: a user without a run of its own would share another's data row.
    public init(plans: [ScriptPlan], users: [User]) throws(LoadFailure) {
        self.plans = plans
        self.users = users
        self.runs = plans.enumerated().flatMap { index, plan in
            plan.iterations.map { Run(plan: index, iteration: $0) }
        }
        guard !users.isEmpty else { throw LoadFailure(.fixture, "a script load needs at least one script user") }
        guard users.count <= self.runs.count else {
            throw LoadFailure(
                .fixture,
                "\(users.count) script users, but the scripts have \(self.runs.count) runs (data rows times "
                    + "repeat): each user plays runs of its own, so that no two play one row's card at once; "
                    + "pass --script-users \(self.runs.count) or fewer, or give the script more data rows"
            )
        }
    }

    /// The runs user `user` of `users` plays, in order, before it starts again from its first.
    static func share(_ user: Int, of users: Int, runs: Int) -> [Int] {
        Array(stride(from: user, to: runs, by: users))
    }

    /// The STAN after a run of `steps` steps that started at `first`.
    static func stan(after first: Int, steps: Int) -> Int {
        STAN.after(first - 1 + max(steps, 1)).value
    }

    /// `count` users: the fixture's ATMs with a test master key after the first `skip` (the busy and
    /// idle terminals'), user `i` on the `i`-th switch, round the list.
    public static func users(
        _ count: Int,
        from fixture: BankFixture,
        after skip: Int,
        switches: [SwitchAddress]
    ) throws(LoadFailure) -> [User] {
        try SwitchLoad.keyedATMs(count, from: fixture, after: skip) { atms in
            "the bank fixture has \(atms) ATMs with test master keys: the load's \(skip) terminals and "
                + "\(count) script users need \(skip + count), each user a terminal of its own (write the load "
                + "bank with atm-harness load-bank --terminals \(skip + count))"
        }.enumerated().map { index, atm in
            User(terminal: atm.id, masterKey: atm.key, address: switches[index % switches.count])
        }
    }

    /// Every user plays its runs until `end` (from `start`); the runs that start before `warmup` are
    /// not measured. Returns when every user's last run is over.
    func play(from start: ContinuousClock.Instant, warmup: Duration, end: Duration) async -> ScriptLoadTally {
        await withTaskGroup(of: ScriptLoadTally.self) { group in
            for user in self.users.indices {
                group.addTask { await self.play(user, from: start, warmup: warmup, end: end) }
            }
            var total = ScriptLoadTally()
            for await tally in group { total.add(tally) }
            return total
        }
    }

    func play(_ index: Int, from start: ContinuousClock.Instant, warmup: Duration, end: Duration) async -> ScriptLoadTally {
        let user = self.users[index]
        let key = user.masterKey
        var runner = ScriptRunner(
            host: user.address.host,
            port: user.address.port,
            masterKey: { _ in key },
            say: { _ in }
        )
        runner.defaultTimeout = self.defaultTimeout
        let mine = Self.share(index, of: self.users.count, runs: self.runs.count)
        var tally = ScriptLoadTally()
        var stan = Int.random(in: 1...900_000)
        var turn = 0
        repeat {
            let run = self.runs[mine[turn % mine.count]]
            turn += 1
            let plan = self.plans[run.plan]
            var script = plan.script
            script.terminal = user.terminal
            let began = ContinuousClock.now
            let result = await runner.run(
                script,
                file: plan.file,
                variables: run.iteration.variables,
                label: run.iteration.label,
                firstSTAN: stan
            )
            stan = Self.stan(after: stan, steps: script.steps.count)
            tally.record(result, terminal: user.terminal, measured: began >= start + warmup)
        } while ContinuousClock.now < start + end && !Task.isCancelled
        return tally
    }
}

/// What the script users' runs came to. Steps of every run count as passed, failed, errors or skipped
/// (a failure is one whenever it happens); latencies and response codes only from measured runs.
struct ScriptLoadTally: Sendable {
    var runs = 0
    var measuredRuns = 0
    var passed = 0
    var failed = 0
    var errors = 0
    var skipped = 0
    /// Seconds from send to answer of each answered step of the measured runs.
    var latencies: [Double] = []
    var codes: [String: Int] = [:]
    /// The first failures, one line each, and how many there were in all.
    var failures: [String] = []
    var failureCount = 0

    static let failuresKept = 10

    mutating func record(_ result: ScriptResult, terminal: String, measured: Bool) {
        self.runs += 1
        if measured { self.measuredRuns += 1 }
        for step in result.steps {
            switch step.status {
            case .passed: self.passed += 1
            case .failed: self.failed += 1
            case .error: self.errors += 1
            case .skipped: self.skipped += 1
            }
            if step.status == .failed || step.status == .error {
                self.failureCount += 1
                if self.failures.count < Self.failuresKept {
                    self.failures.append("\(result.name) as \(terminal), step \(step.index) \(step.name): \(step.headline)")
                }
            }
            guard measured, let seconds = step.answerSeconds else { continue }
            self.latencies.append(seconds)
            self.codes[step.code ?? "--", default: 0] += 1
        }
    }

    mutating func add(_ other: Self) {
        self.runs += other.runs
        self.measuredRuns += other.measuredRuns
        self.passed += other.passed
        self.failed += other.failed
        self.errors += other.errors
        self.skipped += other.skipped
        self.latencies += other.latencies
        self.codes.merge(other.codes, uniquingKeysWith: +)
        self.failures += other.failures.prefix(Self.failuresKept - min(self.failures.count, Self.failuresKept))
        self.failureCount += other.failureCount
    }
}

/// The script users' part of a load report (`load: ...` then `script: ...` lines; in JSON, `script`).
public struct ScriptLoadReport: Sendable, Codable, Hashable {
    /// The scripts' names.
    public var scripts: [String]
    /// The users' terminals.
    public var terminals: [String]
    /// Runs of the steps played in all, and in the measured window.
    public var runs: Int
    public var measuredRuns: Int
    /// Steps of every run, warm-up included, by outcome.
    public var passed: Int
    public var failed: Int
    public var errors: Int
    public var skipped: Int
    /// Answered steps of the measured runs, a second over the measured window.
    public var answered: Int
    public var throughput: Double
    /// Milliseconds from a step's send to its answer (measured runs).
    public var latencyMilliseconds: LoadReport.Latency
    /// The measured runs' answers by response code.
    public var codes: [String: Int]
    /// The first failures (`card-rows [row 2] as LOAD0010, step 3 ...: file:line: problem`).
    public var failures: [String]
    public var failureCount: Int

    init(_ tally: ScriptLoadTally, load: ScriptLoad, seconds: Double) {
        self.scripts = load.plans.map(\.script.name)
        self.terminals = load.users.map(\.terminal)
        self.runs = tally.runs
        self.measuredRuns = tally.measuredRuns
        self.passed = tally.passed
        self.failed = tally.failed
        self.errors = tally.errors
        self.skipped = tally.skipped
        self.answered = tally.latencies.count
        self.throughput = seconds > 0 ? Double(tally.latencies.count) / seconds : 0
        let sorted = tally.latencies.sorted()
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            // Nearest rank: the smallest latency at or above p% of them.
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1] * 1000
        }
        self.latencyMilliseconds = LoadReport.Latency(
            p50: percentile(50),
            p90: percentile(90),
            p99: percentile(99),
            p999: percentile(99.9),
            max: (sorted.last ?? 0) * 1000,
            mean: sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count) * 1000
        )
        self.codes = tally.codes
        self.failures = tally.failures
        self.failureCount = tally.failureCount
    }

    /// Steps that failed or could not be done.
    public var failedSteps: Int { self.failed + self.errors }

    public var text: String {
        let latency = self.latencyMilliseconds
        let who = self.terminals.count == 1 ? "1 user (\(self.terminals[0]))" : "\(self.terminals.count) users"
        var lines = [
            "script: \(self.scripts.joined(separator: ", ")) by \(who): \(self.runs) runs "
                + "(\(self.measuredRuns) measured), \(LoadReport.number(Double(self.answered), digits: 0)) answers "
                + "measured, \(LoadReport.number(self.throughput, digits: 1))/s; steps \(self.passed) passed, "
                + "\(self.failed) failed, \(self.errors) errors, \(self.skipped) skipped",
            "script latency (ms, send to answer): p50 \(LoadReport.number(latency.p50, digits: 2)), "
                + "p90 \(LoadReport.number(latency.p90, digits: 2)), p99 \(LoadReport.number(latency.p99, digits: 2)), "
                + "max \(LoadReport.number(latency.max, digits: 2))",
            "script response codes: " + LoadReport.counts(self.codes, total: self.answered),
        ]
        lines += self.failures.map { "script FAIL: \($0)" }
        if self.failureCount > self.failures.count {
            lines.append("script: \(self.failureCount - self.failures.count) more failed steps")
        }
        return lines.joined(separator: "\n")
    }
}
