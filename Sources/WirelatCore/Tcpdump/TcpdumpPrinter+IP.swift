/// The network layer as tcpdump prints it without `-v`: `ip_print`, `ip6_print`
/// and `ip_demux_print`.
extension TcpdumpPrinter {
    /// What the transport printers need from the enclosing IP header (tcpdump's `bp2`).
    struct IPContext {
        var isIPv6: Bool
        var source4 = IPv4Address(0)
        var destination4 = IPv4Address(0)
        var source6 = IPv6Address(high: 0, low: 0)
        var destination6 = IPv6Address(high: 0, low: 0)
        /// The IPv4 protocol field or the IPv6 fixed header's Next Header: the
        /// transport printers name the addresses only when it is their own protocol.
        var firstNextHeader: UInt8
    }

    static let maximumTunnelDepth = 32

    /// `ip_print`. `length` is what the link layer says remains (wire length).
    mutating func printIPv4(at o: Int, length: Int) throws(PrintTruncated) {
        protocolName = "ip"
        let first = try u8(o)
        if first >> 4 != 4 {
            if first >> 4 == 6 {
                out.appendASCII("IP6, wrong link-layer encapsulation")
            } else {
                out.appendASCII("IP")
                out.appendDecimal(first >> 4)
            }
            appendInvalid()
            return
        }
        out.appendASCII("IP ")
        var reader = ByteReader(captured(o, IPv4Header.minimumHeaderLength))
        let header: IPv4Header
        do throws(DecodeError) {
            header = try IPv4Header(decoding: &reader)
        } catch {
            if case .truncated = error.kind {
                appendTruncationMarker()
                return
            }
            // The only malformation left is IHL < 5; the fields were read.
            reader = ByteReader(captured(o, IPv4Header.minimumHeaderLength))
            if length < IPv4Header.minimumHeaderLength {
                out.appendASCII("truncated-ip ")
                out.appendDecimal(UInt32(truncatingIfNeeded: length))
                return
            }
            out.appendASCII("bad-hlen ")
            out.appendDecimal(Int(first & 0x0F) * 4)
            return
        }
        if length < IPv4Header.minimumHeaderLength {
            out.appendASCII("truncated-ip ")
            out.appendDecimal(UInt32(truncatingIfNeeded: length))
            return
        }
        var totalLength = Int(header.totalLength)
        if length < totalLength {
            out.appendASCII("truncated-ip - ")
            out.appendDecimal(totalLength - length)
            out.appendASCII(" bytes missing! ")
        }
        if totalLength < header.headerLength {
            out.appendASCII("bad-len ")
            out.appendDecimal(totalLength)
            return
        }
        let savedSnapEnd = snapEnd
        defer { snapEnd = savedSnapEnd }
        snapEnd = min(snapEnd, o + totalLength)
        totalLength -= header.headerLength

        var context = IPContext(isIPv6: false, firstNextHeader: header.protocolNumber)
        context.source4 = header.source
        context.destination4 = header.destination
        let next = header.protocolNumber
        if !header.isLaterFragment {
            if next != IPProtocolNumber.tcp && next != IPProtocolNumber.udp && next != IPProtocolNumber.sctp
                && next != IPProtocolNumber.dccp
            {
                appendAddresses(context)
                out.appendASCII(": ")
            }
            try requireHeader(at: o, length: header.headerLength)
            try printIPPayload(next, at: o + header.headerLength, length: totalLength, context: context,
                               fragmented: header.moreFragments)
        } else {
            appendAddresses(context)
            out.appendASCII(": ip-proto-")
            out.appendDecimal(next)
        }
    }

    mutating func appendAddresses(_ context: IPContext) {
        if context.isIPv6 {
            out.appendIPv6(context.source6)
            out.appendASCII(" > ")
            out.appendIPv6(context.destination6)
        } else {
            out.appendIPv4(context.source4)
            out.appendASCII(" > ")
            out.appendIPv4(context.destination4)
        }
    }

    /// `ip6_print`.
    mutating func printIPv6(at o: Int, length wireLength: Int) throws(PrintTruncated) {
        protocolName = "ip6"
        guard available(o, IPv6Header.headerLength) else { throw PrintTruncated() }
        if wireLength < IPv6Header.headerLength {
            out.appendASCII("truncated-ip6 ")
            out.appendDecimal(UInt32(truncatingIfNeeded: wireLength))
            return
        }
        out.appendASCII("IP6 ")
        var reader = ByteReader(captured(o, IPv6Header.headerLength))
        let header: IPv6Header
        do throws(DecodeError) {
            header = try IPv6Header(decoding: &reader)
        } catch {
            out.appendASCII("version error: ")
            out.appendDecimal((try u8(o)) >> 4)
            out.appendASCII(" != 6")
            return
        }
        let payloadLength = Int(header.payloadLength)
        var length: Int
        if payloadLength != 0 {
            length = payloadLength + IPv6Header.headerLength
            if wireLength < length {
                out.appendASCII("truncated-ip6 - ")
                out.appendDecimal(length - wireLength)
                out.appendASCII(" bytes missing!")
            }
        } else {
            length = wireLength + IPv6Header.headerLength
        }
        let savedSnapEnd = snapEnd
        defer { snapEnd = savedSnapEnd }
        snapEnd = min(snapEnd, o + length)

        var context = IPContext(isIPv6: true, firstNextHeader: header.nextHeader)
        context.source6 = header.source
        context.destination6 = header.destination

        var cp = o
        var advance = IPv6Header.headerLength
        var totalAdvance = 0
        var next = header.nextHeader
        var previous: UInt8 = 255
        var foundExtension = false
        var foundHopByHop = false
        var jumboLength: UInt32? = nil
        var fragmented = false
        while cp < snapEnd && advance > 0 {
            if length < advance {
                appendTruncationMarker()
                return
            }
            cp += advance
            length -= advance
            totalAdvance += advance
            if cp == o + IPv6Header.headerLength && next != IPProtocolNumber.tcp && next != IPProtocolNumber.udp
                && next != IPProtocolNumber.dccp && next != IPProtocolNumber.sctp
            {
                appendAddresses(context)
                out.appendASCII(": ")
            }
            switch next {
            case IPProtocolNumber.hopByHop:
                if foundHopByHop {
                    out.appendASCII("[The Hop-by-Hop Options header was already found]")
                    appendInvalid()
                    return
                }
                if previous != 255 {
                    out.appendASCII("[The Hop-by-Hop Options header don't follow the IPv6 header]")
                    appendInvalid()
                    return
                }
                protocolName = "hbhopt"
                let size = try printOptionsHeader(at: cp, name: "HBH ", payloadLength: payloadLength, jumbo: &jumboLength)
                if payloadLength == 0 && jumboLength == nil {
                    out.appendASCII("[No valid Jumbo Payload Hop-by-Hop option found]")
                    appendInvalid()
                    return
                }
                guard let size else { return }
                advance = size
                foundExtension = true
                foundHopByHop = true
                next = try u8(cp)
            case IPProtocolNumber.destinationOptions:
                protocolName = "dstopt"
                var unused: UInt32? = nil
                guard let size = try printOptionsHeader(at: cp, name: "DSTOPT ", payloadLength: nil, jumbo: &unused)
                else { return }
                advance = size
                foundExtension = true
                next = try u8(cp)
            case IPProtocolNumber.fragment:
                protocolName = "frag6"
                let offsetAndFlags = try u16(cp + 2)
                out.appendASCII("frag (")
                out.appendDecimal(offsetAndFlags & 0xFFF8)
                out.appendByte(UInt8(ascii: "|"))
                // tcpdump computes this in size_t, so a short payload wraps to 64 bits.
                out.appendDecimal(UInt64(IPv6Header.headerLength + payloadLength) &- UInt64(cp - o) &- 8)
                out.appendASCII(")")
                if offsetAndFlags & 0xFFF8 != 0 { return }
                out.appendByte(UInt8(ascii: " "))
                advance = 8
                if snapEnd <= cp + advance { return }
                foundExtension = true
                next = try u8(cp)
                fragmented = true
            case IPProtocolNumber.routing:
                _ = try u8(cp)
                guard let size = try printRoutingHeader(at: cp) else { return }
                advance = size
                foundExtension = true
                next = try u8(cp)
            default:
                if let jumbo = jumboLength {
                    var total = UInt32(truncatingIfNeeded: jumbo &+ UInt32(IPv6Header.headerLength))
                    if total < UInt32(totalAdvance) {
                        appendTruncationMarker()
                        return
                    }
                    if UInt32(truncatingIfNeeded: wireLength) < total {
                        out.appendASCII("truncated-ip6 - ")
                        out.appendDecimal(total &- UInt32(truncatingIfNeeded: wireLength))
                        out.appendASCII(" bytes missing!")
                    }
                    snapEnd = min(savedSnapEnd, o &+ Int(total))
                    total -= UInt32(totalAdvance)
                    length = Int(total)
                } else if payloadLength == 0 {
                    if foundExtension {
                        appendTruncationMarker()
                        return
                    }
                    length = IPv6Header.headerLength
                    snapEnd = min(savedSnapEnd, o + length)
                    length -= totalAdvance
                }
                try printIPPayload(next, at: cp, length: length, context: context, fragmented: fragmented)
                return
            }
            previous = next
        }
    }

    /// Hop-by-hop or destination options (`hbhopt_process`, `dstopt_process`):
    /// prints the name, walks the options as tcpdump does (noting a Jumbo
    /// Payload, RFC 2675) and returns the header length, or nil after printing
    /// a truncation marker.
    private mutating func printOptionsHeader(at cp: Int, name: StaticString, payloadLength: Int?,
                                             jumbo: inout UInt32?) throws(PrintTruncated) -> Int? {
        let size = (Int(try u8(cp + 1)) + 1) << 3
        if !available(cp, size) {
            appendTruncationMarker()
            return nil
        }
        out.appendASCII(name)
        let options = cp + 2
        let length = size - 2
        var found = false
        /// Whether the option at `i` has the `size` bytes and the declared length its
        /// definition fixes; if not, prints why as tcpdump does.
        func fixedSizeOption(_ name: StaticString, at i: Int, size: Int, declared expected: UInt8) throws(PrintTruncated) -> Bool {
            if length - i < size {
                out.appendASCII("(")
                out.appendASCII(name)
                out.appendASCII(": trunc)")
                return false
            }
            let declared = try u8(options + i + 1)
            if declared != expected {
                out.appendASCII("(")
                out.appendASCII(name)
                out.appendASCII(": invalid len ")
                out.appendDecimal(declared)
                out.appendASCII(")")
                return false
            }
            return true
        }
        var i = 0
        while i < length {
            let type = try u8(options + i)
            var optionLength = 1
            if type != 0 {
                guard i + 1 < length else { return optionsTruncated() }
                optionLength = Int(try u8(options + i + 1)) + 2
            }
            if i + optionLength > length { return optionsTruncated() }
            switch type {
            case 0:
                break
            case 1:
                if length - i < 2 {
                    out.appendASCII("(padn: trunc)")
                    return optionsTruncated()
                }
            case 5:
                // Router alert, RFC 2711 §2.1.
                guard try fixedSizeOption("rtalert", at: i, size: 4, declared: 2) else { return optionsTruncated() }
            case 0xC2:
                // Jumbo payload, RFC 2675 §2.
                guard try fixedSizeOption("jumbo", at: i, size: 6, declared: 4) else { return optionsTruncated() }
                let value = try u32(options + i + 2)
                if !found {
                    found = true
                    if let payloadLength, payloadLength == 0, value >= 65536 { jumbo = value }
                }
            case 0xC9:
                if length - i < 18 {
                    out.appendASCII("(homeaddr: trunc)")
                    return optionsTruncated()
                }
                let declared = try u8(options + i + 1)
                if declared < 16 {
                    out.appendASCII("(homeaddr: invalid len ")
                    out.appendDecimal(declared)
                    out.appendASCII(")")
                    return optionsTruncated()
                }
            default:
                if length - i < 2 {
                    out.appendASCII("(type ")
                    out.appendDecimal(type)
                    out.appendASCII(": trunc)")
                    return optionsTruncated()
                }
            }
            i += optionLength
        }
        return size
    }

    private mutating func optionsTruncated() -> Int? {
        appendTruncationMarker()
        return nil
    }

    /// `rt6_print` without `-v`; nil when it printed `(invalid)`. A truncation
    /// inside it ends the line with ` [|rt6]`.
    private mutating func printRoutingHeader(at cp: Int) throws(PrintTruncated) -> Int? {
        protocolName = "rt6"
        out.appendASCII("RT6")
        var length = Int(try u8(cp + 1))
        out.appendASCII(" (len=")
        out.appendDecimal(length)
        let type = try u8(cp + 2)
        out.appendASCII(", type=")
        out.appendDecimal(type)
        if type == 0 { out.appendASCII(" [Deprecated]") }
        out.appendASCII(", segleft=")
        out.appendDecimal(try u8(cp + 3))
        switch type {
        case 0, 2:
            if length % 2 == 1 {
                out.appendASCII(" [invalid length ")
                out.appendDecimal(length)
                out.appendASCII("]")
                appendInvalid()
                return nil
            }
            length >>= 1
            return try appendRoutingAddresses(cp, count: length)
        case 4:
            // Segment Routing Header, RFC 8754 §2.
            let lastEntry = Int(try u8(cp + 4))
            out.appendASCII(", last-entry=")
            out.appendDecimal(lastEntry)
            let flags = try u8(cp + 5)
            if flags != 0 {
                out.appendASCII(", flags=0x")
                out.appendHex(UInt64(flags))
            }
            out.appendASCII(", tag=")
            out.appendHex(UInt64(try u16(cp + 6)))
            if length % 2 == 1 {
                out.appendASCII(" (invalid length ")
                out.appendDecimal(length)
                out.appendASCII(")")
                appendInvalid()
                return nil
            }
            return try appendRoutingAddresses(cp, count: lastEntry + 1)
        default:
            out.appendASCII(" (unknown type)")
            appendInvalid()
            return nil
        }
    }

    /// The addresses of a routing header (`, [0]ADDR, [1]ADDR…`) from its 8th byte, the
    /// closing `) `, and the header's length from its Hdr Ext Len (RFC 8200 §4.4).
    private mutating func appendRoutingAddresses(_ cp: Int, count: Int) throws(PrintTruncated) -> Int {
        var p = cp + 8
        for i in 0..<count {
            let address = try ipv6Address(p)
            out.appendASCII(", [")
            out.appendDecimal(i)
            out.appendASCII("]")
            out.appendIPv6(address)
            p += 16
        }
        out.appendASCII(") ")
        return (Int(try u8(cp + 1)) + 1) << 3
    }

    /// `ip_demux_print`.
    mutating func printIPPayload(_ next: UInt8, at o: Int, length: Int, context: IPContext,
                                 fragmented: Bool) throws(PrintTruncated) {
        switch next {
        case IPProtocolNumber.tcp:
            try printTCP(at: o, length: length, context: context)
        case IPProtocolNumber.udp:
            try printUDP(at: o, length: length, context: context, fragmented: fragmented)
        case IPProtocolNumber.icmp:
            if context.isIPv6 {
                out.appendASCII("[ICMP requires IPv4]")
                appendInvalid()
            } else {
                try printICMP(at: o, length: length)
            }
        case IPProtocolNumber.icmpv6:
            if context.isIPv6 {
                try printICMPv6(at: o, length: length)
            } else {
                out.appendASCII("[ICMPv6 requires IPv6]")
                appendInvalid()
            }
        case IPProtocolNumber.ipv4, IPProtocolNumber.ipv6:
            guard ipDepth < Self.maximumTunnelDepth else {
                out.appendASCII(" ip-proto-")
                out.appendDecimal(next)
                out.appendByte(UInt8(ascii: " "))
                out.appendDecimal(length)
                return
            }
            ipDepth += 1
            defer { ipDepth -= 1 }
            if next == IPProtocolNumber.ipv4 {
                try printIPv4(at: o, length: length)
            } else {
                try printIPv6(at: o, length: length)
            }
        case IPProtocolNumber.noNextHeader:
            out.appendASCII("no next header")
        case 77:
            out.appendASCII(" nd ")
            out.appendDecimal(length)
        default:
            // tcpdump has printers for AH, ESP, GRE, SCTP, DCCP, IGMP, OSPF, PIM, VRRP
            // and more; they are not mirrored: print what tcpdump prints for unknown protocols.
            if next == IPProtocolNumber.sctp || next == IPProtocolNumber.dccp {
                appendAddresses(context)
                out.appendASCII(":")
            }
            out.appendASCII(" ip-proto-")
            out.appendDecimal(next)
            out.appendByte(UInt8(ascii: " "))
            out.appendDecimal(UInt32(truncatingIfNeeded: length))
        }
    }
}
