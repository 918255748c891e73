/// The conversions of C's `printf` that wirelat's text mirrors (tcpstat's `snprintf`
/// calls, ping's `%g`), reproduced without libc: `%.Nf` and `%g` of a double, with
/// glibc's digits (the exact decimal value of the double, rounded half to even), and
/// the `(int)` cast of a double (x86-64 `cvttsd2si`: truncation, and INT_MIN when the
/// value does not fit).
enum CFormat {
    private static let powersOfTen: [UInt64] = [1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000,
                                                100_000_000, 1_000_000_000]

    /// `(int)value`.
    static func int(_ value: Double) -> Int32 {
        guard value > -2_147_483_649.0, value < 2_147_483_648.0 else { return Int32.min }
        return Int32(value)
    }

    /// `printf("%.<decimals>f", value)`.
    static func fixed(_ value: Double, decimals: Int) -> String {
        var out = ""
        appendFixed(value, decimals: decimals, to: &out)
        return out
    }

    /// Appends `value` as `printf("%.<decimals>f")` writes it.
    static func appendFixed(_ value: Double, decimals: Int, to out: inout String) {
        if value.isNaN {
            out += value.sign == .minus ? "-nan" : "nan"
            return
        }
        if value.sign == .minus { out += "-" }
        let v = value.magnitude
        if v.isInfinite {
            out += "inf"
            return
        }
        let (significand, exponent) = parts(v)
        if decimals < powersOfTen.count, let scaled = scaledFast(significand, exponent, powersOfTen[decimals]) {
            appendDigits(String(scaled), decimals: decimals, to: &out)
        } else {
            var exact = ExactDecimal(significand: significand, exponent: exponent)
            exact.round(fractionDigits: decimals)
            appendDigits(exact.digitString, decimals: decimals, to: &out)
        }
    }

    /// `printf("%g", value)`: six significant digits, trailing zeros removed, in
    /// exponent form when the exponent is below −4 or at least 6.
    static func general(_ value: Double) -> String {
        let precision = 6
        if value.isNaN { return value.sign == .minus ? "-nan" : "nan" }
        let sign = value.sign == .minus ? "-" : ""
        let v = value.magnitude
        if v.isInfinite { return sign + "inf" }
        if v == 0 { return sign + "0" }
        let (significand, exponent) = parts(v)
        // The %e conversion: the first `precision` significant digits and the exponent.
        var exact = ExactDecimal(significand: significand, exponent: exponent)
        let x = exact.roundSignificant(precision)
        if x >= -4 && x < precision {
            var text = sign
            appendFixed(v, decimals: precision - 1 - x, to: &text)
            return stripZeros(text)
        }
        let digits = Array(exact.digitString.utf8.prefix(precision))
        var mantissa = String(decoding: digits.prefix(1), as: UTF8.self)
        if digits.count > 1 { mantissa += "." + String(decoding: digits.dropFirst(), as: UTF8.self) }
        let magnitude = x.magnitude
        return sign + stripZeros(mantissa) + (x < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + String(magnitude)
    }

    /// The fraction's trailing zeros, and then a trailing point, removed.
    private static func stripZeros(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var t = Substring(text)
        while t.hasSuffix("0") { t.removeLast() }
        if t.hasSuffix(".") { t.removeLast() }
        return String(t)
    }

    /// A finite, non-negative double as significand × 2^exponent.
    private static func parts(_ v: Double) -> (UInt64, Int) {
        let bits = v.bitPattern
        let biased = Int(bits >> 52)
        let fraction = bits & ((1 << 52) - 1)
        return biased == 0 ? (fraction, -1074) : (fraction | 1 << 52, biased - 1075)
    }

    /// `significand × scale × 2^exponent` rounded half to even, when it fits 64 bits.
    private static func scaledFast(_ significand: UInt64, _ exponent: Int, _ scale: UInt64) -> UInt64? {
        if significand == 0 { return 0 }
        if exponent >= 0 {
            guard exponent <= 10 else { return nil }
            let (product, overflow) = (significand << UInt64(exponent)).multipliedReportingOverflow(by: scale)
            return overflow ? nil : product
        }
        let shift = -exponent
        let (high, low) = significand.multipliedFullWidth(by: scale)
        // significand × 10^9 < 2^83, so past 84 bits of shift the value is below one half.
        if shift > 84 { return 0 }
        let quotient: UInt64
        let belowHalf: Bool
        let isHalf: Bool
        if shift >= 64 {
            let s = shift - 64
            quotient = s == 0 ? high : high >> UInt64(s)
            // remainder = (high mod 2^s) · 2^64 + low, compared with 2^(shift−1)
            let remainderHigh = s == 0 ? 0 : high & ((1 << UInt64(s)) - 1)
            if s == 0 {
                isHalf = low == 1 << 63
                belowHalf = low < 1 << 63
            } else {
                let halfHigh: UInt64 = 1 << UInt64(s - 1)
                isHalf = remainderHigh == halfHigh && low == 0
                belowHalf = remainderHigh < halfHigh
            }
        } else {
            guard high >> UInt64(shift) == 0 else { return nil }
            quotient = high << UInt64(64 - shift) | low >> UInt64(shift)
            let remainder = low & ((1 << UInt64(shift)) - 1)
            let half: UInt64 = 1 << UInt64(shift - 1)
            isHalf = remainder == half
            belowHalf = remainder < half
        }
        if belowHalf || (isHalf && quotient & 1 == 0) { return quotient }
        let (rounded, overflow) = quotient.addingReportingOverflow(1)
        return overflow ? nil : rounded
    }

    /// Writes `digits` (the value × 10^decimals) with the point `decimals` from the right.
    private static func appendDigits(_ digits: String, decimals: Int, to out: inout String) {
        let count = digits.utf8.count
        if decimals == 0 {
            out += digits
            return
        }
        if count <= decimals {
            out += "0."
            out += String(repeating: "0", count: decimals - count)
            out += digits
        } else {
            let split = digits.index(digits.startIndex, offsetBy: count - decimals)
            out += digits[..<split]
            out += "."
            out += digits[split...]
        }
    }
}

/// The exact decimal value of a double: every double is significand × 2^exponent,
/// which is a whole number of 10^−k for k = max(0, −exponent), so its decimal
/// expansion ends. `digits` (most significant first, no leading zeros, "0" for
/// zero) holds value × 10^fractionDigits.
private struct ExactDecimal {
    var digits: [UInt8]
    var fractionDigits: Int

    init(significand: UInt64, exponent: Int) {
        var big = BigUnsigned(significand)
        if exponent >= 0 {
            big.shiftLeft(exponent)
            fractionDigits = 0
        } else {
            // significand / 2^k = significand × 5^k / 10^k
            var k = -exponent
            while k > 0 {
                let step = min(k, 13)
                var factor: UInt64 = 1
                for _ in 0..<step { factor *= 5 }
                big.multiply(by: factor)
                k -= step
            }
            fractionDigits = -exponent
        }
        digits = Array(big.decimalString().utf8).map { $0 - 0x30 }
    }

    var digitString: String { String(decoding: digits.map { $0 + 0x30 }, as: UTF8.self) }

    /// Rounds, half to even, to `count` digits after the point.
    mutating func round(fractionDigits count: Int) {
        if count >= fractionDigits {
            digits += repeatElement(0, count: count - fractionDigits)
            fractionDigits = count
            trimLeadingZeros()
            return
        }
        let drop = fractionDigits - count
        fractionDigits = count
        roundAway(drop)
    }

    /// Rounds, half to even, to `count` significant digits; returns the decimal
    /// exponent of the first of them (the exponent `%e` prints). Not for zero.
    mutating func roundSignificant(_ count: Int) -> Int {
        if digits.count > count {
            let drop = digits.count - count
            roundAway(drop)
            fractionDigits -= drop
        }
        // digits now holds at most `count` digits, or count + 1 after a carry ("1000000").
        let exponent = digits.count - 1 - fractionDigits
        if digits.count < count { digits += repeatElement(0, count: count - digits.count) }
        return exponent
    }

    /// Removes the last `drop` digits, rounding what is left half to even.
    private mutating func roundAway(_ drop: Int) {
        if drop > digits.count {
            digits = [0]
            return
        }
        let keep = digits.count - drop
        let first = digits[keep]
        let restNonZero = digits[(keep + 1)...].contains { $0 != 0 }
        let lastKept = keep > 0 ? digits[keep - 1] : 0
        digits.removeLast(drop)
        if digits.isEmpty { digits = [0] }
        if first > 5 || (first == 5 && (restNonZero || lastKept & 1 == 1)) {
            var i = digits.count - 1
            while true {
                if digits[i] < 9 {
                    digits[i] += 1
                    break
                }
                digits[i] = 0
                if i == 0 {
                    digits.insert(1, at: 0)
                    break
                }
                i -= 1
            }
        }
        trimLeadingZeros()
    }

    private mutating func trimLeadingZeros() {
        while digits.count > 1, digits[0] == 0 { digits.removeFirst() }
    }
}

/// An unsigned integer of any size. Little-endian 32-bit limbs.
private struct BigUnsigned {
    var limbs: [UInt32]

    init(_ value: UInt64) {
        limbs = [UInt32(truncatingIfNeeded: value), UInt32(truncatingIfNeeded: value >> 32)]
    }

    mutating func multiply(by factor: UInt64) {
        precondition(factor <= UInt64(UInt32.max))
        var carry: UInt64 = 0
        for i in limbs.indices {
            let p = UInt64(limbs[i]) * factor + carry
            limbs[i] = UInt32(truncatingIfNeeded: p)
            carry = p >> 32
        }
        while carry != 0 {
            limbs.append(UInt32(truncatingIfNeeded: carry))
            carry >>= 32
        }
    }

    mutating func shiftLeft(_ bits: Int) {
        let whole = bits / 32
        let part = bits % 32
        if part != 0 {
            var carry: UInt32 = 0
            for i in limbs.indices {
                let v = limbs[i]
                limbs[i] = v << UInt32(part) | carry
                carry = v >> UInt32(32 - part)
            }
            if carry != 0 { limbs.append(carry) }
        }
        limbs.insert(contentsOf: repeatElement(0, count: whole), at: 0)
    }

    func decimalString() -> String {
        var work = limbs
        while work.count > 1, work.last == 0 { work.removeLast() }
        if work == [0] { return "0" }
        var chunks: [UInt32] = []
        while !(work.count == 1 && work[0] == 0) {
            var remainder: UInt64 = 0
            for i in work.indices.reversed() {
                let v = remainder << 32 | UInt64(work[i])
                work[i] = UInt32(v / 1_000_000_000)
                remainder = v % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while work.count > 1, work.last == 0 { work.removeLast() }
        }
        var s = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let c = String(chunk)
            s += String(repeating: "0", count: 9 - c.utf8.count) + c
        }
        return s
    }
}
