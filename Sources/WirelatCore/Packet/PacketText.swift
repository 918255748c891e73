/// Appending tcpdump's text formats to a byte buffer without building intermediate
/// strings or calling `String(format:)`: every helper writes ASCII digits in place.
extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendASCII(_ text: StaticString) {
        text.withUTF8Buffer { self.append(contentsOf: $0) }
    }

    @inline(__always)
    mutating func appendByte(_ byte: UInt8) { append(byte) }

    /// `%u` / `%lu`.
    @inline(__always)
    mutating func appendDecimal<T: BinaryInteger>(_ value: T) {
        appendDecimal(UInt64(truncatingIfNeeded: value), minimumDigits: 1)
    }

    /// `%0Nu`: at least `minimumDigits` digits, zero-padded.
    mutating func appendDecimal(_ value: UInt64, minimumDigits: Int) {
        // Digits are written backwards into a stack buffer prefilled with "0"s,
        // then appended at once: no per-digit growth of the array.
        let zeros: UInt64 = 0x3030_3030_3030_3030
        var scratch = (zeros, zeros, zeros)
        Swift.withUnsafeMutableBytes(of: &scratch) { buffer in
            var i = buffer.count
            var v = value
            repeat {
                i -= 1
                buffer[i] = UInt8(truncatingIfNeeded: 48 &+ v % 10)
                v /= 10
            } while v != 0
            let start = Swift.max(0, Swift.min(i, buffer.count - minimumDigits))
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// `%d`.
    mutating func appendSignedDecimal(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(value.magnitude, minimumDigits: 1)
        } else {
            appendDecimal(UInt64(value), minimumDigits: 1)
        }
    }

    /// `%x` (lower case) with at least `minimumDigits` digits (`%02x`, `%04x`, `%08x`).
    mutating func appendHex(_ value: UInt64, minimumDigits: Int = 1) {
        let zeros: UInt64 = 0x3030_3030_3030_3030
        var scratch = (zeros, zeros, zeros)
        Swift.withUnsafeMutableBytes(of: &scratch) { buffer in
            var i = buffer.count
            var v = value
            repeat {
                i -= 1
                let nibble = UInt8(truncatingIfNeeded: v & 0xF)
                buffer[i] = nibble < 10 ? 48 &+ nibble : 87 &+ nibble
                v >>= 4
            } while v != 0
            let start = Swift.max(0, Swift.min(i, buffer.count - minimumDigits))
            append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Appends `text` then spaces up to `width` (`%-Ns`).
    mutating func appendLeftAligned(_ text: [UInt8], width: Int) {
        append(contentsOf: text)
        if text.count < width { append(contentsOf: repeatElement(UInt8(ascii: " "), count: width - text.count)) }
    }

    /// Spaces then `text` up to `width` (`%Ns`).
    mutating func appendRightAligned(_ text: StaticString, width: Int) {
        let n = text.utf8CodeUnitCount
        if n < width { append(contentsOf: repeatElement(UInt8(ascii: " "), count: width - n)) }
        appendASCII(text)
    }

    /// Dotted quad.
    mutating func appendIPv4(_ address: IPv4Address) {
        let v = address.rawValue
        appendDecimal(UInt8(truncatingIfNeeded: v >> 24))
        append(UInt8(ascii: "."))
        appendDecimal(UInt8(truncatingIfNeeded: v >> 16))
        append(UInt8(ascii: "."))
        appendDecimal(UInt8(truncatingIfNeeded: v >> 8))
        append(UInt8(ascii: "."))
        appendDecimal(UInt8(truncatingIfNeeded: v))
    }

    /// IPv6 text as tcpdump's `addrtostr6` writes it: the longest run (first on a
    /// tie) of two or more zero groups becomes `::`; `::a.b.c.d` and
    /// `::ffff:a.b.c.d` keep the IPv4 part dotted.
    mutating func appendIPv6(_ address: IPv6Address) {
        var bestBase = -1, bestLength = 0, currentBase = -1, currentLength = 0
        for i in 0..<8 {
            if address.group(i) == 0 {
                if currentBase == -1 {
                    currentBase = i
                    currentLength = 1
                } else {
                    currentLength += 1
                }
            } else if currentBase != -1 {
                if bestBase == -1 || currentLength > bestLength {
                    bestBase = currentBase
                    bestLength = currentLength
                }
                currentBase = -1
            }
        }
        if currentBase != -1, bestBase == -1 || currentLength > bestLength {
            bestBase = currentBase
            bestLength = currentLength
        }
        if bestBase != -1, bestLength < 2 { bestBase = -1 }

        var i = 0
        while i < 8 {
            if bestBase != -1, i >= bestBase, i < bestBase + bestLength {
                if i == bestBase { append(UInt8(ascii: ":")) }
                i += 1
                continue
            }
            if i != 0 { append(UInt8(ascii: ":")) }
            if i == 6, bestBase == 0, bestLength == 6 || (bestLength == 5 && address.group(5) == 0xFFFF) {
                appendIPv4(IPv4Address(UInt32(truncatingIfNeeded: address.low)))
                return
            }
            appendHex(UInt64(address.group(i)))
            i += 1
        }
        if bestBase != -1, bestBase + bestLength == 8 { append(UInt8(ascii: ":")) }
    }

    /// `aa:bb:cc:dd:ee:ff` (or any length, colon-separated hex pairs).
    mutating func appendLinkAddress(_ bytes: UnsafeRawBufferPointer) {
        for (i, b) in bytes.enumerated() {
            if i != 0 { append(UInt8(ascii: ":")) }
            appendHex(UInt64(b), minimumDigits: 2)
        }
    }

    /// tcpdump's `hex_and_ascii_print` with the `"\n\t"` indent: lines of
    /// `0xOOOO:  hhhh hhhh ...  ascii`, sixteen bytes a line.
    mutating func appendHexAndASCIIDump(_ bytes: UnsafeRawBufferPointer) {
        appendDump(bytes, withASCII: true)
    }

    /// tcpdump's `hex_print` with the `"\n\t"` indent (no ASCII column).
    mutating func appendHexDump(_ bytes: UnsafeRawBufferPointer) {
        appendDump(bytes, withASCII: false)
    }

    private mutating func appendDump(_ bytes: UnsafeRawBufferPointer, withASCII: Bool) {
        var offset = 0
        while offset < bytes.count {
            let lineCount = Swift.min(16, bytes.count - offset)
            appendASCII("\n\t0x")
            appendHex(UInt64(offset), minimumDigits: 4)
            appendASCII(": ")
            var hexWidth = 0
            var j = 0
            while j < lineCount {
                append(UInt8(ascii: " "))
                appendHex(UInt64(bytes[offset + j]), minimumDigits: 2)
                hexWidth += 3
                if j + 1 < lineCount {
                    appendHex(UInt64(bytes[offset + j + 1]), minimumDigits: 2)
                    hexWidth += 2
                }
                j += 2
            }
            if withASCII {
                if hexWidth < 40 { append(contentsOf: repeatElement(UInt8(ascii: " "), count: 40 - hexWidth)) }
                appendASCII("  ")
                for k in 0..<lineCount {
                    let c = bytes[offset + k]
                    append(c > 0x20 && c < 0x7F ? c : UInt8(ascii: "."))
                }
            }
            offset += lineCount
        }
    }
}
