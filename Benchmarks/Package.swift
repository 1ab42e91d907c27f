// swift-tools-version:6.1
// The benchmarks, as a nested package (as swift-nio's Benchmarks/ is), so the main build and CI never
// build ordo-one/benchmark. Run from this folder:
//     swift package --disable-sandbox benchmark
// docs/performance.md records the figures and how they were taken.
import PackageDescription

// SwiftPM names a package that is used by path after the last component of that path, so the project
// one folder up is known by whatever its checkout folder is called ("main", "cashpoint", ...). Its
// products are looked up under that name, computed here from where this manifest lives.
let project: String = {
    let parent = Context.packageDirectory.split(separator: "/").dropLast().last
    guard let parent else {
        fatalError("Benchmarks/ must sit inside the Cashpoint checkout, not at the file system's root")
    }
    return String(parent)
}()

let package = Package(
    name: "cashpoint-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .executableTarget(
            name: "ATM87Benchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ATM87", package: project),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/ATM87Benchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        .executableTarget(
            name: "SwitchSecurityBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ATM87", package: project),
                .product(name: "CashpointSecurity", package: project),
                .product(name: "CashpointSwitch", package: project),
            ],
            path: "Benchmarks/SwitchSecurityBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        .executableTarget(
            name: "ComplianceBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CashpointCompliance", package: project),
                .product(name: "ATM87", package: project),
            ],
            path: "Benchmarks/ComplianceBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
        .executableTarget(
            name: "MetricsBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CashpointMetrics", package: project),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Benchmarks/MetricsBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
    ]
)
