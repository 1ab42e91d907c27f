// swift-tools-version:6.1
// The benchmarks, as a nested package (as swift-nio's Benchmarks/ is), so the main build and CI never
// build ordo-one/benchmark. Run from this folder:
//     swift package --disable-sandbox benchmark
// docs/performance.md records the figures and how they were taken.
import PackageDescription

let package = Package(
    name: "cashpoint-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "ATM87Benchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "ATM87", package: "main"),
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
                .product(name: "ATM87", package: "main"),
                .product(name: "CashpointSecurity", package: "main"),
                .product(name: "CashpointSwitch", package: "main"),
            ],
            path: "Benchmarks/SwitchSecurityBenchmarks",
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark")
            ]
        ),
    ]
)
