/// `icmp_print`, `icmp6_print` and `arp_print` without `-v`.
extension TcpdumpPrinter {
    /// ICMP (RFC 792). tcpdump builds the whole description before printing it,
    /// so a truncated message prints only the marker.
    mutating func printICMP(at o: Int, length: Int) throws(PrintTruncated) {
        protocolName = "icmp"
        let mark = out.count
        do throws(PrintTruncated) {
            out.appendASCII("ICMP ")
            try appendICMPDescription(at: o)
            out.appendASCII(", length ")
            out.appendDecimal(UInt32(truncatingIfNeeded: length))
        } catch {
            out.truncate(to: mark)
            appendTruncationMarker()
        }
    }

    private mutating func appendICMPDescription(at o: Int) throws(PrintTruncated) {
        let type = try u8(o)
        let code = try u8(o + 1)
        // The returned IP header of an error message starts 8 bytes in (RFC 792).
        let inner = o + 8
        switch type {
        case 0, 8:
            let id = try u16(o + 4), seq = try u16(o + 6)
            out.appendASCII(type == 8 ? "echo request, id " : "echo reply, id ")
            out.appendDecimal(id)
            out.appendASCII(", seq ")
            out.appendDecimal(seq)
        case 3:
            let target = try ipv4Address(inner + 16)
            switch code {
            case 2:
                let proto = try u8(inner + 9)
                out.appendIPv4(target)
                out.appendASCII(" protocol ")
                out.appendDecimal(proto)
                out.appendASCII(" unreachable")
            case 3:
                let proto = try u8(inner + 9)
                let innerHeaderLength = Int(try u8(inner) & 0x0F) * 4
                let port = try u16(inner + innerHeaderLength + 2)
                out.appendIPv4(target)
                appendPortUnreachable(protocol: proto, port: port, unreachableForTCPAndUDP: true)
            case 4:
                let mtu = try u16(o + 6)
                out.appendIPv4(target)
                out.appendASCII(" unreachable - need to frag")
                if mtu != 0 {
                    out.appendASCII(" (mtu ")
                    out.appendDecimal(mtu)
                    out.appendASCII(")")
                }
            default:
                let (prefix, suffix) = Self.unreachableWording(code)
                out.appendASCII(prefix)
                out.appendIPv4(target)
                out.appendASCII(suffix)
                if code > 15 {
                    out.appendASCII(" - #")
                    out.appendDecimal(code)
                }
            }
        case 5:
            let target = try ipv4Address(inner + 16)
            let gateway = try ipv4Address(o + 4)
            switch code {
            case 0: out.appendASCII("redirect ")
            case 1: out.appendASCII("redirect ")
            case 2, 3: out.appendASCII("redirect-tos ")
            default:
                out.appendASCII("redirect-#")
                out.appendDecimal(code)
                out.appendByte(UInt8(ascii: " "))
            }
            out.appendIPv4(target)
            switch code {
            case 0, 2: out.appendASCII(" to net ")
            case 1, 3: out.appendASCII(" to host ")
            default: out.appendASCII(" to ")
            }
            out.appendIPv4(gateway)
        case 9:
            try appendRouterAdvertisement(at: o)
        case 11:
            _ = try ipv4Address(inner + 16)
            switch code {
            case 0: out.appendASCII("time exceeded in-transit")
            case 1: out.appendASCII("ip reassembly time exceeded")
            default:
                out.appendASCII("time exceeded-#")
                out.appendDecimal(code)
            }
        case 12:
            if code != 0 {
                out.appendASCII("parameter problem - code ")
                out.appendDecimal(code)
            } else {
                let pointer = try u8(o + 4)
                out.appendASCII("parameter problem - octet ")
                out.appendDecimal(pointer)
            }
        case 18:
            let mask = try u32(o + 8)
            out.appendASCII("address mask is 0x")
            out.appendHex(UInt64(mask), minimumDigits: 8)
        case 13:
            let id = try u16(o + 4), seq = try u16(o + 6)
            out.appendASCII("time stamp query id ")
            out.appendDecimal(id)
            out.appendASCII(" seq ")
            out.appendDecimal(seq)
        case 14:
            let transmit = try u32(o + 16)
            let id = try u16(o + 4), seq = try u16(o + 6)
            let originate = try u32(o + 8), receive = try u32(o + 12)
            out.appendASCII("time stamp reply id ")
            out.appendDecimal(id)
            out.appendASCII(" seq ")
            out.appendDecimal(seq)
            out.appendASCII(": org ")
            appendMillisecondsOfDay(originate)
            out.appendASCII(", recv ")
            appendMillisecondsOfDay(receive)
            out.appendASCII(", xmit ")
            appendMillisecondsOfDay(transmit)
        case 4: out.appendASCII("source quench")
        case 10: out.appendASCII("router solicitation")
        case 15: out.appendASCII("information request")
        case 16: out.appendASCII("information reply")
        case 17: out.appendASCII("address mask request")
        default:
            out.appendASCII("type-#")
            out.appendDecimal(type)
        }
    }

    /// tcpdump's `unreach2str` table, split around the address.
    private static func unreachableWording(_ code: UInt8) -> (StaticString, StaticString) {
        switch code {
        case 0: return ("net ", " unreachable")
        case 1: return ("host ", " unreachable")
        case 5: return ("", " unreachable - source route failed")
        case 6: return ("net ", " unreachable - unknown")
        case 7: return ("host ", " unreachable - unknown")
        case 8: return ("", " unreachable - source host isolated")
        case 9: return ("net ", " unreachable - admin prohibited")
        case 10: return ("host ", " unreachable - admin prohibited")
        case 11: return ("net ", " unreachable - tos prohibited")
        case 12: return ("host ", " unreachable - tos prohibited")
        case 13: return ("host ", " unreachable - admin prohibited filter")
        case 14: return ("host ", " unreachable - host precedence violation")
        case 15: return ("host ", " unreachable - precedence cutoff")
        default: return ("", " unreachable")
        }
    }

    /// RFC 1256 router advertisement: lifetime, then each address and preference.
    private mutating func appendRouterAdvertisement(at o: Int) throws(PrintTruncated) {
        let count = Int(try u8(o + 4))
        let size = try u8(o + 5)
        let lifetime = UInt32(try u16(o + 6))
        out.appendASCII("router advertisement lifetime ")
        if lifetime < 60 {
            out.appendDecimal(lifetime)
        } else if lifetime < 3600 {
            out.appendDecimal(lifetime / 60)
            out.appendByte(UInt8(ascii: ":"))
            out.appendDecimal(UInt64(lifetime % 60), minimumDigits: 2)
        } else {
            out.appendDecimal(lifetime / 3600)
            out.appendByte(UInt8(ascii: ":"))
            out.appendDecimal(UInt64(lifetime % 3600 / 60), minimumDigits: 2)
            out.appendByte(UInt8(ascii: ":"))
            out.appendDecimal(UInt64(lifetime % 60), minimumDigits: 2)
        }
        out.appendByte(UInt8(ascii: " "))
        out.appendDecimal(count)
        out.appendByte(UInt8(ascii: ":"))
        if size != 2 {
            out.appendASCII(" [size ")
            out.appendDecimal(size)
            out.appendByte(UInt8(ascii: "]"))
            return
        }
        var p = o + 8
        for _ in 0..<count {
            let address = try ipv4Address(p)
            let preference = try u32(p + 4)
            out.appendASCII(" {")
            out.appendIPv4(address)
            out.appendByte(UInt8(ascii: " "))
            out.appendDecimal(preference)
            out.appendByte(UInt8(ascii: "}"))
            p += 8
        }
    }

    /// `icmp_tstamp_print`: milliseconds since midnight UTC as `HH:MM:SS.mmm`.
    private mutating func appendMillisecondsOfDay(_ value: UInt32) {
        let milliseconds = value % 1000
        var seconds = value / 1000
        var minutes = seconds / 60
        seconds -= minutes * 60
        let hours = minutes / 60
        minutes -= hours * 60
        out.appendDecimal(UInt64(hours), minimumDigits: 2)
        out.appendByte(UInt8(ascii: ":"))
        out.appendDecimal(UInt64(minutes), minimumDigits: 2)
        out.appendByte(UInt8(ascii: ":"))
        out.appendDecimal(UInt64(seconds), minimumDigits: 2)
        out.appendByte(UInt8(ascii: "."))
        out.appendDecimal(UInt64(milliseconds), minimumDigits: 3)
    }

    // MARK: ICMPv6

    /// ICMPv6 (RFC 4443, RFC 4861). tcpdump prints as it reads, so a truncated
    /// message keeps what came before the marker.
    mutating func printICMPv6(at o: Int, length: Int) throws(PrintTruncated) {
        protocolName = "icmp6"
        if length == 0 {
            out.appendASCII("ICMP6, length 0")
            appendInvalid()
            return
        }
        do throws(PrintTruncated) {
            try printICMPv6Body(at: o, length: length)
        } catch {
            appendTruncationMarker()
        }
    }

    private mutating func printICMPv6Body(at o: Int, length: Int) throws(PrintTruncated) {
        let type = try u8(o)
        out.appendASCII("ICMP6, ")
        appendICMPv6TypeName(type)
        let inner = o + 8
        switch type {
        case 1:
            let code = try u8(o + 1)
            out.appendASCII(", ")
            switch code {
            case 0: out.appendASCII("unreachable route")
            case 1: out.appendASCII(" unreachable prohibited")
            case 2: out.appendASCII("beyond scope")
            case 3: out.appendASCII("unreachable address")
            case 4: out.appendASCII("unreachable port")
            default:
                out.appendASCII("unknown unreach code (")
                out.appendDecimal(code)
                out.appendASCII(")")
            }
            switch code {
            case 0, 1, 3:
                let target = try ipv6Address(inner + 24)
                out.appendByte(UInt8(ascii: " "))
                out.appendIPv6(target)
            case 2:
                let target = try ipv6Address(inner + 24)
                let source = try ipv6Address(inner + 8)
                out.appendByte(UInt8(ascii: " "))
                out.appendIPv6(target)
                out.appendASCII(", source address ")
                out.appendIPv6(source)
            case 4:
                guard let (proto, portOffset) = upperLayerPorts(at: inner) else { throw PrintTruncated() }
                let port = try u16(portOffset + 2)
                let target = try ipv6Address(inner + 24)
                out.appendASCII(", ")
                out.appendIPv6(target)
                appendPortUnreachable(protocol: proto, port: port, unreachableForTCPAndUDP: false)
            default:
                appendUnknownData(at: o, length: length)
                return
            }
        case 2:
            let mtu = try u32(o + 4)
            out.appendASCII(", mtu ")
            out.appendDecimal(mtu)
        case 3:
            let code = try u8(o + 1)
            switch code {
            case 0:
                let target = try ipv6Address(inner + 24)
                out.appendASCII(" for ")
                out.appendIPv6(target)
            case 1:
                out.appendASCII(" (reassembly)")
            default:
                out.appendASCII(", unknown code (")
                out.appendDecimal(code)
                out.appendASCII(")")
            }
        case 4:
            guard available(inner + 24, 16) else { throw PrintTruncated() }
            let code = try u8(o + 1)
            switch code {
            case 0: out.appendASCII(", erroneous - octet ")
            case 1: out.appendASCII(", next header - octet ")
            case 2: out.appendASCII(", option - octet ")
            case 3: out.appendASCII(", incomplete header chain - octet ")
            default:
                out.appendASCII(", code-#")
                out.appendDecimal(code)
            }
            if code <= 3 { out.appendDecimal(try u32(o + 4)) }
        case 128, 129:
            let id = try u16(o + 4)
            let seq = try u16(o + 6)
            out.appendASCII(", id ")
            out.appendDecimal(id)
            out.appendASCII(", seq ")
            out.appendDecimal(seq)
        case 130, 131, 132:
            if type == 130 && length >= 28 {
                // MLDv2 query (RFC 3810 §5.1): only the group is printed here.
                let group = try ipv6Address(o + 8)
                out.appendASCII(" v2 [gaddr ")
                out.appendIPv6(group)
                out.appendASCII("]")
            } else {
                let delay = try u16(o + 4)
                let group = try ipv6Address(o + 8)
                out.appendASCII("max resp delay: ")
                out.appendDecimal(delay)
                out.appendASCII(" addr: ")
                out.appendIPv6(group)
            }
        case 133, 134, 141, 142, 145, 147:
            break
        case 135:
            let target = try ipv6Address(o + 8)
            out.appendASCII(", who has ")
            out.appendIPv6(target)
        case 136:
            let target = try ipv6Address(o + 8)
            out.appendASCII(", tgt is ")
            out.appendIPv6(target)
        case 137:
            let destination = try ipv6Address(o + 24)
            out.appendASCII(", ")
            out.appendIPv6(destination)
            let target = try ipv6Address(o + 8)
            out.appendASCII(" to ")
            out.appendIPv6(target)
        case 143:
            let groups = try u16(o + 6)
            out.appendASCII(", ")
            out.appendDecimal(groups)
            out.appendASCII(" group record(s)")
        case 144, 146:
            let id = try u16(o + 4)
            out.appendASCII(", id 0x")
            out.appendHex(UInt64(id), minimumDigits: 4)
        case 138, 139, 140, 155:
            // Router renumbering, node information and RPL have their own tcpdump printers, not mirrored.
            break
        default:
            out.appendASCII(", length ")
            out.appendDecimal(UInt32(truncatingIfNeeded: length))
            appendUnknownData(at: o, length: length)
            return
        }
        out.appendASCII(", length ")
        out.appendDecimal(UInt32(truncatingIfNeeded: length))
    }

    /// `print_unknown_data`: a hex dump of what was captured of `length` bytes.
    /// The tail of a port-unreachable line after the target address, as `icmp_print`
    /// and `icmp6_print` write it: ` tcp port N`, ` udp port N` or ` protocol P port N`,
    /// then ` unreachable`, which `icmp6_print` leaves out for TCP and UDP.
    private mutating func appendPortUnreachable(protocol proto: UInt8, port: UInt16, unreachableForTCPAndUDP: Bool) {
        let tcpOrUDP = proto == IPProtocolNumber.tcp || proto == IPProtocolNumber.udp
        switch proto {
        case IPProtocolNumber.tcp: out.appendASCII(" tcp port ")
        case IPProtocolNumber.udp: out.appendASCII(" udp port ")
        default:
            out.appendASCII(" protocol ")
            out.appendDecimal(proto)
            out.appendASCII(" port ")
        }
        out.appendDecimal(port)
        if !tcpOrUDP || unreachableForTCPAndUDP { out.appendASCII(" unreachable") }
    }

    private mutating func appendUnknownData(at o: Int, length: Int) {
        out.appendHexDump(captured(o, length))
    }

    /// tcpdump's `get_upperlayer`: walk the returned packet's header chain to the
    /// TCP or UDP ports; nil where tcpdump gives up.
    private func upperLayerPorts(at ip6: Int) -> (UInt8, Int)? {
        guard available(ip6 + 6, 1) else { return nil }
        var next = bytes[ip6 + 6]
        var p = ip6
        var advance = IPv6Header.headerLength
        while p < snapEnd {
            p += advance
            switch next {
            case IPProtocolNumber.tcp, IPProtocolNumber.udp:
                return available(p + 2, 2) ? (next, p) : nil
            case IPProtocolNumber.hopByHop, IPProtocolNumber.destinationOptions, IPProtocolNumber.routing:
                guard available(p + 1, 1) else { return nil }
                next = bytes[p]
                advance = (Int(bytes[p + 1]) + 1) << 3
            case IPProtocolNumber.fragment:
                guard available(p + 2, 2) else { return nil }
                if (UInt16(bytes[p + 2]) << 8 | UInt16(bytes[p + 3])) & 0xFFF8 != 0 { return nil }
                next = bytes[p]
                advance = 8
            case IPProtocolNumber.ah:
                guard available(p + 1, 1) else { return nil }
                next = bytes[p]
                advance = (Int(bytes[p + 1]) + 2) << 2
            default:
                return nil
            }
        }
        return nil
    }

    private mutating func appendICMPv6TypeName(_ type: UInt8) {
        switch type {
        case 1: out.appendASCII("destination unreachable")
        case 2: out.appendASCII("packet too big")
        case 3: out.appendASCII("time exceeded in-transit")
        case 4: out.appendASCII("parameter problem")
        case 128: out.appendASCII("echo request")
        case 129: out.appendASCII("echo reply")
        case 130: out.appendASCII("multicast listener query")
        case 131: out.appendASCII("multicast listener report")
        case 132: out.appendASCII("multicast listener done")
        case 133: out.appendASCII("router solicitation")
        case 134: out.appendASCII("router advertisement")
        case 135: out.appendASCII("neighbor solicitation")
        case 136: out.appendASCII("neighbor advertisement")
        case 137: out.appendASCII("redirect")
        case 138: out.appendASCII("router renumbering")
        case 139: out.appendASCII("who-are-you request")
        case 140: out.appendASCII("who-are-you reply")
        case 141: out.appendASCII("inverse neighbor solicitation")
        case 142: out.appendASCII("inverse neighbor advertisement")
        case 143: out.appendASCII("multicast listener report v2")
        case 144: out.appendASCII("ha discovery request")
        case 145: out.appendASCII("ha discovery reply")
        case 146: out.appendASCII("mobile router solicitation")
        case 147: out.appendASCII("mobile router advertisement")
        case 155: out.appendASCII("RPL")
        case 200: out.appendASCII("mtrace response")
        case 201: out.appendASCII("mtrace message")
        default:
            out.appendASCII("unknown icmp6 type (")
            out.appendDecimal(type)
            out.appendASCII(")")
        }
    }

    // MARK: ARP

    /// ARP (RFC 826), reverse ARP (RFC 903) and inverse ARP (RFC 2390).
    mutating func printARP(at o: Int, length: Int) throws(PrintTruncated) {
        protocolName = "arp"
        var reader = ByteReader(captured(o, bytes.count - o))
        let arp: ARPPacket
        do throws(DecodeError) {
            arp = try ARPPacket(decoding: &reader)
        } catch {
            appendTruncationMarker()
            return
        }
        func address(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer { captured(o + offset, count) }
        out.appendASCII("ARP, ")
        let hl = arp.hardwareLength, pl = arp.protocolLength
        if (arp.protocolType != EtherType.ipv4 && arp.protocolType != 0x1000) || pl != 4 || hl == 0 {
            appendHardwareName(arp.hardwareType)
            out.appendASCII(" (len ")
            out.appendDecimal(hl)
            out.appendASCII("), ")
            if let name = Self.knownEtherTypeName(arp.protocolType) {
                out.appendASCII(name)
            } else {
                out.appendASCII("Unknown Protocol (0x")
                out.appendHex(UInt64(arp.protocolType), minimumDigits: 4)
                out.appendASCII(")")
            }
            out.appendASCII(" (len ")
            out.appendDecimal(pl)
            out.appendASCII("), length ")
            out.appendDecimal(length)
            return
        }
        // The decoder saw the bytes from `o` on, so its offsets are relative to `o`.
        let sha = arp.senderHardwareOffset, spa = arp.senderProtocolOffset
        let tha = arp.targetHardwareOffset, tpa = arp.targetProtocolOffset
        switch arp.operation {
        case 1:
            out.appendASCII("Request who-has ")
            out.appendIPv4(try ipv4Address(o + tpa))
            let target = address(tha, hl)
            if target.contains(where: { $0 != 0 }) {
                out.appendASCII(" (")
                appendLinkAddressString(target)
                out.appendASCII(")")
            }
            out.appendASCII(" tell ")
            out.appendIPv4(try ipv4Address(o + spa))
        case 2:
            out.appendASCII("Reply ")
            out.appendIPv4(try ipv4Address(o + spa))
            out.appendASCII(" is-at ")
            appendLinkAddressString(address(sha, hl))
        case 3:
            out.appendASCII("Reverse Request who-is ")
            appendLinkAddressString(address(tha, hl))
            out.appendASCII(" tell ")
            appendLinkAddressString(address(sha, hl))
        case 4:
            out.appendASCII("Reverse Reply ")
            appendLinkAddressString(address(tha, hl))
            out.appendASCII(" at ")
            out.appendIPv4(try ipv4Address(o + tpa))
        case 8:
            out.appendASCII("Inverse Request who-is ")
            appendLinkAddressString(address(tha, hl))
            out.appendASCII(" tell ")
            appendLinkAddressString(address(sha, hl))
        case 9:
            out.appendASCII("Inverse Reply ")
            appendLinkAddressString(address(sha, hl))
            out.appendASCII(" at ")
            out.appendIPv4(try ipv4Address(o + spa))
        default:
            if arp.operation == 10 {
                out.appendASCII("NACK Reply ")
            } else {
                out.appendASCII("Unknown (")
                out.appendDecimal(arp.operation)
                out.appendASCII(") ")
            }
            out.appendHexAndASCIIDump(captured(o, bytes.count - o))
            return
        }
        out.appendASCII(", length ")
        out.appendDecimal(length)
    }

    private mutating func appendLinkAddressString(_ address: UnsafeRawBufferPointer) {
        if address.isEmpty {
            out.appendASCII("<empty>")
        } else {
            out.appendLinkAddress(address)
        }
    }

    private mutating func appendHardwareName(_ type: UInt16) {
        switch type {
        case 1: out.appendASCII("Ethernet")
        case 6: out.appendASCII("TokenRing")
        case 7: out.appendASCII("ArcNet")
        case 15: out.appendASCII("FrameRelay")
        case 19: out.appendASCII("ATM")
        case 23: out.appendASCII("Strip")
        case 24: out.appendASCII("IEEE 1394")
        case 32: out.appendASCII("InfiniBand")
        default:
            out.appendASCII("Unknown Hardware (")
            out.appendDecimal(type)
            out.appendASCII(")")
        }
    }
}
