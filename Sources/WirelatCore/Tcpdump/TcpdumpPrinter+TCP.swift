/// One direction-independent TCP connection for tcpdump's relative sequence
/// numbers: addresses and ports ordered the way `tcp_print` orders them.
struct TCPConnectionKey4: Hashable {
    var source: UInt32
    var destination: UInt32
    var ports: UInt32
}

struct TCPConnectionKey6: Hashable {
    var source: IPv6Address
    var destination: IPv6Address
    var ports: UInt32
}

/// The first sequence and acknowledgment numbers seen on a connection.
struct TCPSequenceBase {
    var sequence: UInt32
    var acknowledgment: UInt32
}

/// The printed text of one IPv4 endpoint pair, `a.b.c.d.p > e.f.g.h.q: `
/// (47 bytes at most), kept inline so that printing it again is one copy.
struct EndpointPairText {
    struct Key: Equatable {
        var source: UInt32
        var destination: UInt32
        /// Source port in the high half, destination port in the low half.
        var ports: UInt32
    }

    static let capacity = 48
    var key = Key(source: 0, destination: 0, ports: 0)
    /// 0 while nothing is kept.
    var length = 0
    var text: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)

    init() {}

    /// The bytes `buffer` holds from `start` to its end.
    init(key: Key, copying buffer: OutputBuffer, from start: Int) {
        self.key = key
        length = min(buffer.count - start, Self.capacity)
        let n = length
        withUnsafeMutableBytes(of: &text) { $0.baseAddress!.copyMemory(from: buffer.base + start, byteCount: n) }
    }
}

extension OutputBuffer {
    @inline(__always)
    mutating func appendText(of pair: EndpointPairText) {
        let p = reserveTail(EndpointPairText.capacity)
        Swift.withUnsafeBytes(of: pair.text) { UnsafeMutableRawPointer(p).copyMemory(from: $0.baseAddress!, byteCount: EndpointPairText.capacity) }
        count &+= pair.length
    }
}

/// `tcp_print` and `udp_print` without `-v`.
extension TcpdumpPrinter {
    mutating func printTCP(at o: Int, length: Int, context: IPContext) throws(PrintTruncated) {
        protocolName = "tcp"
        var segmentLength = UInt32(truncatingIfNeeded: length)
        guard available(o + 2, 2) else {
            appendAddresses(context)
            out.appendASCII(":")
            appendTruncationMarker()
            return
        }
        var reader = ByteReader(captured(o, 4))
        let ports = (try? TransportPorts(decoding: &reader)) ?? TransportPorts(source: 0, destination: 0)
        if context.firstNextHeader == IPProtocolNumber.tcp {
            appendEndpointPair(context, ports: ports)
        } else {
            out.appendDecimal(ports.source)
            out.appendASCII(" > ")
            out.appendDecimal(ports.destination)
            out.appendASCII(": ")
        }
        reader = ByteReader(captured(o, TCPHeader.minimumHeaderLength))
        let header: TCPHeader
        do throws(DecodeError) {
            header = try TCPHeader(decoding: &reader)
        } catch {
            appendTruncationMarker()
            return
        }
        var headerLength = UInt32(header.headerLength)
        if headerLength < 20 {
            out.appendASCII(" tcp ")
            out.appendDecimal(segmentLength &- headerLength)
            out.appendASCII(" [bad hdr length ")
            out.appendDecimal(headerLength)
            out.appendASCII(" - too short, < 20]")
            return
        }
        var sequence = header.sequenceNumber
        var acknowledgment = header.acknowledgmentNumber
        let flags = header.flags
        out.appendASCII("Flags [")
        appendFlags(flags)
        out.appendASCII("]")

        var reversed = false
        var baseSequence: UInt32 = 0
        var baseAcknowledgment: UInt32 = 0
        if flags.contains(.ack) {
            let base = updateSequenceTable(context: context, ports: ports, flags: flags,
                                           sequence: &sequence, acknowledgment: &acknowledgment, reversed: &reversed)
            baseSequence = base.sequence
            baseAcknowledgment = base.acknowledgment
        }
        if headerLength > segmentLength {
            out.appendASCII(" [bad hdr length ")
            out.appendDecimal(headerLength)
            out.appendASCII(" - too long, > ")
            out.appendDecimal(segmentLength)
            out.appendASCII("]")
            return
        }
        segmentLength -= headerLength
        if segmentLength > 0 || flags.contains(.syn) || flags.contains(.fin) || flags.contains(.rst) {
            out.appendASCII(", seq ")
            out.appendDecimal(sequence)
            if segmentLength > 0 {
                out.appendByte(UInt8(ascii: ":"))
                out.appendDecimal(sequence &+ segmentLength)
            }
        }
        if flags.contains(.ack) {
            out.appendASCII(", ack ")
            out.appendDecimal(acknowledgment)
        }
        out.appendASCII(", win ")
        out.appendDecimal(header.window)
        if flags.contains(.urg) {
            out.appendASCII(", urg ")
            out.appendDecimal(header.urgentPointer)
        }
        if headerLength > 20 {
            headerLength -= 20
            let finished = try printTCPOptions(at: o + 20, remaining: Int(headerLength), segmentStart: o,
                                               dataOffset: header.headerLength, payloadLength: Int(segmentLength),
                                               flags: flags, reversed: reversed, baseSequence: baseSequence,
                                               baseAcknowledgment: baseAcknowledgment)
            if !finished { return }
        }
        out.appendASCII(", length ")
        out.appendDecimal(segmentLength)
        if segmentLength == 0 { return }
        try requireHeader(at: o, length: header.headerLength)
    }

    /// `src.sport > dst.dport: `. The IPv4 text of the last two pairs (both
    /// directions of one connection) is kept and copied in one move.
    mutating func appendEndpointPair(_ context: IPContext, ports: TransportPorts) {
        if context.isIPv6 {
            appendEndpoint(context, source: true, port: ports.source)
            out.appendASCII(" > ")
            appendEndpoint(context, source: false, port: ports.destination)
            out.appendASCII(": ")
            return
        }
        let key = EndpointPairText.Key(source: context.source4.rawValue, destination: context.destination4.rawValue,
                                       ports: UInt32(ports.source) << 16 | UInt32(ports.destination))
        if recentEndpointPairs.0.length != 0, recentEndpointPairs.0.key == key {
            out.appendText(of: recentEndpointPairs.0)
            return
        }
        if recentEndpointPairs.1.length != 0, recentEndpointPairs.1.key == key {
            out.appendText(of: recentEndpointPairs.1)
            return
        }
        let start = out.count
        appendEndpoint(context, source: true, port: ports.source)
        out.appendASCII(" > ")
        appendEndpoint(context, source: false, port: ports.destination)
        out.appendASCII(": ")
        recentEndpointPairs.1 = recentEndpointPairs.0
        recentEndpointPairs.0 = EndpointPairText(key: key, copying: out, from: start)
    }

    private mutating func appendEndpoint(_ context: IPContext, source: Bool, port: UInt16) {
        if context.isIPv6 {
            out.appendIPv6(source ? context.source6 : context.destination6)
        } else {
            out.appendIPv4(source ? context.source4 : context.destination4)
        }
        out.appendByte(UInt8(ascii: "."))
        out.appendDecimal(port)
    }

    /// tcpdump's flag letters, in its table order: F S R P . U E W, or `none`.
    private mutating func appendFlags(_ flags: TCPFlags) {
        if flags.isEmpty {
            out.appendASCII("none")
            return
        }
        if flags.contains(.fin) { out.appendByte(UInt8(ascii: "F")) }
        if flags.contains(.syn) { out.appendByte(UInt8(ascii: "S")) }
        if flags.contains(.rst) { out.appendByte(UInt8(ascii: "R")) }
        if flags.contains(.psh) { out.appendByte(UInt8(ascii: "P")) }
        if flags.contains(.ack) { out.appendByte(UInt8(ascii: ".")) }
        if flags.contains(.urg) { out.appendByte(UInt8(ascii: "U")) }
        if flags.contains(.ece) { out.appendByte(UInt8(ascii: "E")) }
        if flags.contains(.cwr) { out.appendByte(UInt8(ascii: "W")) }
    }

    /// tcpdump's `tcp_seq_hash` logic: the first ACK-carrying segment of a
    /// connection (or any SYN) records the bases and prints absolute numbers;
    /// later segments print numbers relative to the bases of their direction.
    private mutating func updateSequenceTable(context: IPContext, ports: TransportPorts, flags: TCPFlags,
                                              sequence: inout UInt32, acknowledgment: inout UInt32,
                                              reversed: inout Bool) -> TCPSequenceBase {
        let sport = UInt32(ports.source), dport = UInt32(ports.destination)
        if context.isIPv6 {
            let (src, dst) = (context.source6, context.destination6)
            reversed = sport > dport || (sport == dport && src > dst)
            let key = reversed
                ? TCPConnectionKey6(source: dst, destination: src, ports: dport << 16 | sport)
                : TCPConnectionKey6(source: src, destination: dst, ports: sport << 16 | dport)
            return Self.resolve(&tcpBases6, cache: &lastTCPBase6, limit: options.maximumTrackedConnections, key: key,
                                flags: flags, reversed: reversed, sequence: &sequence, acknowledgment: &acknowledgment)
        } else {
            let (src, dst) = (context.source4.rawValue, context.destination4.rawValue)
            reversed = sport > dport || (sport == dport && src > dst)
            let key = reversed
                ? TCPConnectionKey4(source: dst, destination: src, ports: dport << 16 | sport)
                : TCPConnectionKey4(source: src, destination: dst, ports: sport << 16 | dport)
            return Self.resolve(&tcpBases4, cache: &lastTCPBase4, limit: options.maximumTrackedConnections, key: key,
                                flags: flags, reversed: reversed, sequence: &sequence, acknowledgment: &acknowledgment)
        }
    }

    /// Looks `key` up in `table`, or records new bases there. `cache` holds the
    /// entry used last and always agrees with the table: segments of one
    /// connection usually follow each other, and then no hashing is needed.
    /// `limit` is `options.maximumTrackedConnections`.
    private static func resolve<Key: Hashable>(_ table: inout [Key: TCPSequenceBase],
                                               cache: inout (key: Key, base: TCPSequenceBase)?, limit: Int, key: Key,
                                               flags: TCPFlags, reversed: Bool, sequence: inout UInt32,
                                               acknowledgment: inout UInt32) -> TCPSequenceBase {
        if !flags.contains(.syn) {
            let known: TCPSequenceBase?
            if let cached = cache, cached.key == key {
                known = cached.base
            } else {
                known = table[key]
                if let known { cache = (key, known) }
            }
            if let base = known {
                if reversed {
                    sequence &-= base.acknowledgment
                    acknowledgment &-= base.sequence
                } else {
                    sequence &-= base.sequence
                    acknowledgment &-= base.acknowledgment
                }
                return base
            }
        }
        let base = reversed
            ? TCPSequenceBase(sequence: acknowledgment &- 1, acknowledgment: sequence)
            : TCPSequenceBase(sequence: sequence, acknowledgment: acknowledgment &- 1)
        if table.count >= limit, table[key] == nil { table.removeAll(keepingCapacity: true) }
        table[key] = base
        cache = (key, base)
        return base
    }

    /// The options list, walked as tcpdump walks it. Returns false when it ended
    /// the line early (`[bad opt]` or a truncation marker).
    private mutating func printTCPOptions(at start: Int, remaining declared: Int, segmentStart: Int, dataOffset: Int,
                                          payloadLength: Int, flags: TCPFlags, reversed: Bool, baseSequence: UInt32,
                                          baseAcknowledgment: UInt32) throws(PrintTruncated) -> Bool {
        // NOP, NOP, timestamps (RFC 7323 §3, Appendix A layout): the options of
        // nearly every segment after the handshake. The walk below prints them the same way.
        if declared == 12, available(start, 12), try u32(start) == 0x0101_080A {
            out.appendASCII(", options [nop,nop,TS val ")
            out.appendDecimal(try u32(start + 4))
            out.appendASCII(" ecr ")
            out.appendDecimal(try u32(start + 8))
            out.appendByte(UInt8(ascii: "]"))
            return true
        }
        out.appendASCII(", options [")
        var cp = start
        var left = declared
        var separator = false
        while left > 0 {
            if separator { out.appendByte(UInt8(ascii: ",")) }
            let kind = try u8(cp)
            cp += 1
            let length: Int
            let zeroLength = kind == 0 || kind == 1
            if zeroLength {
                length = 1
            } else {
                length = Int(try u8(cp))
                cp += 1
                if length < 2 || length > left { return badOption(separator) }
                left -= 1
            }
            left -= 1
            var dataLength = 0

            // LENCHECK: the option data must fit the header, then must have been captured.
            enum Check { case ok, bad, truncated }
            func check(_ n: Int) -> Check {
                if n > left { return .bad }
                return available(cp, n) ? .ok : .truncated
            }

            let name = Self.tcpOptionName(kind)
            if name.utf8CodeUnitCount > 0 {
                out.appendASCII(name)
            } else if kind != 13 {
                out.appendASCII("unknown-")
                out.appendDecimal(kind)
            }
            var result = Check.ok
            switch kind {
            case 2:
                dataLength = 2
                result = check(2)
                if result == .ok {
                    out.appendByte(UInt8(ascii: " "))
                    out.appendDecimal(try u16(cp))
                }
            case 3:
                dataLength = 1
                result = check(1)
                if result == .ok {
                    out.appendByte(UInt8(ascii: " "))
                    out.appendDecimal(try u8(cp))
                }
            case 5:
                dataLength = length - 2
                if dataLength % 8 != 0 {
                    out.appendASCII(" invalid sack")
                } else {
                    out.appendByte(UInt8(ascii: " "))
                    out.appendDecimal(dataLength / 8)
                    out.appendByte(UInt8(ascii: " "))
                    var i = 0
                    while i < dataLength {
                        result = check(i + 4)
                        if result != .ok { break }
                        var edgeStart = try u32(cp + i)
                        result = check(i + 8)
                        if result != .ok { break }
                        var edgeEnd = try u32(cp + i + 4)
                        let base = reversed ? baseSequence : baseAcknowledgment
                        edgeStart &-= base
                        edgeEnd &-= base
                        out.appendByte(UInt8(ascii: "{"))
                        out.appendDecimal(edgeStart)
                        out.appendByte(UInt8(ascii: ":"))
                        out.appendDecimal(edgeEnd)
                        out.appendByte(UInt8(ascii: "}"))
                        i += 8
                    }
                }
            case 6, 7, 11, 12, 13:
                dataLength = 4
                result = check(4)
                if result == .ok {
                    out.appendByte(UInt8(ascii: " "))
                    out.appendDecimal(try u32(cp))
                }
            case 8:
                dataLength = 8
                result = check(8)
                if result == .ok {
                    out.appendASCII(" val ")
                    out.appendDecimal(try u32(cp))
                    out.appendASCII(" ecr ")
                    out.appendDecimal(try u32(cp + 4))
                }
            case 19:
                dataLength = 16
                result = check(16)
                if result == .ok {
                    out.appendByte(UInt8(ascii: " "))
                    // tcpdump built with OpenSSL tries to verify the signature and cannot without -M.
                    if segmentStart + dataOffset + payloadLength > snapEnd {
                        out.appendASCII("snaplen too short, ")
                    } else {
                        out.appendASCII("shared secret not supplied with -M, ")
                    }
                    out.appendASCII("can't check - ")
                    for i in 0..<16 { out.appendHexByte(try u8(cp + i)) }
                }
            case 20:
                dataLength = 2
                result = check(2)
                if result == .ok {
                    out.appendASCII(" cap ")
                    out.appendHexByte(try u8(cp))
                    out.appendASCII(" id ")
                    out.appendDecimal(try u8(cp + 1))
                }
            case 29:
                dataLength = length - 2
                if dataLength < 2 {
                    appendInvalid()
                } else {
                    result = check(1)
                    if result == .ok {
                        out.appendASCII(" keyid ")
                        out.appendDecimal(try u8(cp))
                        result = check(2)
                    }
                    if result == .ok {
                        out.appendASCII(" rnextkeyid ")
                        out.appendDecimal(try u8(cp + 1))
                        if dataLength > 2 {
                            out.appendASCII(" mac 0x")
                            for i in 2..<dataLength {
                                result = check(i + 1)
                                if result != .ok { break }
                                out.appendHexByte(try u8(cp + i))
                            }
                        }
                    }
                }
            case 0, 1, 4:
                break
            case 28:
                dataLength = 2
                result = check(2)
                if result == .ok {
                    var timeout = UInt32(try u16(cp))
                    out.appendASCII(" 0x")
                    out.appendHex(UInt64(timeout))
                    timeout = timeout & 1 != 0 ? (timeout >> 1) * 60 : timeout >> 1
                    out.appendByte(UInt8(ascii: " "))
                    out.appendDecimal(timeout)
                }
            case 30:
                dataLength = length - 2
                result = check(dataLength)
                if result == .ok {
                    let savedSnapEnd = snapEnd
                    snapEnd = min(snapEnd, cp - 2 + length)
                    defer { snapEnd = savedSnapEnd }
                    if try !printMPTCP(at: cp - 2, length: length, flags: flags) { return badOption(separator) }
                }
            case 34:
                dataLength = length - 2
                result = check(dataLength)
                if result == .ok {
                    out.appendByte(UInt8(ascii: " "))
                    try appendFastOpen(at: cp, length: dataLength, experimental: false)
                }
            case 254:
                dataLength = length - 2
                result = check(dataLength)
                if result == .ok {
                    if dataLength < 2 { return badOption(separator) }
                    let magic = try u16(cp)
                    out.appendByte(UInt8(ascii: "-"))
                    if magic == 0xF989 {
                        try appendFastOpen(at: cp + 2, length: dataLength - 2, experimental: true)
                    } else {
                        out.appendHex(UInt64(magic), minimumDigits: 4)
                    }
                }
            default:
                dataLength = length - 2
                if dataLength > 0 { out.appendASCII(" 0x") }
                for i in 0..<dataLength {
                    result = check(i + 1)
                    if result != .ok { break }
                    out.appendHexByte(try u8(cp + i))
                }
            }
            switch result {
            case .ok: break
            case .bad: return badOption(separator)
            case .truncated:
                appendTruncationMarker()
                if separator { out.appendByte(UInt8(ascii: ">")) }
                return false
            }
            cp += dataLength
            left -= dataLength
            dataLength += zeroLength ? 1 : 2
            if dataLength != length {
                out.appendASCII("[len ")
                out.appendDecimal(length)
                out.appendASCII("]")
            }
            separator = true
            if kind == 0 { break }
        }
        out.appendASCII("]")
        return true
    }

    private mutating func badOption(_ separator: Bool) -> Bool {
        out.appendASCII("[bad opt]")
        if separator { out.appendASCII("]") }
        return false
    }

    /// `mptcp_print` (RFC 8684 §3): the length, the subtype name and its fields.
    /// Returns false where tcpdump reports `[bad opt]`.
    private mutating func printMPTCP(at o: Int, length: Int, flags: TCPFlags) throws(PrintTruncated) -> Bool {
        protocolName = "mptcp"
        if length < 3 { return false }
        let subtype = min(Int(try u8(o + 2) >> 4), 8)
        out.appendByte(UInt8(ascii: " "))
        out.appendDecimal(length)
        let names: [StaticString] = ["capable", "join", "dss", "add-addr", "rem-addr", "prio", "fail", "fast-close", "unknown"]
        out.appendByte(UInt8(ascii: " "))
        out.appendASCII(names[subtype])
        let syn = flags.contains(.syn), ack = flags.contains(.ack)
        switch subtype {
        case 0:
            // MP_CAPABLE (RFC 8684 §3.1).
            guard ((length == 12 || length == 4) && syn) || ((length == 20 || length == 22) && ack && !syn) else { return false }
            let version = try u8(o + 2) & 0x0F
            guard version <= 1 else {
                out.appendASCII(" Unknown Version (")
                out.appendDecimal(version)
                out.appendASCII(")")
                return true
            }
            out.appendASCII(" v")
            out.appendDecimal(version)
            if try u8(o + 3) & 0x80 != 0 { out.appendASCII(" csum") }
            if length == 12 || length >= 20 {
                out.appendASCII(" {0x")
                out.appendHex(try u64(o + 4))
                if length >= 20 {
                    out.appendASCII(",0x")
                    out.appendHex(try u64(o + 12))
                }
                out.appendASCII("}")
            }
        case 1:
            // MP_JOIN (RFC 8684 §3.2).
            guard (length == 12 && syn) || (length == 16 && syn && ack) || (length == 24 && ack) else { return false }
            if length != 24 {
                if try u8(o + 2) & 0x01 != 0 { out.appendASCII(" backup") }
                out.appendASCII(" id ")
                out.appendDecimal(try u8(o + 3))
            }
            switch length {
            case 12:
                out.appendASCII(" token 0x")
                out.appendHex(UInt64(try u32(o + 4)))
                out.appendASCII(" nonce 0x")
                out.appendHex(UInt64(try u32(o + 8)))
            case 16:
                out.appendASCII(" hmac 0x")
                out.appendHex(try u64(o + 4))
                out.appendASCII(" nonce 0x")
                out.appendHex(UInt64(try u32(o + 12)))
            default:
                out.appendASCII(" hmac 0x")
                for i in 0..<20 { out.appendHexByte(try u8(o + 4 + i)) }
            }
        case 2:
            // DSS (RFC 8684 §3.3).
            if length < 4 || syn { return false }
            let dssFlags = try u8(o + 3)
            if dssFlags & 0x10 != 0 { out.appendASCII(" fin") }
            var p = o + 4
            var left = length - 4
            /// The data ACK or the data sequence number: 8 bytes when `wide`, else 4.
            func appendNumber(_ label: StaticString, wide: Bool) throws(PrintTruncated) -> Bool {
                out.appendASCII(label)
                let size = wide ? 8 : 4
                if left < size { return false }
                out.appendDecimal(wide ? try u64(p) : UInt64(try u32(p)))
                p += size
                left -= size
                return true
            }
            if dssFlags & 0x01 != 0 {
                guard try appendNumber(" ack ", wide: dssFlags & 0x02 != 0) else { return false }
            }
            if dssFlags & 0x04 != 0 {
                guard try appendNumber(" seq ", wide: dssFlags & 0x08 != 0) else { return false }
                if left < 4 { return false }
                out.appendASCII(" subseq ")
                out.appendDecimal(try u32(p))
                p += 4
                left -= 4
                if left < 2 { return false }
                out.appendASCII(" len ")
                out.appendDecimal(try u16(p))
                p += 2
                left -= 2
                if left >= 2 {
                    out.appendASCII(" csum 0x")
                    out.appendHex(UInt64(try u16(p)))
                    left -= 2
                }
            }
            return left == 0
        case 3:
            // ADD_ADDR (RFC 8684 §3.4.1).
            guard [8, 10, 16, 18, 20, 22, 28, 30].contains(length) else { return false }
            switch try u8(o + 2) & 0x0F {
            case 6: out.appendASCII(" v0-ip6")
            case 4: out.appendASCII(" v0-ip4")
            case 1: out.appendASCII(" v1-echo")
            case 0: out.appendASCII(" v1")
            default: out.appendASCII(" [bad version/echo]")
            }
            out.appendASCII(" id ")
            out.appendDecimal(try u8(o + 3))
            if length <= 18 {
                let address = try ipv4Address(o + 4)
                out.appendByte(UInt8(ascii: " "))
                out.appendIPv4(address)
                if length == 10 || length == 18 {
                    out.appendByte(UInt8(ascii: ":"))
                    out.appendDecimal(try u16(o + 8))
                }
                if length == 16 || length == 18 {
                    out.appendASCII(" hmac 0x")
                    out.appendHex(try u64(o + (length == 16 ? 8 : 10)))
                }
            } else {
                let address = try ipv6Address(o + 4)
                out.appendByte(UInt8(ascii: " "))
                out.appendIPv6(address)
                if length == 22 || length == 30 {
                    out.appendByte(UInt8(ascii: ":"))
                    out.appendDecimal(try u16(o + 20))
                }
                if length == 28 || length == 30 {
                    out.appendASCII(" hmac 0x")
                    out.appendHex(try u64(o + (length == 28 ? 20 : 22)))
                }
            }
        case 4:
            // REMOVE_ADDR (RFC 8684 §3.4.2).
            if length < 4 { return false }
            out.appendASCII(" id")
            for i in 0..<(length - 3) {
                out.appendByte(UInt8(ascii: " "))
                out.appendDecimal(try u8(o + 3 + i))
            }
        case 5:
            // MP_PRIO (RFC 8684 §3.3.8).
            guard length == 3 || length == 4 else { return false }
            out.appendASCII(try u8(o + 2) & 0x01 != 0 ? " backup" : " non-backup")
            if length == 4 {
                out.appendASCII(" id ")
                out.appendDecimal(try u8(o + 3))
            }
        case 6:
            // MP_FAIL (RFC 8684 §3.7).
            guard length == 12 else { return false }
            out.appendASCII(" seq ")
            out.appendDecimal(try u64(o + 4))
        case 7:
            // MP_FASTCLOSE (RFC 8684 §3.5).
            guard length == 12 else { return false }
            out.appendASCII(" key 0x")
            out.appendHex(try u64(o + 4))
        default:
            break
        }
        return true
    }

    /// `print_tcp_fastopen_option` (RFC 7413 §4.1.1).
    private mutating func appendFastOpen(at cp: Int, length: Int, experimental: Bool) throws(PrintTruncated) {
        if experimental { out.appendASCII("tfo") }
        if length == 0 {
            out.appendASCII(" cookiereq")
        } else if length % 2 != 0 || length < 4 || length > 16 {
            appendInvalid()
        } else {
            out.appendASCII(" cookie ")
            for i in 0..<length { out.appendHexByte(try u8(cp + i)) }
        }
    }

    /// tcpdump's `tcp_option_values`.
    static func tcpOptionName(_ kind: UInt8) -> StaticString {
        switch kind {
        case 0: return "eol"
        case 1: return "nop"
        case 2: return "mss"
        case 3: return "wscale"
        case 4: return "sackOK"
        case 5: return "sack"
        case 6: return "echo"
        case 7: return "echoreply"
        case 8: return "TS"
        case 11: return "cc"
        case 12: return "ccnew"
        case 13: return ""
        case 19: return "md5"
        case 20: return "scps"
        case 28: return "uto"
        case 29: return "tcp-ao"
        case 30: return "mptcp"
        case 34: return "tfo"
        case 254: return "exp"
        default: return ""
        }
    }

    // MARK: UDP

    mutating func printUDP(at o: Int, length: Int, context: IPContext, fragmented: Bool) throws(PrintTruncated) {
        protocolName = "udp"
        guard available(o + 2, 2) else {
            appendUDPAddresses(context, ports: nil)
            appendTruncationMarker()
            return
        }
        var reader = ByteReader(captured(o, 4))
        let ports = (try? TransportPorts(decoding: &reader)) ?? TransportPorts(source: 0, destination: 0)
        var datagramLength = UInt32(truncatingIfNeeded: length)
        if datagramLength < 8 {
            appendUDPAddresses(context, ports: ports)
            out.appendASCII("truncated-udp ")
            out.appendDecimal(datagramLength)
            return
        }
        guard available(o + 4, 2) else {
            appendUDPAddresses(context, ports: ports)
            appendTruncationMarker()
            return
        }
        var udpLength = UInt32(try u16(o + 4))
        if udpLength == 0 && datagramLength > 65535 { udpLength = datagramLength }
        if udpLength < 8 {
            appendUDPAddresses(context, ports: ports)
            out.appendASCII("truncated-udplength ")
            out.appendDecimal(udpLength)
            return
        }
        udpLength -= 8
        datagramLength -= 8
        if udpLength < datagramLength { datagramLength = udpLength }
        if o + 8 > snapEnd {
            appendUDPAddresses(context, ports: ports)
            appendTruncationMarker()
            return
        }
        appendUDPAddresses(context, ports: ports)
        if udpLength > datagramLength && !fragmented {
            out.appendASCII("UDP, bad length ")
            out.appendDecimal(udpLength)
            out.appendASCII(" > ")
            out.appendDecimal(datagramLength)
        } else {
            out.appendASCII("UDP, length ")
            out.appendDecimal(udpLength)
        }
    }

    /// `udpipaddr_print`.
    private mutating func appendUDPAddresses(_ context: IPContext, ports: TransportPorts?) {
        if context.firstNextHeader == IPProtocolNumber.udp {
            if let ports {
                appendEndpointPair(context, ports: ports)
            } else {
                appendAddresses(context)
                out.appendASCII(": ")
            }
        } else if let ports {
            out.appendDecimal(ports.source)
            out.appendASCII(" > ")
            out.appendDecimal(ports.destination)
            out.appendASCII(": ")
        }
    }
}
