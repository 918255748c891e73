// swift-tools-version: 6.1
// wirelat's micro-benchmarks, kept out of the main package so its harness
// never slows the main build. Run: cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "WirelatBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "wirelat", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WirelatCore", package: "wirelat"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
