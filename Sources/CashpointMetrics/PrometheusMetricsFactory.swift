public import CoreMetrics
import Synchronization

/// A swift-metrics backend that keeps every metric in memory and renders them in the Prometheus text format 0.0.4.
///
/// - Counters and floating-point counters are `counter`s.
/// - Meters and non-aggregating recorders (`Gauge`) are `gauge`s.
/// - Aggregating recorders are `histogram`s with ``recorderBuckets``; timers are `histogram`s in seconds with
///   ``timerBuckets``.
///
/// A metric's label becomes the Prometheus name (characters outside `[a-zA-Z0-9_:]` become `_`) and its dimensions
/// its labels. Handles made with the same label and dimensions share one series. A label already used by a metric
/// of another Prometheus type gets a handle that records into a series that is never rendered, since one name can
/// have only one type. Destroying a handle removes its series from the output.
public final class PrometheusMetricsFactory: MetricsFactory, Sendable {
    /// Timer buckets, in seconds: from half a millisecond to ten seconds.
    public static let defaultTimerBuckets: [Double] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    ]
    /// Recorder buckets: the Prometheus client libraries' default.
    public static let defaultRecorderBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private struct Family {
        let kind: PrometheusKind
        var series: [[PrometheusLabel]: any PrometheusSeries] = [:]
    }

    public let timerBuckets: [Double]
    public let recorderBuckets: [Double]
    private let families = Mutex<[String: Family]>([:])

    public init(
        timerBuckets: [Double] = PrometheusMetricsFactory.defaultTimerBuckets,
        recorderBuckets: [Double] = PrometheusMetricsFactory.defaultRecorderBuckets
    ) {
        self.timerBuckets = timerBuckets
        self.recorderBuckets = recorderBuckets
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        self.series(label: label, dimensions: dimensions) { CounterSeries() }
    }

    public func makeFloatingPointCounter(
        label: String,
        dimensions: [(String, String)]
    ) -> any FloatingPointCounterHandler {
        self.series(label: label, dimensions: dimensions) { CounterSeries() }
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        self.series(label: label, dimensions: dimensions) { GaugeSeries() }
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if aggregate {
            return self.series(label: label, dimensions: dimensions) {
                HistogramSeries(upperBounds: self.recorderBuckets)
            }
        }
        return self.series(label: label, dimensions: dimensions) { GaugeSeries() }
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        self.series(label: label, dimensions: dimensions) { HistogramSeries(upperBounds: self.timerBuckets) }
    }

    public func destroyCounter(_ handler: any CounterHandler) { self.remove(handler) }
    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { self.remove(handler) }
    public func destroyMeter(_ handler: any MeterHandler) { self.remove(handler) }
    public func destroyRecorder(_ handler: any RecorderHandler) { self.remove(handler) }
    public func destroyTimer(_ handler: any TimerHandler) { self.remove(handler) }

    /// The Prometheus text exposition of every metric, families sorted by name and series by labels.
    public func render() -> String {
        let families = self.families.withLock { $0 }
        var text = ""
        for (name, family) in families.sorted(by: { $0.key < $1.key }) where !family.series.isEmpty {
            text += "# TYPE \(name) \(family.kind.rawValue)\n"
            for (labels, series) in family.series.sorted(by: { PrometheusText.precedes($0.key, $1.key) }) {
                text += series.render(name: name, labels: labels)
            }
        }
        return text
    }

    /// The series for a label and dimensions: the registered one, a new registered one, or, if the name is taken
    /// by another type, a new one that is not registered.
    private func series<Series: PrometheusSeries>(
        label: String,
        dimensions: [(String, String)],
        make: () -> Series
    ) -> Series {
        let name = PrometheusText.metricName(label)
        let labels = PrometheusText.labels(dimensions)
        return self.families.withLock { families in
            var family = families[name] ?? Family(kind: Series.kind)
            guard family.kind == Series.kind else { return make() }
            if let existing = family.series[labels] as? Series { return existing }
            let series = make()
            family.series[labels] = series
            families[name] = family
            return series
        }
    }

    private func remove(_ handler: AnyObject) {
        self.families.withLock { families in
            for (name, family) in families {
                guard let labels = family.series.first(where: { $0.value === handler })?.key else { continue }
                families[name]?.series[labels] = nil
                if families[name]?.series.isEmpty == true { families[name] = nil }
                return
            }
        }
    }
}
