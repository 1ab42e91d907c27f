import Metrics
import Prometheus
import Testing

@testable import CashpointMetrics

/// swift-prometheus as the switch bootstraps it (`PrometheusMetricsFactory.cashpoint(registry:)`): what a scrape
/// shows for each kind of swift-metrics handle, and that the text is valid Prometheus exposition format.
@Suite struct PrometheusBackendTests {
    let registry = PrometheusCollectorRegistry()
    var factory: PrometheusMetricsFactory { .cashpoint(registry: self.registry) }

    @Test func aCounterWithLabelsShowsItsValue() throws {
        // As RequestRouter counts: a handle made per request.
        let requests = { (code: String) in
            Counter(
                label: "cashpoint_requests_total",
                dimensions: [("mti", "0200"), ("code", code)],
                factory: self.factory
            )
        }
        requests("00").increment(by: 2)
        requests("00").increment()
        requests("51").increment()
        let scrape = try Exposition(self.registry.emitToString())
        #expect(scrape.types["cashpoint_requests_total"] == "counter")
        #expect(scrape.value("cashpoint_requests_total", ["code": "00", "mti": "0200"]) == 3)
        #expect(scrape.value("cashpoint_requests_total", ["code": "51", "mti": "0200"]) == 1)
        #expect(scrape.samples.count == 2)
    }

    @Test func aTimerIsAHistogramInSecondsWithTheSwitchBuckets() throws {
        let timer = Timer(label: "cashpoint_request_duration_seconds", dimensions: [("mti", "0200")], factory: factory)
        timer.recordMicroseconds(300)  // 0.0003 s: in every bucket
        timer.recordMilliseconds(3)  // 0.003 s: from le="0.005" on
        timer.recordSeconds(20)  // above every bucket: +Inf only
        let text = self.registry.emitToString()
        let scrape = try Exposition(text)
        let name = "cashpoint_request_duration_seconds"
        #expect(scrape.types[name] == "histogram")
        let buckets = scrape.samples.filter { $0.name == "\(name)_bucket" }
        let bounds = buckets.compactMap { $0.labels["le"] }
        let expected = PrometheusMetricsFactory.cashpointTimerBuckets.map(\.seconds) + [.infinity]
        #expect(bounds.compactMap { Exposition.number($0) } == expected)
        #expect(bounds.first == "0.0005")
        #expect(bounds.last == "+Inf")
        #expect(buckets.allSatisfy { $0.labels["mti"] == "0200" })
        #expect(scrape.value("\(name)_bucket", ["mti": "0200", "le": "0.0005"]) == 1)
        #expect(scrape.value("\(name)_bucket", ["mti": "0200", "le": "0.0025"]) == 1)
        #expect(scrape.value("\(name)_bucket", ["mti": "0200", "le": "0.005"]) == 2)
        #expect(scrape.value("\(name)_bucket", ["mti": "0200", "le": "10.0"]) == 2)
        #expect(scrape.value("\(name)_bucket", ["mti": "0200", "le": "+Inf"]) == 3)
        #expect(scrape.value("\(name)_count", ["mti": "0200"]) == 3)
        #expect(scrape.value("\(name)_sum", ["mti": "0200"]) == 20.0033)
        // Cumulative: never decreasing.
        let counts = buckets.map(\.value)
        #expect(counts == counts.sorted())
    }

    @Test func metersAndGaugesAreGauges() throws {
        let inFlight = Meter(label: "cashpoint_requests_in_flight", factory: self.factory)
        inFlight.increment()
        inFlight.increment()
        inFlight.decrement()
        Gauge(label: "cashpoint_connections", factory: self.factory).record(7)
        let scrape = try Exposition(self.registry.emitToString())
        #expect(scrape.types["cashpoint_requests_in_flight"] == "gauge")
        #expect(scrape.value("cashpoint_requests_in_flight", [:]) == 1)
        #expect(scrape.types["cashpoint_connections"] == "gauge")
        #expect(scrape.value("cashpoint_connections", [:]) == 7)
    }

    /// The names and label sets docs/operations.md lists, recorded as the switch records them: dashboards
    /// depend on these.
    @Test func theSwitchMetricsKeepTheirNamesTypesAndLabels() throws {
        let factory = self.factory
        Counter(label: "cashpoint_requests_total", dimensions: [("mti", "0200"), ("code", "00")], factory: factory)
            .increment()
        Timer(label: "cashpoint_request_duration_seconds", dimensions: [("mti", "0200")], factory: factory)
            .recordMilliseconds(4)
        Meter(label: "cashpoint_requests_in_flight", factory: factory).increment()
        Gauge(label: "cashpoint_connections", factory: factory).record(1)
        Gauge(label: "cashpoint_database_pool_size", factory: factory).record(8)
        Counter(label: "cashpoint_connections_refused_total", factory: factory).increment()
        Counter(label: "cashpoint_malformed_frames_total", dimensions: [("answered", "30")], factory: factory)
            .increment()
        let scrape = try Exposition(self.registry.emitToString())
        #expect(
            scrape.types == [
                "cashpoint_requests_total": "counter",
                "cashpoint_request_duration_seconds": "histogram",
                "cashpoint_requests_in_flight": "gauge",
                "cashpoint_connections": "gauge",
                "cashpoint_database_pool_size": "gauge",
                "cashpoint_connections_refused_total": "counter",
                "cashpoint_malformed_frames_total": "counter",
            ]
        )
        let labelNames = Dictionary(
            scrape.samples.map { ($0.name, Set($0.labels.keys)) },
            uniquingKeysWith: { $0.union($1) }
        )
        #expect(labelNames["cashpoint_requests_total"] == ["mti", "code"])
        #expect(labelNames["cashpoint_request_duration_seconds_bucket"] == ["mti", "le"])
        #expect(labelNames["cashpoint_request_duration_seconds_sum"] == ["mti"])
        #expect(labelNames["cashpoint_request_duration_seconds_count"] == ["mti"])
        #expect(labelNames["cashpoint_malformed_frames_total"] == ["answered"])
        #expect(labelNames["cashpoint_connections"] == [])
    }

    @Test func theSameDimensionsInAnotherOrderAreOneSeries() throws {
        Counter(label: "hits", dimensions: [("a", "1"), ("b", "2")], factory: self.factory).increment()
        Counter(label: "hits", dimensions: [("b", "2"), ("a", "1")], factory: self.factory).increment()
        Counter(label: "hits", dimensions: [("a", "1")], factory: self.factory).increment()
        let scrape = try Exposition(self.registry.emitToString())
        #expect(scrape.value("hits", ["a": "1", "b": "2"]) == 2)
        #expect(scrape.value("hits", ["a": "1"]) == 1)
        #expect(scrape.samples.count == 2)
    }

    @Test(
        arguments: [
            ([], []),
            ([("a", "1")], [("a", "1")]),
            ([("a", "1"), ("b", "2")], [("a", "1"), ("b", "2")]),
            ([("mti", "0200"), ("code", "00")], [("code", "00"), ("mti", "0200")]),
            ([("b", "1"), ("a", "2"), ("b", "3")], [("a", "2"), ("b", "3")]),
            ([("a", "1"), ("a", "2")], [("a", "2")]),
        ] as [([(String, String)], [(String, String)])]
    )
    func canonicalLabelsAreSortedAndUnique(labels: [(String, String)], expected: [(String, String)]) {
        let canonical = PrometheusLabels.canonical(labels)
        #expect(canonical.map(\.0) == expected.map(\.0))
        #expect(canonical.map(\.1) == expected.map(\.1))
    }

    @Test func namesAreSanitizedAndLabelValuesEscaped() throws {
        let value = "say \"hi\"\\now\nplease"
        Counter(label: "atm.switch-errors", dimensions: [("card.type", value)], factory: self.factory).increment()
        let text = self.registry.emitToString()
        #expect(text.contains(#"atm_switch_errors{card_type="say \"hi\"\\now\nplease"} 1"#))
        let scrape = try Exposition(text)
        #expect(scrape.value("atm_switch_errors", ["card_type": value]) == 1)
    }

    @Test func concurrentIncrementsFromManyTasksAllCount() async throws {
        let factory = self.factory
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    let counter = Counter(label: "requests", factory: factory)
                    let timer = Timer(label: "latency", factory: factory)
                    for _ in 0..<1000 {
                        counter.increment()
                        timer.recordMicroseconds(100)
                    }
                }
            }
        }
        let scrape = try Exposition(self.registry.emitToString())
        #expect(scrape.value("requests", [:]) == 100_000)
        #expect(scrape.value("latency_bucket", ["le": "0.0005"]) == 100_000)
        #expect(scrape.value("latency_count", [:]) == 100_000)
    }

    @Test func destroyRemovesTheSeries() throws {
        Counter(label: "kept", factory: self.factory).increment()
        let gone = Timer(label: "gone", factory: self.factory)
        gone.recordSeconds(1)
        gone.destroy()
        let scrape = try Exposition(self.registry.emitToString())
        #expect(scrape.types == ["kept": "counter"])
    }

    @Test func anEmptyRegistryEmitsNothing() {
        #expect(self.registry.emitToString() == "")
    }

    /// The checker below rejects what Prometheus would.
    @Test(arguments: [
        "x 1\n",  // a sample before its TYPE line
        "# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",  // one series twice
        "# TYPE 1x counter\n1x 1\n",  // an invalid name
        "# TYPE x counter\nx{a=\"1} 1\n",  // an unterminated label value
        "# TYPE x counter\nx one\n",  // not a number
        "# TYPE x counter\n# TYPE x gauge\nx 1\n",  // two TYPE lines
    ])
    func theCheckerRejectsInvalidText(text: String) {
        #expect(throws: Exposition.Invalid.self) { try Exposition(text) }
    }
}

extension Duration {
    var seconds: Double {
        Double(self.components.seconds) + Double(self.components.attoseconds) / 1e18
    }
}

/// A parsed scrape in the Prometheus text format 0.0.4, checked as Prometheus checks it: every sample's family
/// has one `# TYPE` line before it, names and label names are valid, label values are properly escaped, values
/// are numbers, and no series appears twice.
struct Exposition {
    struct Invalid: Error, CustomStringConvertible {
        var line: String
        var reason: String
        var description: String { "\(self.reason): \(self.line)" }
    }

    struct Sample {
        struct Key: Hashable {
            var name: String
            var labels: [String: String]
        }

        var name: String
        var labels: [String: String]
        var value: Double
        var key: Key { Key(name: self.name, labels: self.labels) }
    }

    /// Family name to type.
    var types: [String: String] = [:]
    var samples: [Sample] = []

    init(_ text: String) throws {
        var series = Set<Sample.Key>()
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst("# TYPE ".count).split(separator: " ")
                guard parts.count == 2, Self.isMetricName(parts[0]),
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[1])
                else { throw Invalid(line: line, reason: "bad TYPE line") }
                guard self.types[String(parts[0])] == nil else { throw Invalid(line: line, reason: "second TYPE") }
                self.types[String(parts[0])] = String(parts[1])
                continue
            }
            if line.hasPrefix("#") { continue }
            let sample = try Self.sample(line)
            guard self.family(of: sample.name) != nil else {
                throw Invalid(line: line, reason: "sample without a TYPE line")
            }
            guard series.insert(sample.key).inserted else { throw Invalid(line: line, reason: "series twice") }
            self.samples.append(sample)
        }
    }

    /// The family a sample name belongs to: its own name, or a histogram's for `_bucket`, `_sum`, `_count`.
    func family(of name: String) -> String? {
        if self.types[name] != nil { return name }
        for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
            let family = String(name.dropLast(suffix.count))
            if self.types[family] == "histogram" { return family }
        }
        return nil
    }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        self.samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// A sample value or `le` bound: a number, `+Inf`, `-Inf` or `NaN`.
    static func number(_ text: some StringProtocol) -> Double? {
        switch text {
        case "+Inf": .infinity
        case "-Inf": -.infinity
        case "NaN": .nan
        default: Double(String(text))
        }
    }

    static func isMetricName(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == ":"
        }
    }

    static func isLabelName(_ name: Substring) -> Bool {
        !name.contains(":") && self.isMetricName(name)
    }

    /// `name{a="x",b="y"} value`
    static func sample(_ line: String) throws -> Sample {
        var rest = Substring(line)
        let nameEnd = rest.firstIndex { $0 == "{" || $0 == " " } ?? rest.endIndex
        let name = rest[..<nameEnd]
        guard self.isMetricName(name) else { throw Invalid(line: line, reason: "bad metric name") }
        rest = rest[nameEnd...]
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                guard let equals = rest.firstIndex(of: "=") else { throw Invalid(line: line, reason: "bad label") }
                let labelName = rest[..<equals]
                guard self.isLabelName(labelName), labels[String(labelName)] == nil else {
                    throw Invalid(line: line, reason: "bad label name")
                }
                rest = rest[equals...].dropFirst()
                guard rest.first == "\"" else { throw Invalid(line: line, reason: "unquoted label value") }
                rest = rest.dropFirst()
                var value = ""
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\"" {
                        closed = true
                        break
                    }
                    if character == "\\" {
                        switch rest.first {
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        case "n": value.append("\n")
                        default: throw Invalid(line: line, reason: "bad escape")
                        }
                        rest = rest.dropFirst()
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { throw Invalid(line: line, reason: "unterminated label value") }
                labels[String(labelName)] = value
                if rest.first == "," { rest = rest.dropFirst() }
                guard !rest.isEmpty else { throw Invalid(line: line, reason: "unterminated labels") }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { throw Invalid(line: line, reason: "no value") }
        guard let value = Self.number(rest.dropFirst()) else {
            throw Invalid(line: line, reason: "value is not a number")
        }
        return Sample(name: String(name), labels: labels, value: value)
    }
}
