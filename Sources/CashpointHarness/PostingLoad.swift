import ATM87
import CashpointBank
import CashpointDatabase
public import CashpointStore
import Foundation
public import Logging
public import PostgresNIO

/// The posting-throughput benchmark's load: `clients` concurrent callers make transfers between
/// random pairs of `accounts` accounts through `BankStore.post`, the switch's posting path (one SQL
/// transaction each: idempotency key, locks in id order, checks, two ledger lines, audit row), for a
/// fixed time. It is the switch's equivalent of `shared/bench/pg-transfer.sql`.
public enum PostingLoad {
    public struct Result: Sendable, Hashable {
        public var clients: Int
        public var seconds: Double
        public var approved: Int
        public var refused: Int
        public var errors: Int
        public var sealed: Int
        /// Postings transaction monitoring's worker examined during the round (0 with monitoring off).
        public var examined: Int = 0
        /// The machine's busy CPU time over the measured window (`MachineCPU`), when it could be read.
        public var cpuMicroseconds: Int64?
        /// This process's own CPU time over the measured window: the client's part of `cpuMicroseconds`.
        public var clientMicroseconds: Int64?
        public var throughput: Double { Double(self.approved + self.refused) / self.seconds }
        /// The machine's CPU per answered posting over the measured window, in microseconds.
        public var cpuPerPosting: Double? { self.perPosting(self.cpuMicroseconds) }
        /// The client's CPU per answered posting over the measured window, in microseconds.
        public var clientCPUPerPosting: Double? { self.perPosting(self.clientMicroseconds) }

        private func perPosting(_ microseconds: Int64?) -> Double? {
            guard let microseconds, self.approved + self.refused > 0 else { return nil }
            return Double(microseconds) / Double(self.approved + self.refused)
        }
    }

    /// Makes a bench bank: settings, one branch terminal, `accounts` customers with one funded account each.
    public static func prepare(store: BankStore, accounts: Int) async throws {
        let system = ActorContext.system("bench")
        try await store.configure(actor: system, currency: "978", maxPINTries: 3, maxPasswordTries: 5)
        _ = try await store.openInternalAccount(
            actor: system,
            accountNo: "BENCHEQUITY",
            name: "Equity",
            kind: "bank_equity"
        )
        _ = try await store.openInternalAccount(
            actor: system,
            accountNo: "BENCHDRAWER",
            name: "Drawer",
            kind: "teller_drawer"
        )
        try await store.registerTerminal(
            actor: system,
            terminal: "BENCH",
            kind: "branch",
            location: "bench",
            cashAccount: "BENCHDRAWER"
        )
        for number in 1...accounts {
            let user = try await store.createCustomer(
                actor: system,
                userName: "bench\(number)",
                fullName: "Bench \(number)"
            )
            let account = Self.account(number)
            _ = try await store.openAccount(
                actor: system,
                userID: user,
                accountNo: account,
                name: "Bench \(number)",
                dailyLimit: nil,
                dailyCount: nil
            )
            try await store.postOpening(
                actor: system,
                account: account,
                amount: 1_000_000_000,
                equityAccount: "BENCHEQUITY"
            )
        }
    }

    /// Adds `count` quiet customer accounts (each with its customer, no money, no card) to the bench
    /// bank, so the busy accounts sit in a bank of realistic size, as the yardstick's 100 busy accounts
    /// sit among `pgbench -i -s 10`'s 1,000,000. With only the busy accounts in the table the planner
    /// prefers reading the whole small table to an index, a cost no real bank's switch pays.
    ///
    /// Written in two statements by the cluster's superuser (a bench's set-up, not the switch's path),
    /// then vacuumed and analyzed, so the switch's plans see the bank's real size.
    public static func addQuietAccounts(_ count: Int, connection: PostgresConnection, logger: Logger) async throws {
        guard count > 0 else { return }
        try await connection.query(
            """
            INSERT INTO bank.users (user_name, full_name, role)
            SELECT 'quiet' || g, 'Quiet ' || g, 'customer' FROM generate_series(1, \(count)) AS g
            """,
            logger: logger
        )
        try await connection.query(
            """
            INSERT INTO bank.accounts (account_no, name, kind, user_id, currency)
            SELECT 'BQ' || lpad(u.id::text, 10, '0'), u.full_name, 'customer', u.id, s.currency
            FROM bank.users u CROSS JOIN bank.settings s
            WHERE u.user_name LIKE 'quiet%'
            """,
            logger: logger
        )
        // As pgbench -i does after loading: vacuumed now, so no autovacuum of a million new rows (and
        // the hint bits they still need) falls into a measured round.
        try await connection.query("VACUUM (ANALYZE) bank.users, bank.accounts", logger: logger)
    }

    public static func account(_ number: Int) -> String { "BE" + Self.zeroPadded(number, width: 10) }

    /// `value` in decimal, zero-padded on the left to `width` digits. The load generator's own cost
    /// should not count against the posting path (`String(format:)` took 7% of this process's time).
    static func zeroPadded(_ value: Int, width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// Runs the load for `duration` after `warmup`, with the audit sealer running when `sealer` is given
    /// and transaction monitoring's worker (`BankStore.monitor`, as the switch's worker runs it) when
    /// `monitoring`. Caller `i` runs on `executors[i % count]` when executors are given (the switch runs
    /// each connection's task on its channel's event loop), else on Swift's global executor.
    public static func run(
        store: BankStore,
        accounts: Int,
        clients: Int,
        warmup: Duration,
        duration: Duration,
        sealer: AuditSealer?,
        monitoring: Bool = false,
        round: Int,
        executors: [any TaskExecutor] = []
    ) async throws -> Result {
        let teller = ActorContext(role: .teller, userID: nil, name: "bench.teller", device: "BENCH", ip: nil)
        let numbers = [""] + (1...accounts).map(Self.account)
        let start = ContinuousClock.now + warmup
        let end = start + duration
        // The machine's CPU and this process's over the measured window, read at its start and end by
        // a task that does nothing else.
        let cpu = Task<(machine: Int64?, client: Int64?), Never> {
            func elapsed(_ before: Int64?, _ after: Int64?) -> Int64? {
                guard let before, let after else { return nil }
                return after - before
            }
            try? await Task.sleep(until: start, clock: .continuous)
            let (before, clientBefore) = (MachineCPU.busyMicroseconds(), MachineCPU.processMicroseconds())
            try? await Task.sleep(until: end, clock: .continuous)
            let (after, clientAfter) = (MachineCPU.busyMicroseconds(), MachineCPU.processMicroseconds())
            return (elapsed(before, after), elapsed(clientBefore, clientAfter))
        }
        let examined = Task<Int, Never> {
            var examined = 0
            while monitoring && ContinuousClock.now < end {
                let round = try? await store.monitor(limit: 500)
                examined += round?.examined ?? 0
                if (round?.remaining ?? 0) == 0 { try? await Task.sleep(for: .milliseconds(200)) }
            }
            return examined
        }
        let totals = try await withThrowingTaskGroup(of: (Int, Int, Int, Int).self) { group in
            if let sealer {
                group.addTask {
                    var sealed = 0
                    while ContinuousClock.now < end {
                        sealed += (try? await sealer.sealAll()) ?? 0
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                    return (0, 0, 0, sealed)
                }
            }
            for client in 0..<clients {
                let executor = executors.isEmpty ? nil : executors[client % executors.count]
                group.addTask(executorPreference: executor) {
                    // The load generator's own choices (accounts, amounts) come from a seeded
                    // generator, as pgbench's \set random does: SystemRandomNumberGenerator is a
                    // getrandom system call for every draw, CPU that the comparison would count
                    // against the switch.
                    var generator = SplitMix64(seed: UInt64.random(in: .min ... .max))
                    var (approved, refused, errors) = (0, 0, 0)
                    // Each caller numbers its requests as a terminal does: the STAN keeps counting from
                    // round to round (100,000 apart), so a round's keys follow the earlier rounds' in the
                    // idempotency index instead of landing among them. Restarting at 1 every round filled
                    // old index pages with page splits, a cost no switch pays and one that fell on every
                    // second round (the chain-on one).
                    var stan = round * 100_000
                    while ContinuousClock.now < end {
                        stan += 1
                        let a = Int.random(in: 1...accounts, using: &generator)
                        var b = Int.random(in: 1...accounts, using: &generator)
                        while b == a { b = Int.random(in: 1...accounts, using: &generator) }
                        let amount = Int64.random(in: 1...100, using: &generator)
                        let key = IdempotencyKey(
                            terminal: "BENCH",
                            stan: Self.zeroPadded(stan % 1_000_000, width: 6),
                            transmitted: Self.zeroPadded(round % 100, width: 2)
                                + Self.zeroPadded(client % 100, width: 2)
                                + Self.zeroPadded(stan / 1_000_000, width: 6)
                        )
                        let counted = ContinuousClock.now >= start
                        do {
                            let result = try await store.post(
                                .transfer,
                                actor: teller,
                                cardID: nil,
                                key: key,
                                digest: RequestDigest.of(["transfer", String(amount), numbers[a], numbers[b]]),
                                amount: amount,
                                from: numbers[a],
                                to: numbers[b]
                            )
                            if counted && ContinuousClock.now < end {
                                if result.code.isApproved { approved += 1 } else { refused += 1 }
                            }
                        } catch {
                            if counted { errors += 1 }
                        }
                    }
                    return (approved, refused, errors, 0)
                }
            }
            return try await group.reduce(into: (0, 0, 0, 0)) {
                $0 = ($0.0 + $1.0, $0.1 + $1.1, $0.2 + $1.2, $0.3 + $1.3)
            }
        }
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return Result(
            clients: clients,
            seconds: seconds,
            approved: totals.0,
            refused: totals.1,
            errors: totals.2,
            sealed: totals.3,
            examined: await examined.value,
            cpuMicroseconds: await cpu.value.machine,
            clientMicroseconds: await cpu.value.client
        )
    }
}
