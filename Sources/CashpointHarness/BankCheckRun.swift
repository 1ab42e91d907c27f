public import CashpointDatabase
import CashpointStore
public import CashpointTerminal
import Foundation
#if canImport(Glibc)
import Glibc
#endif
public import Logging
import Synchronization

/// `atm-harness bank`: N terminals send transfers, withdrawals, deposits and balance inquiries among a
/// fixed set of accounts while a reader reads every balance a few times a second; with chaos, faults
/// fire at moments drawn from the seed. Then every request still in doubt is settled by its reversal,
/// the end state and the ledger are read, and `BankCheckChecker` judges the history.
///
/// The terminals reach the switches through a `ChaosProxy` per switch of the run's own (to cut their
/// connections); each terminal starts on one switch and moves to the next whenever it connects again.
/// With chaos on one PostgreSQL server, the switch reaches it through another proxy, listening on
/// `databaseProxyPort` (the switch must be started with its database URL pointing there: `startSwitch` is
/// run once that proxy listens). With chaos on a pg_auto_failover cluster (`killPrimary` given), the
/// switches use the cluster's multi-host URL and the faults are those of `ChaosFault.highAvailability`.
public struct BankCheck: Sendable {
    /// The commands that start, restart and kill things, run with `/bin/bash -c`.
    public struct Commands: Sendable {
        /// Run once the database proxy listens, before the first request; must return once the switch
        /// listens (or at once, if the switch is already running).
        public var startSwitch: String?
        /// `kill -9` of a switch and its start again; returns once it listens. The switch's index in the
        /// list (0 for the first) is appended as an argument: with several, each kill takes the next.
        public var restartSwitch: String?
        /// `pg_ctl restart -m immediate`; returns once PostgreSQL accepts connections.
        public var restartDatabase: String?
        /// `kill -9` of the cluster's primary node; returns once the secondary has been promoted.
        public var killPrimary: String?
        /// Starts the killed node again; returns once it is the new primary's secondary.
        public var rejoinPrimary: String?

        public init(
            startSwitch: String? = nil,
            restartSwitch: String? = nil,
            restartDatabase: String? = nil,
            killPrimary: String? = nil,
            rejoinPrimary: String? = nil
        ) {
            self.startSwitch = startSwitch
            self.restartSwitch = restartSwitch
            self.restartDatabase = restartDatabase
            self.killPrimary = killPrimary
            self.rejoinPrimary = rejoinPrimary
        }

        /// A run on a pg_auto_failover cluster: the primary is killed, not restarted behind a proxy.
        public var isCluster: Bool { self.killPrimary != nil }
    }

    /// The bank's switches (one, or several on one database).
    public var switches: [SwitchAddress]
    public var terminals: [SwitchLoad.Terminal]
    /// The superuser's URL of the bank's database, for the reads (directly, not through the proxy).
    public var databaseURL: DatabaseURL
    public var duration: Duration
    public var seed: UInt64
    public var chaos: Bool
    /// Where the database proxy listens, and the PostgreSQL it forwards to; nil for no proxy.
    public var databaseProxy: (port: Int, upstreamHost: String, upstreamPort: Int)?
    public var commands: Commands
    public var mix = try! LoadMix(parsing: "withdrawal=30,deposit=25,transfer=35,balance=10")
    public var largestAmount: Int64 = 20_000
    /// No answer within this: the request is in doubt. Above the switch's own 8.6 s bound.
    public var requestTimeout: Duration = .seconds(20)
    /// How long after the end the terminals may take to settle what they owe.
    public var settleTime: Duration = .seconds(120)
    /// With the switch still running behind the proxy after the run: how long its audit sealer may take
    /// to seal every audit row written until then; nil: not checked (a switch without an audit key).
    public var auditSealedWithin: Duration?
    /// A cluster run: the least number of times the primary is killed.
    public var failovers = 1

    /// The faults this run injects.
    public var faults: [ChaosFault] {
        guard self.chaos else { return [] }
        return self.commands.isCluster ? ChaosFault.highAvailability : ChaosFault.singleServer
    }

    public init(
        switches: [SwitchAddress],
        terminals: [SwitchLoad.Terminal],
        databaseURL: DatabaseURL,
        duration: Duration,
        seed: UInt64,
        chaos: Bool,
        databaseProxy: (port: Int, upstreamHost: String, upstreamPort: Int)?,
        commands: Commands
    ) {
        precondition(!switches.isEmpty, "a bank check needs a switch")
        self.switches = switches
        self.terminals = terminals
        self.databaseURL = databaseURL
        self.duration = duration
        self.seed = seed
        self.chaos = chaos
        self.databaseProxy = databaseProxy
        self.commands = commands
    }

    /// Why the check could not run at all (as opposed to findings, which are its result).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public func run(logger: Logger, progress: @escaping @Sendable (String) -> Void) async throws -> BankCheckReport {
        if self.chaos && self.commands.isCluster {
            guard self.commands.restartSwitch != nil, self.commands.rejoinPrimary != nil else {
                throw Failure(description: "--chaos with --kill-primary needs --rejoin-primary and --restart-switch")
            }
        } else if self.chaos {
            guard self.databaseProxy != nil, self.commands.restartSwitch != nil, self.commands.restartDatabase != nil
            else {
                throw Failure(
                    description: "--chaos needs the database proxy (--proxy-port, --proxy-upstream) and the commands "
                        + "--restart-switch and --restart-database"
                )
            }
        }
        let databaseProxy = self.databaseProxy.map { ChaosProxy(upstreamHost: $0.upstreamHost, upstreamPort: $0.upstreamPort) }
        if let databaseProxy, let port = self.databaseProxy?.port { try await databaseProxy.start(port: port) }
        let terminalProxies = self.switches.map { ChaosProxy(upstreamHost: $0.host, upstreamPort: $0.port) }
        for proxy in terminalProxies { try await proxy.start(port: 0) }
        if let start = self.commands.startSwitch {
            progress("starting the switch: \(start)")
            let status = await BankCheckCommand.run(start)
            guard status == 0 else { throw Failure(description: "the switch did not start (\(start): exit status \(status))") }
        }
        let opening = try await self.readUntilAnswered(logger: logger, within: .seconds(60))

        let stop = BankCheckStop()
        let recorder = BankCheckRecorder()
        let faults = BankCheckFaults()
        let reads = BankCheckShared((snapshots: [BankCheckSnapshot](), failed: 0))
        let schedule =
            self.chaos
            ? ChaosSchedule(
                seed: self.seed,
                duration: self.duration,
                faults: self.faults,
                atLeast: [.killPrimary: self.failovers],
                // A failover and the old primary's return take half a minute: fewer, longer slots.
                slot: self.commands.isCluster ? .seconds(15) : ChaosSchedule.minimumSlot
            ) : nil
        let start = ContinuousClock.now
        let settleBy = BankCheckShared(start + self.duration + self.settleTime)
        let settleDeadline: @Sendable () -> ContinuousClock.Instant = { settleBy.withLock { $0 } }
        progress(
            "seed \(self.seed): \(self.terminals.count) terminals"
                + (self.switches.count > 1 ? " across \(self.switches.count) switches" : "")
                + " for \(self.duration)" + (self.chaos ? " with chaos" : "")
        )

        await withTaskGroup(of: Void.self) { group in
            for (index, terminal) in self.terminals.enumerated() {
                let driver = BankCheckTerminal(
                    terminal: terminal,
                    index: index,
                    host: "127.0.0.1",
                    ports: terminalProxies.map(\.port),
                    start: start,
                    mix: self.mix,
                    largestAmount: self.largestAmount,
                    seed: self.seed,
                    requestTimeout: self.requestTimeout,
                    settleDeadline: settleDeadline,
                    note: { progress("\(Self.seconds(ContinuousClock.now - start)) s: \($0)") }
                )
                group.addTask { await driver.run(stop: stop, recorder: recorder) }
            }
            // The reader: every balance, a few times a second, until the terminals stop.
            group.addTask {
                while !stop.isStopped {
                    do {
                        let snapshot = try await BankCheckDatabase.snapshot(self.databaseURL, logger: logger)
                        reads.withLock { $0.snapshots.append(snapshot) }
                    } catch {
                        reads.withLock { $0.failed += 1 }
                    }
                    try? await Task.sleep(for: .milliseconds(250))
                }
            }
            // The clock: stop once the duration is over and every fault has fired and healed.
            group.addTask {
                if let schedule {
                    for event in schedule.events {
                        try? await Task.sleep(until: start + event.at, clock: .continuous)
                        progress("\(Self.seconds(ContinuousClock.now - start)) s: \(event.fault.rawValue)")
                        await self.inject(
                            event,
                            at: ContinuousClock.now - start,
                            terminalProxies: terminalProxies,
                            databaseProxy: databaseProxy,
                            faults: faults,
                            progress: progress
                        )
                    }
                    // The last fault's recovery, before the end.
                    try? await Task.sleep(for: .seconds(5))
                }
                try? await Task.sleep(until: start + self.duration, clock: .continuous)
                let end = ContinuousClock.now
                settleBy.withLock { $0 = end + self.settleTime }
                stop.stop()
                progress("\(Self.seconds(end - start)) s: time is up; settling what is in doubt")
            }
            // A progress line every 10 seconds.
            group.addTask {
                var second = 10
                while !stop.isStopped {
                    try? await Task.sleep(until: start + .seconds(second), clock: .continuous)
                    let state = recorder.snapshot
                    let inDoubt = state.requests.filter { if case .inDoubt = $0.outcome { true } else { false } }.count
                    progress("\(second) s: \(state.requests.count) requests, \(inDoubt) in doubt")
                    second += 10
                }
            }
        }
        let ran = ContinuousClock.now - start
        progress("\(Self.seconds(ran)) s: reading the end state and the ledger")
        let final = try await self.readUntilAnswered(logger: logger, within: .seconds(120))
        let ledger = try await self.retrying(within: .seconds(120)) {
            try await BankCheckDatabase.ledger(self.databaseURL, terminals: self.terminals.map(\.id), logger: logger)
        }
        // The switch can still reach its database (the proxy is up): its sealer must catch up.
        var unsealedAuditRows: Int? = nil
        if let within = self.auditSealedWithin {
            progress("\(Self.seconds(ContinuousClock.now - start)) s: waiting for the switch to seal the audit log")
            unsealedAuditRows = try await self.retrying(within: .seconds(120)) {
                try await self.databaseURL.withClient(logger: logger, maximumConnections: 1) { client in
                    try await AuditVerifier.waitForSealer(client: client, within: within, logger: logger)
                }
            }
        }
        for proxy in terminalProxies { await proxy.stop() }
        await databaseProxy?.stop()
        let state = recorder.snapshot
        let (snapshots, failedReads) = reads.withLock { ($0.snapshots, $0.failed) }
        let verdict = BankCheckChecker.check(
            requests: state.requests,
            ledger: ledger,
            opening: opening,
            reads: snapshots,
            final: final
        )
        return BankCheckReport(
            seed: self.seed,
            terminals: self.terminals.count,
            seconds: Self.seconds(ran),
            chaos: self.chaos,
            requests: state.requests,
            inquiries: state.inquiries,
            reconnects: state.reconnects,
            failedReads: failedReads,
            ledgerRows: ledger.count,
            faults: faults.fired,
            faultKinds: self.faults,
            faultErrors: faults.errors,
            failovers: BankCheckFailover.measure(kills: faults.primaryKills, requests: state.requests),
            verdict: verdict,
            auditSealedWithin: self.auditSealedWithin,
            unsealedAuditRows: unsealedAuditRows
        )
    }

    /// Fires `event`, `at` from the start of the run, and returns once it has healed or the system has
    /// recovered from it (the restarted switch listens, the secondary is promoted and the old primary back).
    func inject(
        _ event: ChaosSchedule.Event,
        at: Duration,
        terminalProxies: [ChaosProxy],
        databaseProxy: ChaosProxy?,
        faults: BankCheckFaults,
        progress: @Sendable (String) -> Void
    ) async {
        @Sendable func run(_ fault: ChaosFault, _ command: String?) async -> Bool {
            let command = command ?? ""
            let status = await BankCheckCommand.run(command)
            guard status == 0 else {
                faults.failed("\(fault.rawValue): \(command) exited with status \(status)")
                return false
            }
            faults.fired(fault)
            return true
        }
        switch event.fault {
        case .killSwitch:
            let instance = (faults.fired[.killSwitch] ?? 0) % self.switches.count
            if self.switches.count > 1 { progress("killing switch \(instance) (\(self.switches[instance]))") }
            _ = await run(.killSwitch, self.commands.restartSwitch.map { "\($0) \(instance)" })
        case .restartDatabase:
            _ = await run(.restartDatabase, self.commands.restartDatabase)
        case .killPrimary:
            let killed = ContinuousClock.now
            guard await run(.killPrimary, self.commands.killPrimary) else { return }
            faults.primaryKilled(at: at, promotedAfter: ContinuousClock.now - killed)
            progress("the secondary was promoted \(Self.seconds(ContinuousClock.now - killed)) s after the kill")
            _ = await run(.rejoinPrimary, self.commands.rejoinPrimary)
        case .rejoinPrimary:
            _ = await run(.rejoinPrimary, self.commands.rejoinPrimary)
        case .cutConnections:
            let cut = terminalProxies.reduce(0) { $0 + $1.cutAll() }
            faults.fired(event.fault)
            progress("\(cut) terminal connections cut")
        case .delayDatabase:
            databaseProxy?.setDelay(event.delay)
            faults.fired(event.fault)
            try? await Task.sleep(for: event.length)
            databaseProxy?.setDelay(.zero)
        case .partitionDatabase:
            databaseProxy?.partition()
            faults.fired(event.fault)
            try? await Task.sleep(for: event.length)
            databaseProxy?.heal()
        }
    }

    /// Every balance, trying again while PostgreSQL is away (a restart), for at most `within`.
    func readUntilAnswered(logger: Logger, within: Duration) async throws -> BankCheckSnapshot {
        try await self.retrying(within: within) { try await BankCheckDatabase.snapshot(self.databaseURL, logger: logger) }
    }

    func retrying<T: Sendable>(within: Duration, _ body: @Sendable () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + within
        while true {
            do {
                return try await body()
            } catch {
                guard ContinuousClock.now < deadline else {
                    throw Failure(description: "PostgreSQL did not answer within \(within): \(String(reflecting: error))")
                }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        ((Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18) * 10).rounded() / 10
    }
}

/// A value the run's tasks share.
final class BankCheckShared<Value: Sendable>: Sendable {
    let mutex: Mutex<Value>
    init(_ value: Value) { self.mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { self.mutex.withLock { body(&$0) } }
}

/// Which faults fired, and which could not; when each primary was killed.
final class BankCheckFaults: Sendable {
    let state = Mutex(
        (fired: [ChaosFault: Int](), errors: [String](), kills: [(at: Duration, promotedAfter: Duration)]())
    )
    func fired(_ fault: ChaosFault) { self.state.withLock { $0.fired[fault, default: 0] += 1 } }
    func failed(_ error: String) { self.state.withLock { $0.errors.append(error) } }
    func primaryKilled(at: Duration, promotedAfter: Duration) {
        self.state.withLock { $0.kills.append((at, promotedAfter)) }
    }
    var fired: [ChaosFault: Int] { self.state.withLock { $0.fired } }
    var errors: [String] { self.state.withLock { $0.errors } }
    var primaryKills: [(at: Duration, promotedAfter: Duration)] { self.state.withLock { $0.kills } }
}

/// A command of the operator's, run with `/bin/bash -c`, its output passed through.
enum BankCheckCommand {
    /// The exit status (127 when it could not be started, 128 + N when killed by signal N). Spawned and
    /// waited for on a thread of its own: Foundation's `Process` reports the end of a command that
    /// leaves a process in the background (the switch it starts) only when that process ends too.
    /// The command gets standard input, output and error and no other descriptor of the harness's: a
    /// daemon it leaves behind (a database node brought back) would otherwise hold the terminals'
    /// connections open after the harness closed them, and a cut would not reach the terminal.
    static func run(_ command: String) async -> Int32 {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                // bash closes every descriptor above 2 before it runs the command (glibc's
                // posix_spawn_file_actions_addclosefrom_np is not visible to Swift; dash's exec takes
                // only one-digit descriptors).
                let closeTheRest = #"for fd in /proc/self/fd/*; do fd="${fd##*/}"; [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done; eval "$0""#
                let words: [String] = ["/bin/bash", "-c", closeTheRest, command]
                var arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
                defer { for argument in arguments { free(argument) } }
                var pid: pid_t = 0
                guard posix_spawn(&pid, "/bin/bash", nil, nil, &arguments, environ) == 0 else {
                    continuation.resume(returning: 127)
                    return
                }
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                let signal = status & 0x7F
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xFF : 128 + signal)
            }
            thread.start()
        }
    }
}
