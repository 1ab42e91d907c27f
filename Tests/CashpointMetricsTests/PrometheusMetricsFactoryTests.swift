import Metrics
import Testing

@testable import CashpointMetrics

@Suite struct PrometheusMetricsFactoryTests {
    @Test func rendersEveryMetricType() {
        let factory = PrometheusMetricsFactory(recorderBuckets: [10, 1])
        Counter(label: "atm.requests", dimensions: [("code", "05")], factory: factory).increment()
        Counter(label: "atm.requests", dimensions: [("code", "00")], factory: factory).increment(by: 3)
        Counter(label: "dispensed", factory: factory).increment(by: 2)
        FloatingPointCounter(label: "dispensed", factory: factory).increment(by: 1.5)
        FloatingPointCounter(label: "dispensed", factory: factory).increment(by: 1.5)
        Gauge(label: "queue_depth", factory: factory).record(7)
        let sessions = Meter(label: "sessions", factory: factory)
        sessions.set(2)
        sessions.increment()
        sessions.decrement(by: 0.5)
        let amount = Recorder(label: "amount", factory: factory)
        for value in [0.5, 1, 50] { amount.record(value) }
        let authorize = Timer(label: "authorize", dimensions: [("route", "withdraw")], factory: factory)
        authorize.recordMilliseconds(250)
        authorize.recordSeconds(2)
        authorize.recordSeconds(20)

        #expect(
            factory.render() == """
                # TYPE amount histogram
                amount_bucket{le="1"} 2
                amount_bucket{le="10"} 2
                amount_bucket{le="+Inf"} 3
                amount_sum 51.5
                amount_count 3
                # TYPE atm_requests counter
                atm_requests{code="00"} 3
                atm_requests{code="05"} 1
                # TYPE authorize histogram
                authorize_bucket{route="withdraw",le="0.0005"} 0
                authorize_bucket{route="withdraw",le="0.001"} 0
                authorize_bucket{route="withdraw",le="0.0025"} 0
                authorize_bucket{route="withdraw",le="0.005"} 0
                authorize_bucket{route="withdraw",le="0.01"} 0
                authorize_bucket{route="withdraw",le="0.025"} 0
                authorize_bucket{route="withdraw",le="0.05"} 0
                authorize_bucket{route="withdraw",le="0.1"} 0
                authorize_bucket{route="withdraw",le="0.25"} 1
                authorize_bucket{route="withdraw",le="0.5"} 1
                authorize_bucket{route="withdraw",le="1"} 1
                authorize_bucket{route="withdraw",le="2.5"} 2
                authorize_bucket{route="withdraw",le="5"} 2
                authorize_bucket{route="withdraw",le="10"} 2
                authorize_bucket{route="withdraw",le="+Inf"} 3
                authorize_sum{route="withdraw"} 22.25
                authorize_count{route="withdraw"} 3
                # TYPE dispensed counter
                dispensed 5
                # TYPE queue_depth gauge
                queue_depth 7
                # TYPE sessions gauge
                sessions 2.5

                """
        )
    }

    @Test func emptyFactoryRendersNothing() {
        #expect(PrometheusMetricsFactory().render() == "")
    }

    @Test func sameLabelAndDimensionsShareOneSeries() {
        let factory = PrometheusMetricsFactory()
        Counter(label: "hits", dimensions: [("a", "1"), ("b", "2")], factory: factory).increment()
        Counter(label: "hits", dimensions: [("b", "2"), ("a", "1")], factory: factory).increment()
        Counter(label: "hits", dimensions: [("a", "1")], factory: factory).increment()
        #expect(
            factory.render() == """
                # TYPE hits counter
                hits{a="1"} 1
                hits{a="1",b="2"} 2

                """
        )
    }

    @Test func concurrentIncrementsFromManyTasksAllCount() async {
        let factory = PrometheusMetricsFactory()
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
        let text = factory.render()
        #expect(text.contains("requests 100000\n"))
        #expect(text.contains("latency_bucket{le=\"0.0005\"} 100000\n"))
        #expect(text.contains("latency_count 100000\n"))
    }

    @Test func labelValuesAreEscapedAndNamesSanitized() {
        let factory = PrometheusMetricsFactory()
        let value = "say \"hi\"\\now\nplease"
        Counter(label: "atm.switch-errors", dimensions: [("card.type", value)], factory: factory).increment()
        Gauge(label: "2fa", factory: factory).record(-1.25)
        #expect(
            factory.render() == #"""
                # TYPE _2fa gauge
                _2fa -1.25
                # TYPE atm_switch_errors counter
                atm_switch_errors{card_type="say \"hi\"\\now\nplease"} 1

                """#
        )
    }

    @Test(arguments: [
        (0.0, "0"), (-0.0, "0"), (3, "3"), (2.5, "2.5"), (0.0005, "0.0005"), (1e20, "1e+20"),
        (.infinity, "+Inf"), (-.infinity, "-Inf"), (.nan, "NaN"),
    ])
    func formatsSampleValues(value: Double, text: String) {
        #expect(PrometheusText.format(value) == text)
    }

    @Test func destroyRemovesTheSeries() {
        let factory = PrometheusMetricsFactory()
        let kept = Counter(label: "kept", factory: factory)
        kept.increment()
        let gone = Timer(label: "gone", factory: factory)
        gone.recordSeconds(1)
        gone.destroy()
        #expect(factory.render() == "# TYPE kept counter\nkept 1\n")
    }

    @Test func aNameKeepsItsFirstType() {
        let factory = PrometheusMetricsFactory()
        Counter(label: "depth", factory: factory).increment()
        Gauge(label: "depth", factory: factory).record(42)
        #expect(factory.render() == "# TYPE depth counter\ndepth 1\n")
    }

    @Test func countersIgnoreNegativeIncrementsAndReset() {
        let factory = PrometheusMetricsFactory()
        let counter = Counter(label: "c", factory: factory)
        counter.increment(by: 5)
        counter.increment(by: -3)
        #expect(factory.render() == "# TYPE c counter\nc 5\n")
        counter.reset()
        #expect(factory.render() == "# TYPE c counter\nc 0\n")
    }
}
