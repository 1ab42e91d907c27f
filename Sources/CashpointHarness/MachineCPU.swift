import Foundation

/// The CPU time the whole machine has spent working (user, nice, system, irq and softirq; not idle,
/// not I/O wait, not time stolen by the hypervisor), from the first line of `/proc/stat`.
///
/// The posting benchmark divides it by the postings of a measured window: the CPU one posting costs
/// the machine, the switch's client and PostgreSQL together. On a CPU-bound machine that figure, set
/// against the same figure for the yardstick's transaction, is what the throughput ratio follows,
/// and it moves less than throughput when the machine's speed changes between rounds.
public enum MachineCPU {
    /// Busy time since boot, in microseconds; nil where `/proc/stat` cannot be read (not Linux).
    public static func busyMicroseconds() -> Int64? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return Self.busyMicroseconds(procStat: text, ticksPerSecond: Int64(sysconf(Int32(_SC_CLK_TCK))))
    }

    /// Parses the `cpu ` line of `/proc/stat`: user nice system idle iowait irq softirq steal ...
    static func busyMicroseconds(procStat: String, ticksPerSecond: Int64) -> Int64? {
        guard ticksPerSecond > 0,
            let line = procStat.split(separator: "\n", maxSplits: 1).first, line.hasPrefix("cpu ")
        else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Int64($0) }
        guard fields.count >= 7 else { return nil }
        let busyTicks = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
        return busyTicks * 1_000_000 / ticksPerSecond
    }

    /// The CPU time this process has used (user and system, all its threads), in microseconds: the
    /// switch's client side of a posting, when the benchmark runs the posting path in-process. Nil
    /// where `getrusage` fails.
    public static func processMicroseconds() -> Int64? {
        var usage = rusage()
        guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return nil }
        return (Int64(usage.ru_utime.tv_sec) + Int64(usage.ru_stime.tv_sec)) * 1_000_000
            + Int64(usage.ru_utime.tv_usec) + Int64(usage.ru_stime.tv_usec)
    }
}
