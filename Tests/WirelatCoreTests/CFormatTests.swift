import Foundation
import Testing
@testable import WirelatCore

/// `formatFixed` and ping's `%g` are written without libc: each is checked against
/// glibc's own printf for awkward and random doubles.
@Suite("C number formatting")
struct CFormatTests {
    static func values() -> [Double] {
        var values: [Double] = [
            0, -0.0, 0.005, 0.015, 0.025, 0.125, 0.375, 2.5, 3.5, 1e-7, 5e-7, 4.9999995, 1234.5650000000001,
            1_700_000_000.4999995, 1_795_285_635.490541, 4_294_967_282, 17_179_888_784, 1e15 + 0.3, 2e16,
            9.999999999999999e22, 1.8e19, 123_456_789_012_345_680, .greatestFiniteMagnitude,
            .leastNonzeroMagnitude, .leastNormalMagnitude, 0.5, 1.5, -2.675, .infinity, -.infinity,
            99999.95, 99999.96, 999999.5, 0.0001, 0.00009999995, 0.000099999949, 100, 33.333333333333336,
            66.66666666666667, 0.01, 1e-5, 1e-300, 123456789, 1e100, 12.5, 0.1 + 0.2,
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            values.append(Double(bitPattern: generator.next() & 0x7FFF_FFFF_FFFF_FFFF))
            values.append(Double.random(in: 0..<1e6, using: &generator))
            values.append(Double(Int.random(in: 0..<10_000_000, using: &generator)) / 1000)
            values.append(Double(Int.random(in: 0..<100_000, using: &generator)) / Double(Int.random(in: 1..<100_000, using: &generator)) * 100)
        }
        return values
    }

    @Test("%.Nf, N from 0 to 12, matches glibc's printf")
    func fixed() {
        for v in Self.values() where !v.isNaN {
            for decimals in 0...12 {
                let glibc = String(format: "%.\(decimals)f", v)
                #expect(CFormat.fixed(v, decimals: decimals) == glibc, "\(v.bitPattern) with \(decimals) decimals")
                #expect(CFormat.fixed(-v, decimals: decimals) == String(format: "%.\(decimals)f", -v))
            }
        }
        #expect(CFormat.fixed(-Double.nan, decimals: 2) == "-nan")
        #expect(formatFixed(2356.04, 1) == "2356.0")
    }

    @Test("%g matches glibc's printf")
    func general() {
        for v in Self.values() where !v.isNaN {
            #expect(CFormat.general(v) == String(format: "%g", v), "\(v) (\(v.bitPattern))")
            #expect(CFormat.general(-v) == String(format: "%g", -v), "\(-v)")
        }
        #expect(CFormat.general(0.00001) == "1e-05")
        #expect(CFormat.general(100) == "100")
        #expect(CFormat.general(33.333333333333336) == "33.3333")
    }
}
