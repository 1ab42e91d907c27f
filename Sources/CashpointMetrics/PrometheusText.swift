/// A label of a Prometheus series: a sanitized name and the raw value (escaped only when rendered).
struct PrometheusLabel: Hashable, Sendable {
    var name: String
    var value: String
}

/// The Prometheus text exposition format 0.0.4: names, label escaping, numbers and sample lines.
///
/// Pure functions only; `PrometheusMetricsFactory.render()` is built from them.
enum PrometheusText {
    /// A metric name as Prometheus accepts it: `[a-zA-Z_:][a-zA-Z0-9_:]*`; anything else becomes `_`.
    static func metricName(_ label: String) -> String {
        sanitize(label, allowColon: true)
    }

    /// A label name as Prometheus accepts it: `[a-zA-Z_][a-zA-Z0-9_]*`; anything else becomes `_`.
    static func labelName(_ name: String) -> String {
        sanitize(name, allowColon: false)
    }

    /// swift-metrics dimensions as a label set: names sanitized, the last value of a repeated name kept,
    /// sorted by name so that the same dimensions in another order name the same series.
    static func labels(_ dimensions: [(String, String)]) -> [PrometheusLabel] {
        let unique = Dictionary(dimensions.map { (labelName($0.0), $0.1) }, uniquingKeysWith: { $1 })
        return unique.map { PrometheusLabel(name: $0.key, value: $0.value) }.sorted { $0.name < $1.name }
    }

    /// Escapes a label value: backslash, double quote and line feed.
    static func escapeLabelValue(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// A sample value: integral values without a fraction, `+Inf`, `-Inf` and `NaN` as Prometheus spells them.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// One sample line: `name{a="x",b="y"} value`.
    static func sample(_ name: String, _ labels: [PrometheusLabel], _ value: String) -> String {
        guard !labels.isEmpty else { return "\(name) \(value)\n" }
        let rendered = labels.map { "\($0.name)=\"\(escapeLabelValue($0.value))\"" }.joined(separator: ",")
        return "\(name){\(rendered)} \(value)\n"
    }

    /// The order of series within a family: label sets compared pair by pair.
    static func precedes(_ lhs: [PrometheusLabel], _ rhs: [PrometheusLabel]) -> Bool {
        lhs.lexicographicallyPrecedes(rhs) { ($0.name, $0.value) < ($1.name, $1.value) }
    }

    private static func sanitize(_ raw: String, allowColon: Bool) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in raw.unicodeScalars {
            let allowed =
                ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || scalar == "_" || (allowColon && scalar == ":")
            scalars.append(allowed ? scalar : "_")
        }
        if scalars.first.map({ ("0"..."9").contains($0) }) ?? true {
            scalars.insert("_", at: scalars.startIndex)
        }
        return String(scalars)
    }
}
