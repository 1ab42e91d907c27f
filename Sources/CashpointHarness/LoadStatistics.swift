import Foundation
public import Histogram

/// When a load terminal sends its next request.
///
/// Closed loop: as soon as the last answer is in, so the switch's speed sets the load, and a latency is
/// what one request waited. Open loop: on a fixed schedule, request `k` of a terminal at
/// `phase + k * interval` from the run's start, whatever the switch does. A terminal that is behind
/// sends at once, and its latency is counted from the *intended* send time, so the time a request
/// spent waiting for the terminal's previous one counts too: the correction for coordinated omission
/// (a load generator that waits for a slow answer before sending the next request would otherwise
/// leave out exactly the requests that a stall delayed).
public enum LoadPacing: Sendable, Hashable {
    case closedLoop
    /// `interval` between one terminal's requests; `phase` before its first, so that terminals do not
    /// all send at the same instant.
    case openLoop(interval: Duration, phase: Duration)

    /// The pacing of terminal `index` of `terminals` sharing `rate` requests a second (nil: closed loop).
    public static func forTerminal(_ index: Int, of terminals: Int, rate: Double?) -> Self {
        guard let rate, rate > 0 else { return .closedLoop }
        let interval = Duration.nanoseconds(Int64((Double(terminals) / rate * 1e9).rounded()))
        return .openLoop(interval: interval, phase: interval * index / terminals)
    }
}

/// One terminal's schedule: the intended send time of each request, as a time since the run's start.
/// Pure: the caller says what time it is.
///
/// `start` delays the terminal's first request (a ramp-up: terminal `i` of `n` starts at `ramp * i / n`,
/// so the load grows over the ramp instead of arriving at once); an open loop's whole schedule moves by
/// it. `think`, in a closed loop, is the pause after an answer before the next request (a customer
/// reading the screen); the latency is counted from the end of the pause.
public struct LoadSchedule: Sendable, Hashable {
    public let pacing: LoadPacing
    public let start: Duration
    public let think: Duration
    /// How many intended send times have been handed out.
    public private(set) var issued = 0

    public init(_ pacing: LoadPacing, start: Duration = .zero, think: Duration = .zero) {
        self.pacing = pacing
        self.start = start
        self.think = think
    }

    /// The first request's time of terminal `index` of `terminals` when the load ramps up over `ramp`.
    public static func rampStart(_ index: Int, of terminals: Int, over ramp: Duration) -> Duration {
        guard terminals > 0 else { return .zero }
        return ramp * index / terminals
    }

    /// The intended send time of the next request, `now` being the time since the run's start: in a
    /// closed loop `now` (after `think`, from the second request on), never before `start`; the
    /// schedule's next slot in an open loop, earlier than `now` when the terminal is behind (send at
    /// once) and later when it is early (wait for it).
    public mutating func next(now: Duration) -> Duration {
        defer { self.issued += 1 }
        switch self.pacing {
        case .closedLoop: return max(self.issued == 0 ? now : now + self.think, self.start)
        case .openLoop(let interval, let phase): return self.start + phase + interval * self.issued
        }
    }

    /// The requests an open loop's schedule meant to send before `end` but were not (the terminal fell
    /// behind); 0 for a closed loop, which has no schedule to fall behind.
    public func unsent(before end: Duration) -> Int {
        guard case .openLoop(let interval, let phase) = self.pacing, end > self.start + phase else { return 0 }
        let due = Int(((end - self.start - phase) / interval).rounded(.up))
        return max(0, due - self.issued)
    }
}

/// What a load measured: latencies in an HDR histogram (microseconds, 3 significant digits, up to
/// 60 s, with no sample kept), the answers by response code and the requests by kind. Statistics of
/// several terminals or intervals add up with `add`.
public struct LoadStatistics: Sendable {
    /// The longest latency the histogram holds; a longer one is counted as this.
    public static let longestMicroseconds: UInt64 = 60_000_000

    public private(set) var latency = Histogram<UInt64>(
        lowestDiscernibleValue: 1,
        highestTrackableValue: Self.longestMicroseconds,
        numberOfSignificantValueDigits: .three
    )
    /// Answers by field 39.
    public private(set) var codes: [String: Int] = [:]
    public private(set) var kinds: [LoadKind: Int] = [:]
    /// Requests that got no usable answer (timeout, closed link, failed MAC check).
    public private(set) var errors = 0

    public init() {}

    /// Answered requests.
    public var answered: Int { Int(self.latency.totalCount) }

    /// One answered request and how long it took from its intended send time.
    public mutating func record(_ kind: LoadKind, code: String, latency: Duration) {
        self.latency.record(min(Self.microseconds(latency), Self.longestMicroseconds))
        self.codes[code, default: 0] += 1
        self.kinds[kind, default: 0] += 1
    }

    public mutating func recordError() { self.errors += 1 }

    public mutating func add(_ other: Self) {
        self.latency.add(other.latency)
        self.codes.merge(other.codes, uniquingKeysWith: +)
        self.kinds.merge(other.kinds, uniquingKeysWith: +)
        self.errors += other.errors
    }

    /// The latency at a percentile (0-100) in milliseconds; 0 when nothing was recorded.
    public func milliseconds(atPercentile percentile: Double) -> Double {
        self.answered == 0 ? 0 : Double(self.latency.valueAtPercentile(percentile)) / 1000
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
    }
}

extension Duration {
    /// This duration in seconds, as a `Double`.
    public var inSeconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}

/// A load run's result, as `atm-harness load` prints it (text or, with `--json`, JSON).
public struct LoadReport: Sendable, Codable, Hashable {
    public struct Latency: Sendable, Codable, Hashable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        public var mean: Double

        enum CodingKeys: String, CodingKey {
            case p50, p90, p99
            case p999 = "p99.9"
            case max, mean
        }
    }

    public var terminals: Int
    /// The switches the terminals were spread across.
    public var switches: Int
    /// "closed-loop" or "open-loop".
    public var mode: String
    /// Requests a second asked for, all terminals together (open loop only).
    public var targetRate: Double?
    public var mix: String
    /// The measured window, without the warm-up.
    public var seconds: Double
    public var requests: Int
    /// Answered requests a second over the measured window.
    public var throughput: Double
    /// Milliseconds from the intended send time to the answer.
    public var latencyMilliseconds: Latency
    /// Answers by response code (field 39).
    public var codes: [String: Int]
    public var kinds: [String: Int]
    public var errors: Int
    /// Requests an open loop's schedule meant to send in the window but could not (terminals behind).
    public var unsent: Int
    /// Terminals that stopped early: their link failed.
    public var terminalsLost: Int
    /// The script users' runs beside the mix (`--script`).
    public var script: ScriptLoadReport?
    /// Seconds over which the terminals' first requests were spread (`--ramp`), and a closed loop's
    /// pause after each answer (`--think`); absent when 0.
    public var rampSeconds: Double?
    public var thinkSeconds: Double?

    public init(
        statistics: LoadStatistics,
        terminals: Int,
        targetRate: Double?,
        mix: LoadMix,
        seconds: Double,
        unsent: Int = 0,
        terminalsLost: Int = 0,
        switches: Int = 1,
        ramp: Duration = .zero,
        think: Duration = .zero
    ) {
        self.terminals = terminals
        self.switches = switches
        self.mode = targetRate == nil ? "closed-loop" : "open-loop"
        self.targetRate = targetRate
        self.mix = mix.description
        self.seconds = seconds
        self.requests = statistics.answered
        self.throughput = seconds > 0 ? Double(statistics.answered) / seconds : 0
        self.latencyMilliseconds = Latency(
            p50: statistics.milliseconds(atPercentile: 50),
            p90: statistics.milliseconds(atPercentile: 90),
            p99: statistics.milliseconds(atPercentile: 99),
            p999: statistics.milliseconds(atPercentile: 99.9),
            max: statistics.answered == 0 ? 0 : Double(statistics.latency.max) / 1000,
            mean: statistics.answered == 0 ? 0 : statistics.latency.mean / 1000
        )
        self.codes = statistics.codes
        self.kinds = Dictionary(uniqueKeysWithValues: statistics.kinds.map { ($0.key.rawValue, $0.value) })
        self.errors = statistics.errors
        self.unsent = unsent
        self.terminalsLost = terminalsLost
        self.rampSeconds = ramp > .zero ? ramp.inSeconds : nil
        self.thinkSeconds = think > .zero ? think.inSeconds : nil
    }

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The report for people: throughput, percentiles, response codes (with shares), kinds.
    public var text: String {
        let latency = self.latencyMilliseconds
        var pacing = self.targetRate.map { "open loop at \(Self.number($0, digits: 0))/s" } ?? "closed loop"
        if let ramp = self.rampSeconds { pacing += ", ramp-up \(Self.number(ramp, digits: 1)) s" }
        if let think = self.thinkSeconds { pacing += ", think \(Self.number(think * 1000, digits: 0)) ms" }
        var lines = [
            "load: \(self.terminals) terminals"
                + (self.switches > 1 ? " across \(self.switches) switches" : "") + ", \(pacing), mix \(self.mix), \(Self.number(self.seconds, digits: 1)) s measured: "
                + "\(Self.number(Double(self.requests), digits: 0)) requests, \(Self.number(self.throughput, digits: 1))/s",
            "latency (ms, from the intended send time): p50 \(Self.number(latency.p50, digits: 2)), "
                + "p90 \(Self.number(latency.p90, digits: 2)), p99 \(Self.number(latency.p99, digits: 2)), "
                + "p99.9 \(Self.number(latency.p999, digits: 2)), max \(Self.number(latency.max, digits: 2))",
            "response codes: " + Self.counts(self.codes, total: self.requests),
            "requests by kind: " + Self.counts(self.kinds, total: self.requests),
        ]
        if self.errors > 0 || self.unsent > 0 || self.terminalsLost > 0 {
            lines.append(
                "errors: \(self.errors) requests without a usable answer, \(self.terminalsLost) terminals lost, "
                    + "\(self.unsent) scheduled requests not sent (terminals behind)"
            )
        }
        if let script = self.script { lines.append(script.text) }
        return lines.joined(separator: "\n")
    }

    static func counts(_ counts: [String: Int], total: Int) -> String {
        guard !counts.isEmpty else { return "none" }
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map {
            "\($0.key) x\(Self.number(Double($0.value), digits: 0)) "
                + "(\(Self.number(Double($0.value) * 100 / Double(max(total, 1)), digits: 1))%)"
        }.joined(separator: ", ")
    }

    /// `value` with `digits` decimals and thousands separated by commas, whatever the locale.
    static func number(_ value: Double, digits: Int) -> String {
        let scale = (0..<digits).reduce(1.0) { product, _ in product * 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        var text = String(whole)
        var index = text.count - 3
        while index > 0 {
            text.insert(",", at: text.index(text.startIndex, offsetBy: index))
            index -= 3
        }
        if digits > 0 {
            let fraction = String(Int(scaled) - whole * Int(scale))
            text += "." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
        return (value < 0 && scaled > 0 ? "-" : "") + text
    }
}

/// One second's line while a load runs.
public struct LoadProgress: Sendable, Hashable {
    /// Seconds since the run started (warm-up included).
    public var second: Int
    public var warmingUp: Bool
    public var answered: Int
    public var errors: Int
    public var p99Milliseconds: Double

    public init(second: Int, warmingUp: Bool, interval: LoadStatistics) {
        self.second = second
        self.warmingUp = warmingUp
        self.answered = interval.answered
        self.errors = interval.errors
        self.p99Milliseconds = interval.milliseconds(atPercentile: 99)
    }

    public var line: String {
        "load: \(self.second) s\(self.warmingUp ? " (warm-up)" : ""): \(self.answered)/s, "
            + "p99 \(LoadReport.number(self.p99Milliseconds, digits: 2)) ms"
            + (self.errors > 0 ? ", \(self.errors) errors" : "")
    }
}
