public import Prometheus

/// The switch's configuration of swift-prometheus as the swift-metrics backend.
///
/// `MetricsSystem.bootstrap(PrometheusMetricsFactory.cashpoint(registry: registry))`, and a ``MetricsEndpoint``
/// that serves the same registry. docs/architecture.md says why this backend and what it costs.
extension PrometheusMetricsFactory {
    /// The buckets of every swift-metrics `Timer` (a Prometheus histogram in seconds): half a millisecond to ten
    /// seconds. swift-prometheus' own default starts at 5 ms, too coarse for the switch's answers.
    public static let cashpointTimerBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    /// A factory over `registry` with ``cashpointTimerBuckets`` whose series are named by their label set: the
    /// same dimensions in another order, or a name given twice, still make one series (see
    /// ``PrometheusLabels/canonical(_:)``).
    public static func cashpoint(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.cashpointTimerBuckets
        factory.nameAndLabelSanitizer = { name, labels in (name, PrometheusLabels.canonical(labels)) }
        return factory
    }
}

/// swift-metrics dimensions as one Prometheus label set.
///
/// swift-prometheus keys a series by its labels in the order given, so `[("a", "1"), ("b", "2")]` and
/// `[("b", "2"), ("a", "1")]` would be two series with one label set, which Prometheus rejects in a scrape.
public enum PrometheusLabels {
    /// The labels sorted by name, the last value of a repeated name kept. Already sorted, unique labels are
    /// returned as they are, without a copy.
    public static func canonical(_ labels: [(String, String)]) -> [(String, String)] {
        var index = labels.startIndex
        while index + 1 < labels.endIndex, labels[index].0 < labels[index + 1].0 { index += 1 }
        guard index + 1 < labels.endIndex else { return labels }
        var unique: [(String, String)] = []
        unique.reserveCapacity(labels.count)
        for label in labels {
            if let existing = unique.firstIndex(where: { $0.0 == label.0 }) {
                unique[existing].1 = label.1
            } else {
                unique.append(label)
            }
        }
        unique.sort { $0.0 < $1.0 }
        return unique
    }
}
