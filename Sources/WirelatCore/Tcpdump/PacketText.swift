/// tcpdump's text formats for addresses, padding and hex dumps, written into an
/// `OutputBuffer` in place: no intermediate strings, no `String(format:)`.
extension OutputBuffer {
    // MARK: text

    /// Appends `text` then spaces up to `width` (`%-Ns`).
    mutating func appendLeftAligned(_ text: [UInt8], width: Int) {
        text.withUnsafeBytes { appendBytes($0) }
        appendRepeating(UInt8(ascii: " "), count: width - text.count)
    }

    /// Spaces then `text` up to `width` (`%Ns`).
    mutating func appendRightAligned(_ text: StaticString, width: Int) {
        appendRepeating(UInt8(ascii: " "), count: width - text.utf8CodeUnitCount)
        appendASCII(text)
    }

    // MARK: addresses

    /// Dotted quad.
    mutating func appendIPv4(_ address: IPv4Address) {
        // At most 15 bytes: reserve them once and write each octet in place.
        let start = reserveTail(16)
        var p = start
        let v = address.rawValue
        Self.writeOctet(UInt8(truncatingIfNeeded: v >> 24), at: &p)
        p.pointee = UInt8(ascii: ".")
        p += 1
        Self.writeOctet(UInt8(truncatingIfNeeded: v >> 16), at: &p)
        p.pointee = UInt8(ascii: ".")
        p += 1
        Self.writeOctet(UInt8(truncatingIfNeeded: v >> 8), at: &p)
        p.pointee = UInt8(ascii: ".")
        p += 1
        Self.writeOctet(UInt8(truncatingIfNeeded: v), at: &p)
        count &+= p - start
    }

    @inline(__always)
    private static func writeOctet(_ octet: UInt8, at p: inout UnsafeMutablePointer<UInt8>) {
        let pairs = UnsafeRawPointer(digitPairs.utf8Start)
        if octet >= 100 {
            let hundreds = octet / 100
            p.pointee = 48 &+ hundreds
            UnsafeMutableRawPointer(p + 1).copyMemory(from: pairs + Int(octet &- hundreds &* 100) &* 2, byteCount: 2)
            p += 3
        } else if octet >= 10 {
            UnsafeMutableRawPointer(p).copyMemory(from: pairs + Int(octet) &* 2, byteCount: 2)
            p += 2
        } else {
            p.pointee = 48 &+ octet
            p += 1
        }
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

        // At most 39 bytes ("ffff:" × 7 + "ffff"): reserve them once.
        let start = reserveTail(40)
        var p = start
        var i = 0
        while i < 8 {
            if bestBase != -1, i >= bestBase, i < bestBase + bestLength {
                if i == bestBase {
                    p.pointee = UInt8(ascii: ":")
                    p += 1
                }
                i += 1
                continue
            }
            if i != 0 {
                p.pointee = UInt8(ascii: ":")
                p += 1
            }
            if i == 6, bestBase == 0, bestLength == 6 || (bestLength == 5 && address.group(5) == 0xFFFF) {
                count &+= p - start
                appendIPv4(IPv4Address(UInt32(truncatingIfNeeded: address.low)))
                return
            }
            let group = address.group(i)
            var shift = group == 0 ? 0 : (15 - group.leadingZeroBitCount) & ~3
            while shift >= 0 {
                p.pointee = Self.hexDigit(UInt8(truncatingIfNeeded: group >> UInt16(shift)) & 0xF)
                p += 1
                shift -= 4
            }
            i += 1
        }
        if bestBase != -1, bestBase + bestLength == 8 {
            p.pointee = UInt8(ascii: ":")
            p += 1
        }
        count &+= p - start
    }

    /// `aa:bb:cc:dd:ee:ff` (or any length, colon-separated hex pairs).
    mutating func appendLinkAddress(_ bytes: UnsafeRawBufferPointer) {
        for (i, b) in bytes.enumerated() {
            if i != 0 { appendByte(UInt8(ascii: ":")) }
            appendHexByte(b)
        }
    }

    // MARK: dumps

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
                appendByte(UInt8(ascii: " "))
                appendHexByte(bytes[offset + j])
                hexWidth += 3
                if j + 1 < lineCount {
                    appendHexByte(bytes[offset + j + 1])
                    hexWidth += 2
                }
                j += 2
            }
            if withASCII {
                appendRepeating(UInt8(ascii: " "), count: 40 - hexWidth)
                appendASCII("  ")
                for k in 0..<lineCount {
                    let c = bytes[offset + k]
                    appendByte(c > 0x20 && c < 0x7F ? c : UInt8(ascii: "."))
                }
            }
            offset += lineCount
        }
    }
}

extension Array where Element == UInt8 {
    /// Dotted quad.
    mutating func appendIPv4(_ address: IPv4Address) {
        var text = OutputBuffer(capacity: 16)
        text.appendIPv4(address)
        text.withUnsafeBytes { append(contentsOf: $0) }
    }

    /// IPv6 text as tcpdump's `addrtostr6` writes it (see `OutputBuffer.appendIPv6`).
    mutating func appendIPv6(_ address: IPv6Address) {
        var text = OutputBuffer(capacity: 40)
        text.appendIPv6(address)
        text.withUnsafeBytes { append(contentsOf: $0) }
    }
}
