import Benchmark
import CashpointMetrics
import CoreMetrics
import Dispatch
import Prometheus

/// swift-prometheus as the switch's swift-metrics backend, on what the switch does with it:
/// per request it makes its handles anew (`Counter(label:dimensions:)`, as `RequestRouter` does) and
/// records once, from the threads of its event loops; a scrape renders every series.
///
/// The factory is held as `any MetricsFactory`, as `MetricsSystem` holds it: handing the struct itself to
/// `Counter(label:dimensions:factory:)` would box it, one malloc per call that the switch does not make.
///
/// One iteration of a "2 threads" benchmark is 2 × 1,000 operations, on two threads at once (so the
/// figure per operation is the iteration's time / 2,000). "render" is one scrape of 200 series.
/// docs/architecture.md has the figures, and those of the hand-written backend this replaced.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 10,
        maxDuration: .seconds(3),
        maxIterations: 10_000
    )

    let backends: [(name: String, make: @Sendable () -> PrometheusMetricsFactory)] = [
        // As the switch bootstraps it: the switch's timer buckets, labels sorted by name.
        ("swift-prometheus", { PrometheusMetricsFactory.cashpoint(registry: PrometheusCollectorRegistry()) }),
        // swift-prometheus as it comes (timer buckets from 5 ms, labels in the order given).
        ("swift-prometheus plain", { PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()) }),
    ]
    let operationsPerThread = 1_000

    for backend in backends {
        Benchmark("\(backend.name): counter increment, held handle, 2 threads") { benchmark in
            let factory: any MetricsFactory = backend.make()
            let counter = CoreMetrics.Counter(
                label: "cashpoint_requests_total",
                dimensions: [("mti", "0200"), ("code", "00")],
                factory: factory
            )
            benchmark.startMeasurement()
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                for _ in 0..<operationsPerThread { counter.increment() }
            }
        }

        Benchmark("\(backend.name): counter make and increment (as the switch), 2 threads") { benchmark in
            let factory: any MetricsFactory = backend.make()
            benchmark.startMeasurement()
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                for _ in 0..<operationsPerThread {
                    CoreMetrics.Counter(
                        label: "cashpoint_requests_total",
                        dimensions: [("mti", "0200"), ("code", "00")],
                        factory: factory
                    ).increment()
                }
            }
        }

        Benchmark("\(backend.name): timer make and record (as the switch), 2 threads") { benchmark in
            let factory: any MetricsFactory = backend.make()
            benchmark.startMeasurement()
            DispatchQueue.concurrentPerform(iterations: 2) { thread in
                for index in 0..<operationsPerThread {
                    CoreMetrics.Timer(
                        label: "cashpoint_request_duration_seconds",
                        dimensions: [("mti", "0200")],
                        factory: factory
                    ).recordNanoseconds(Int64(1_000_000 + 7_919 * (index + thread)))
                }
            }
        }

        Benchmark("\(backend.name): timer record, held handle, 2 threads") { benchmark in
            let factory: any MetricsFactory = backend.make()
            let timer = CoreMetrics.Timer(
                label: "cashpoint_request_duration_seconds",
                dimensions: [("mti", "0200")],
                factory: factory
            )
            benchmark.startMeasurement()
            DispatchQueue.concurrentPerform(iterations: 2) { thread in
                for index in 0..<operationsPerThread {
                    timer.recordNanoseconds(Int64(1_000_000 + 7_919 * (index + thread)))
                }
            }
        }

        Benchmark("\(backend.name): render 200 series") { benchmark in
            let render = populate(backend.make())
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(render())
            }
        }
    }
}

/// About 200 series (194) as the switch has them after a while: 6 message types × 30 response codes of
/// `cashpoint_requests_total`, 6 latency histograms (17 lines each), 4 gauges and meters, 4 other counters
/// (two of them made-up names, for metrics to come). Returns the scrape.
func populate(_ prometheus: PrometheusMetricsFactory) -> @Sendable () -> String {
    let factory: any MetricsFactory = prometheus
    let types = ["0200", "0420", "0500", "0600", "0800", "0820"]
    for mti in types {
        for code in 0..<30 {
            CoreMetrics.Counter(
                label: "cashpoint_requests_total",
                dimensions: [("mti", mti), ("code", code < 10 ? "0\(code)" : "\(code)")],
                factory: factory
            ).increment(by: Int64(code + 1))
        }
        let timer = CoreMetrics.Timer(
            label: "cashpoint_request_duration_seconds",
            dimensions: [("mti", mti)],
            factory: factory
        )
        for milliseconds in [1, 3, 7, 12, 40, 300] { timer.recordMilliseconds(milliseconds) }
    }
    CoreMetrics.Gauge(label: "cashpoint_connections", factory: factory).record(120)
    CoreMetrics.Gauge(label: "cashpoint_database_pool_size", factory: factory).record(8)
    CoreMetrics.Meter(label: "cashpoint_requests_in_flight", factory: factory).set(3)
    CoreMetrics.Gauge(label: "cashpoint_audit_unsealed", factory: factory).record(0)
    CoreMetrics.Counter(label: "cashpoint_connections_refused_total", factory: factory).increment()
    CoreMetrics.Counter(label: "cashpoint_malformed_frames_total", dimensions: [("answered", "no")], factory: factory)
        .increment()
    CoreMetrics.Counter(label: "cashpoint_malformed_frames_total", dimensions: [("answered", "30")], factory: factory)
        .increment()
    CoreMetrics.Counter(label: "cashpoint_sign_ons_total", factory: factory).increment()

    return { prometheus.registry.emitToString() }
}
