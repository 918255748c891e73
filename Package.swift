// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "wirelat",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wirelat", targets: ["wirelat"]),
        .library(name: "WirelatCore", targets: ["WirelatCore"]),
        .library(name: "WirelatIO", targets: ["WirelatIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // Pure: wire codec, decoders, matchers, statistics, reports. No kernel calls.
        .target(
            name: "WirelatCore",
            dependencies: [
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "RealModule", package: "swift-numerics"),
                // SHA-1, SHA-256, HMAC and MD5 for the database logins (pg SCRAM/md5, mysql_native_password).
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // What Glibc's Swift module does not show: epoll, eventfd, timerfd, accept4,
        // SO_TIMESTAMPING flags and the CMSG macros.
        .target(name: "CWirelatShim"),
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // The only module that calls the kernel (and libpcap).
        .target(name: "WirelatIO", dependencies: ["WirelatCore", "CWirelatShim", "CPcap"]),
        // Server, client and the other engines, on top of WirelatIO.
        .target(name: "WirelatKit", dependencies: ["WirelatCore", "WirelatIO"]),
        .executableTarget(
            name: "wirelat",
            dependencies: [
                "WirelatCore", "WirelatKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The decoders under libFuzzer (scripts/fuzz builds it with -sanitize=fuzzer);
        // a plain build replays inputs given as files.
        .executableTarget(name: "wirelat-fuzz", dependencies: ["WirelatCore"], path: "Sources/WirelatFuzz"),
        .testTarget(name: "WirelatCoreTests", dependencies: ["WirelatCore", "WirelatTestSupport", .product(name: "Histogram", package: "hdrhistogram-swift")], exclude: ["Fixtures"]),
        // Helpers the test targets share: bounded waits, raw loopback connections, child processes.
        .target(name: "WirelatTestSupport", dependencies: ["WirelatIO"], path: "Tests/WirelatTestSupport"),
        .testTarget(name: "WirelatIOTests", dependencies: ["WirelatIO", "WirelatCore", "WirelatTestSupport"]),
        // Server, client and capture pipeline, in process.
        .testTarget(name: "WirelatKitTests", dependencies: ["WirelatKit", "WirelatIO", "WirelatCore", "WirelatTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "EndToEndTests", dependencies: ["WirelatCore", "WirelatIO", "WirelatTestSupport"]),
    ]
)
