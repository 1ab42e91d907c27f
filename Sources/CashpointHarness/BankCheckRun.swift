public import CashpointDatabase
import CashpointStore
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
/// The terminals reach the switch through a `ChaosProxy` of the run's own (to cut their connections);
/// with chaos, the switch reaches PostgreSQL through another, listening on `databaseProxyPort` (the switch
/// must be started with its database URL pointing there: `startSwitch` is run once that proxy listens).
public struct BankCheck: Sendable {
    /// The commands that start, restart and kill things, run with `/bin/sh -c`.
    public struct Commands: Sendable {
        /// Run once the database proxy listens, before the first request; must return once the switch
        /// listens (or at once, if the switch is already running).
        public var startSwitch: String?
        /// `kill -9` of the switch and its start again; returns once it listens.
        public var restartSwitch: String?
        /// `pg_ctl restart -m immediate`; returns once PostgreSQL accepts connections.
        public var restartDatabase: String?

        public init(startSwitch: String? = nil, restartSwitch: String? = nil, restartDatabase: String? = nil) {
            self.startSwitch = startSwitch
            self.restartSwitch = restartSwitch
            self.restartDatabase = restartDatabase
        }
    }

    public var switchHost: String
    public var switchPort: Int
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

    public init(
        switchHost: String,
        switchPort: Int,
        terminals: [SwitchLoad.Terminal],
        databaseURL: DatabaseURL,
        duration: Duration,
        seed: UInt64,
        chaos: Bool,
        databaseProxy: (port: Int, upstreamHost: String, upstreamPort: Int)?,
        commands: Commands
    ) {
        self.switchHost = switchHost
        self.switchPort = switchPort
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
        if self.chaos {
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
        let terminalProxy = ChaosProxy(upstreamHost: self.switchHost, upstreamPort: self.switchPort)
        try await terminalProxy.start(port: 0)
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
        let schedule = self.chaos ? ChaosSchedule(seed: self.seed, duration: self.duration) : nil
        let start = ContinuousClock.now
        let settleBy = BankCheckShared(start + self.duration + self.settleTime)
        let settleDeadline: @Sendable () -> ContinuousClock.Instant = { settleBy.withLock { $0 } }
        progress("seed \(self.seed): \(self.terminals.count) terminals for \(self.duration)" + (self.chaos ? " with chaos" : ""))

        await withTaskGroup(of: Void.self) { group in
            for (index, terminal) in self.terminals.enumerated() {
                let driver = BankCheckTerminal(
                    terminal: terminal,
                    index: index,
                    host: "127.0.0.1",
                    port: terminalProxy.port,
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
                            terminalProxy: terminalProxy,
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
        await terminalProxy.stop()
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
            faultErrors: faults.errors,
            verdict: verdict,
            auditSealedWithin: self.auditSealedWithin,
            unsealedAuditRows: unsealedAuditRows
        )
    }

    func inject(
        _ event: ChaosSchedule.Event,
        terminalProxy: ChaosProxy,
        databaseProxy: ChaosProxy?,
        faults: BankCheckFaults,
        progress: @Sendable (String) -> Void
    ) async {
        switch event.fault {
        case .killSwitch, .restartDatabase:
            let command = (event.fault == .killSwitch ? self.commands.restartSwitch : self.commands.restartDatabase) ?? ""
            let status = await BankCheckCommand.run(command)
            if status == 0 {
                faults.fired(event.fault)
            } else {
                faults.failed("\(event.fault.rawValue): \(command) exited with status \(status)")
            }
        case .cutConnections:
            let cut = terminalProxy.cutAll()
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

/// Which faults fired, and which could not.
final class BankCheckFaults: Sendable {
    let state = Mutex((fired: [ChaosFault: Int](), errors: [String]()))
    func fired(_ fault: ChaosFault) { self.state.withLock { $0.fired[fault, default: 0] += 1 } }
    func failed(_ error: String) { self.state.withLock { $0.errors.append(error) } }
    var fired: [ChaosFault: Int] { self.state.withLock { $0.fired } }
    var errors: [String] { self.state.withLock { $0.errors } }
}

/// A command of the operator's, run with `/bin/sh -c`, its output passed through.
enum BankCheckCommand {
    /// The exit status (127 when it could not be started, 128 + N when killed by signal N). Spawned and
    /// waited for on a thread of its own: Foundation's `Process` reports the end of a command that
    /// leaves a process in the background (the switch it starts) only when that process ends too.
    static func run(_ command: String) async -> Int32 {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                let words: [String] = ["/bin/sh", "-c", command]
                var arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
                defer { for argument in arguments { free(argument) } }
                var pid: pid_t = 0
                guard posix_spawn(&pid, "/bin/sh", nil, nil, &arguments, environ) == 0 else {
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
