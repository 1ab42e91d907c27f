import CoreMetrics
import Synchronization

/// The Prometheus type of a metric family, as written after `# TYPE`.
enum PrometheusKind: String, Sendable {
    case counter
    case gauge
    case histogram
}

/// The storage of one series (a name and a label set). Every handle made for the same series is this object.
protocol PrometheusSeries: AnyObject, Sendable {
    static var kind: PrometheusKind { get }
    /// The sample lines of this series, read under its lock.
    func render(name: String, labels: [PrometheusLabel]) -> String
}

/// A counter; integer and floating-point increments share it. Negative and non-finite increments are ignored,
/// and the integer part saturates instead of wrapping.
final class CounterSeries: CounterHandler, FloatingPointCounterHandler, PrometheusSeries {
    static let kind = PrometheusKind.counter

    private struct State {
        var integer: Int64 = 0
        var fraction: Double = 0
    }

    private let state = Mutex(State())

    func increment(by amount: Int64) {
        guard amount > 0 else { return }
        self.state.withLock {
            let (sum, overflow) = $0.integer.addingReportingOverflow(amount)
            $0.integer = overflow ? .max : sum
        }
    }

    func increment(by amount: Double) {
        guard amount > 0, amount.isFinite else { return }
        self.state.withLock { $0.fraction += amount }
    }

    func reset() {
        self.state.withLock { $0 = State() }
    }

    func render(name: String, labels: [PrometheusLabel]) -> String {
        let state = self.state.withLock { $0 }
        let value =
            state.fraction == 0 ? String(state.integer) : PrometheusText.format(Double(state.integer) + state.fraction)
        return PrometheusText.sample(name, labels, value)
    }
}

/// A gauge: meters, and recorders that do not aggregate (swift-metrics' `Gauge`).
final class GaugeSeries: MeterHandler, RecorderHandler, PrometheusSeries {
    static let kind = PrometheusKind.gauge

    private let value = Mutex<Double>(0)

    func set(_ value: Int64) { self.set(Double(value)) }
    func set(_ value: Double) { self.value.withLock { $0 = value } }
    func increment(by amount: Double) { self.value.withLock { $0 += amount } }
    func decrement(by amount: Double) { self.value.withLock { $0 -= amount } }
    func record(_ value: Int64) { self.set(Double(value)) }
    func record(_ value: Double) { self.set(value) }

    func render(name: String, labels: [PrometheusLabel]) -> String {
        PrometheusText.sample(name, labels, PrometheusText.format(self.value.withLock { $0 }))
    }
}

/// A histogram: aggregating recorders, and timers (in seconds). NaN observations are ignored.
final class HistogramSeries: RecorderHandler, TimerHandler, PrometheusSeries {
    static let kind = PrometheusKind.histogram

    private struct State {
        /// Observations per bucket, not cumulative; the last element counts those above every upper bound.
        var counts: [Int]
        var sum: Double = 0
        var count: Int = 0
    }

    /// Finite upper bounds, ascending; `+Inf` is implicit.
    let upperBounds: [Double]
    private let state: Mutex<State>

    init(upperBounds: [Double]) {
        self.upperBounds = Array(Set(upperBounds.filter(\.isFinite))).sorted()
        self.state = Mutex(State(counts: Array(repeating: 0, count: self.upperBounds.count + 1)))
    }

    func record(_ value: Int64) { self.record(Double(value)) }

    func record(_ value: Double) {
        guard !value.isNaN else { return }
        let bucket = self.upperBounds.firstIndex { value <= $0 } ?? self.upperBounds.count
        self.state.withLock {
            $0.counts[bucket] += 1
            $0.sum += value
            $0.count += 1
        }
    }

    func recordNanoseconds(_ duration: Int64) {
        self.record(Double(duration) / 1_000_000_000)
    }

    func render(name: String, labels: [PrometheusLabel]) -> String {
        let state = self.state.withLock { $0 }
        var lines = ""
        var cumulative = 0
        for (bound, count) in zip(self.upperBounds, state.counts) {
            cumulative += count
            let le = labels + [PrometheusLabel(name: "le", value: PrometheusText.format(bound))]
            lines += PrometheusText.sample("\(name)_bucket", le, String(cumulative))
        }
        let infinity = labels + [PrometheusLabel(name: "le", value: "+Inf")]
        lines += PrometheusText.sample("\(name)_bucket", infinity, String(state.count))
        lines += PrometheusText.sample("\(name)_sum", labels, PrometheusText.format(state.sum))
        lines += PrometheusText.sample("\(name)_count", labels, String(state.count))
        return lines
    }
}
