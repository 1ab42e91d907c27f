import ATM87

/// The faults `atm-harness bank --chaos` injects.
public enum ChaosFault: String, Sendable, Hashable, CaseIterable, Comparable, Codable {
    /// `kill -9` of the switch, then its restart (the `--restart-switch` command does both).
    case killSwitch = "kill -9 switch"
    /// PostgreSQL restarted without a clean shutdown (`pg_ctl restart -m immediate`, `--restart-database`).
    case restartDatabase = "restart PostgreSQL"
    /// Every terminal's connection cut, from the terminals' side.
    case cutConnections = "cut terminal connections"
    /// Every byte between the switch and the database held back for a while.
    case delayDatabase = "delay switch-database"
    /// Nothing passes between the switch and the database for a while (black hole), then it heals.
    case partitionDatabase = "partition switch-database"
    /// `kill -9` of the PostgreSQL primary's node (its postmaster and its pg_autoctl), mid-load; returns
    /// once the monitor has promoted the secondary (`--kill-primary`).
    case killPrimary = "kill -9 PostgreSQL primary"
    /// The killed node started again, rejoining as the new primary's secondary (`--rejoin-primary`):
    /// fired after each `killPrimary`, once the secondary has been promoted.
    case rejoinPrimary = "old primary back as secondary"

    /// The faults of a run on one PostgreSQL server behind the database proxy (`scripts/bank-check`).
    public static let singleServer: [ChaosFault] = [
        .killSwitch, .restartDatabase, .cutConnections, .delayDatabase, .partitionDatabase,
    ]
    /// The faults of a run on a pg_auto_failover cluster with several switches (`scripts/bank-check-ha`):
    /// one switch killed while the others serve, the primary killed and the old primary back, cuts.
    public static let highAvailability: [ChaosFault] = [.killSwitch, .killPrimary, .rejoinPrimary, .cutConnections]

    /// The faults the schedule draws; the others fire as the recovery of one of these.
    public var isScheduled: Bool { self != .rejoinPrimary }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        Self.allCases.firstIndex(of: lhs)! < Self.allCases.firstIndex(of: rhs)!
    }
}

/// When each fault fires, drawn from a seed: the same seed, length and faults give the same schedule.
/// Every kind fires at least once (or at least as often as `atLeast` says); the faults are spread over
/// the first 70% of the run (the rest lets the system settle), one time slot each, in a shuffled order,
/// at a random moment of its slot. A fault that takes longer than its slot (a failover) delays the next.
public struct ChaosSchedule: Sendable, Hashable {
    public struct Event: Sendable, Hashable {
        /// From the start of the run.
        public var at: Duration
        public var fault: ChaosFault
        /// How long a delay or a partition lasts (unused for the others).
        public var length: Duration
        /// The delay added to every chunk of bytes (delay only).
        public var delay: Duration
    }

    public var seed: UInt64
    public var events: [Event]

    /// A slot is at least this long, so that a restart is over before the next fault.
    public static let minimumSlot: Duration = .seconds(6)

    public init(
        seed: UInt64,
        duration: Duration,
        faults kinds: [ChaosFault] = ChaosFault.singleServer,
        atLeast: [ChaosFault: Int] = [:],
        slot minimumSlot: Duration = Self.minimumSlot
    ) {
        self.seed = seed
        var generator = SplitMix64(seed: seed)
        let window = duration * 0.7
        let start = duration * 0.05
        let kinds = kinds.filter(\.isScheduled)
        var faults = kinds
        for kind in kinds { faults += Array(repeating: kind, count: max(0, (atLeast[kind] ?? 1) - 1)) }
        let slots = max(faults.count, Int((window - start) / minimumSlot))
        while faults.count < slots { faults.append(kinds.randomElement(using: &generator)!) }
        faults.shuffle(using: &generator)
        let slot = (window - start) / slots
        self.events = faults.enumerated().map { index, fault in
            let jitter = Double.random(in: 0..<0.4, using: &generator)
            return Event(
                at: start + slot * index + slot * jitter,
                fault: fault,
                length: .milliseconds(Int.random(in: 2_000...5_000, using: &generator)),
                delay: .milliseconds(Int.random(in: 100...700, using: &generator))
            )
        }
    }
}
