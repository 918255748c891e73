/// The Oracle listener's TNS: a CONNECT packet carrying `(CONNECT_DATA=(COMMAND=ping))`,
/// as `tnsping` sends it, answered by a REFUSE whose text holds the listener's version
/// (`VSNNUM`) and an error number (`ERR=0`: the listener is up); one connection each.
/// The layout follows Wireshark's TNS dissector (epan/dissectors/packet-tns.c); no
/// Oracle listener was available to check it against, only tshark's dissector and a
/// responder written from the same layout (docs/APP-PROBES.md).
public struct TNSDialogue: AppDialogue {
    public var method: ProbeMethod { .tns }
    public var mode: AppSessionMode { .perConnection }
    public var protocolName: String { "an Oracle TNS listener" }
    public var summary: String { "TNS CONNECT (CONNECT_DATA=(COMMAND=ping)) → REFUSE/RESEND/ACCEPT, one connection each, TX of the CONNECT → RX of the answer" }

    public let connectData: String

    public init(connectData: String = TNS.pingConnectData) {
        self.connectData = connectData
    }

    public func request(index: Int) -> [UInt8] { TNS.connectPacket(connectData: connectData) }
    public func parser(index: Int) -> TNSPacketParser { TNSPacketParser() }
}

/// TNS packet layout (Wireshark packet-tns.c).
public enum TNS {
    /// What tnsping asks the listener: nothing but a ping, answered with its version.
    public static let pingConnectData = "(CONNECT_DATA=(COMMAND=ping))"

    /// Packet types (the byte at offset 4).
    public enum PacketType: UInt8, Sendable {
        case connect = 1, accept = 2, ack = 3, refuse = 4, redirect = 5, data = 6, null = 7
        case abort = 9, resend = 11, marker = 12, attention = 13, control = 14, dataDescriptor = 15

        public var name: String {
            switch self {
            case .connect: return "CONNECT"
            case .accept: return "ACCEPT"
            case .ack: return "ACK"
            case .refuse: return "REFUSE"
            case .redirect: return "REDIRECT"
            case .data: return "DATA"
            case .null: return "NULL"
            case .abort: return "ABORT"
            case .resend: return "RESEND"
            case .marker: return "MARKER"
            case .attention: return "ATTENTION"
            case .control: return "CONTROL"
            case .dataDescriptor: return "DATA DESCRIPTOR"
            }
        }
    }

    /// The largest type number the dissector knows (TNS_TYPE_MAX).
    public static let highestType: UInt8 = 19
    public static let headerBytes = 8
    /// Version 314 (0x013a), as clients of Oracle 9i to 19c send it; compatible down to 300 (0x012c).
    public static let version: UInt16 = 0x013a
    public static let compatibleVersion: UInt16 = 0x012c
    /// Service options: header checksum (0x0800), full duplex (0x0400), 0x0040, can
    /// receive attention... the 0x0c41 clients send.
    public static let serviceOptions: UInt16 = 0x0c41
    /// Session data unit, maximum transmission data unit.
    public static let sduBytes: UInt16 = 8192
    public static let tduBytes: UInt16 = 32767
    /// NT protocol characteristics: 0x7f08 (hang-on, CREL, TDU I/O, ... signal I/O, urgent I/O...).
    public static let ntCharacteristics: UInt16 = 0x7f08
    /// Where the connect data starts: after the 8-byte header, 26 bytes of connect fields,
    /// the two 4-byte trace facility items, the 8-byte trace connection id and 8 reserved bytes.
    public static let connectDataOffset: UInt16 = 58
    public static let maximumReceivableConnectData: UInt32 = 2048

    /// A CONNECT packet, every multi-byte field big-endian:
    ///
    ///     0  length (2)  packet checksum 0 (2)  type 1 (1)  flags 0 (1)  header checksum 0 (2)
    ///     8  version 0x013a (2)  compatible 0x012c (2)  service options 0x0c41 (2)
    ///    14  SDU 8192 (2)  TDU 32767 (2)  NT characteristics 0x7f08 (2)
    ///    20  line turnaround 0 (2)  value of one 0x0001 (2)
    ///    24  connect data length (2)  connect data offset 58 (2)  max receivable 2048 (4)
    ///    32  connect flags 0, 1 (1 + 1)  trace cross facility items 1, 2 (4 + 4)
    ///    42  trace unique connection id (8)  reserved (8)
    ///    58  connect data (ASCII)
    public static func connectPacket(connectData: String) -> [UInt8] {
        let data = Array(connectData.utf8)
        let length = Int(connectDataOffset) + data.count
        var p: [UInt8] = []
        p.reserveCapacity(length)
        func u16(_ v: UInt16) { p.append(UInt8(v >> 8)); p.append(UInt8(v & 0xff)) }
        func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xffff)) }
        u16(UInt16(length)); u16(0); p.append(PacketType.connect.rawValue); p.append(0); u16(0)
        u16(version); u16(compatibleVersion); u16(serviceOptions)
        u16(sduBytes); u16(tduBytes); u16(ntCharacteristics)
        u16(0); u16(1)
        u16(UInt16(data.count)); u16(connectDataOffset); u32(maximumReceivableConnectData)
        p.append(0); p.append(0)
        u32(0); u32(0)
        p.append(contentsOf: [UInt8](repeating: 0, count: 16))
        p.append(contentsOf: data)
        return p
    }

    /// A listener's version number as Oracle prints it: VSNNUM's 32 bits are 8 (major),
    /// 4 (maintenance), 8 (application server), 4 (component), 8 (platform) —
    /// 318767104 = 0x13000000 → `19.0.0.0.0`, 186647040 = 0x0B200200 → `11.2.0.2.0`
    /// (Wireshark's vsnum_to_vstext_basecustom reads the same fields).
    public static func versionText(vsnnum: UInt32) -> String {
        "\(vsnnum >> 24).\((vsnnum >> 20) & 0xf).\((vsnnum >> 12) & 0xff).\((vsnnum >> 8) & 0xf).\(vsnnum & 0xff)"
    }

    /// The value of `(KEY=value)` in a TNS description, case-insensitive key.
    public static func value(of key: String, in text: String) -> String? {
        let needle = Array("(\(key.uppercased())=".utf8)
        let bytes = Array(text.utf8)
        let upper = bytes.map { $0 >= 0x61 && $0 <= 0x7a ? $0 - 0x20 : $0 }
        guard needle.count <= upper.count else { return nil }
        for start in 0...(upper.count - needle.count) where upper[start..<(start + needle.count)].elementsEqual(needle) {
            let rest = bytes[(start + needle.count)...]
            return String(decoding: rest.prefix { $0 != UInt8(ascii: ")") }, as: UTF8.self)
        }
        return nil
    }

    /// What a listener's answer says, in one line: `REFUSE 19.0.0.0.0 (VSNNUM=318767104) ERR=0 ALIAS=LISTENER`.
    public static func describe(type: UInt8, packet: [UInt8]) -> AppAnswer {
        let name = PacketType(rawValue: type)?.name ?? "type \(type)"
        func u16(_ at: Int) -> Int? { at + 1 < packet.count ? Int(packet[at]) << 8 | Int(packet[at + 1]) : nil }
        switch PacketType(rawValue: type) {
        case .refuse?:
            // user reason (1), system reason (1), data length (2), data.
            guard packet.count >= 12, let dataLength = u16(10) else { return AppAnswer("REFUSE (truncated)", isError: true) }
            let data = String(decoding: packet[12..<min(packet.count, 12 + dataLength)], as: UTF8.self)
            var parts = ["REFUSE"]
            if let v = value(of: "VSNNUM", in: data), let n = UInt32(v) {
                parts.append("\(versionText(vsnnum: n)) (VSNNUM=\(v))")
            }
            let err = value(of: "ERR", in: data)
            parts.append("ERR=\(err ?? "?")")
            if let alias = value(of: "ALIAS", in: data) { parts.append("ALIAS=\(alias)") }
            if err == nil { parts.append("reason \(packet[8])/\(packet[9])") }
            return AppAnswer(parts.joined(separator: " "), isError: err != "0")
        case .accept?:
            return AppAnswer("ACCEPT version \(u16(8).map(String.init) ?? "?")", serverCloses: true)
        case .resend?:
            return AppAnswer("RESEND (the listener asks for the CONNECT again)")
        case .redirect?:
            let data = packet.count > 10 ? String(decoding: packet[10...], as: UTF8.self) : ""
            return AppAnswer("REDIRECT \(describeForeignBytes(Array(data.utf8), limit: 100))")
        default:
            return AppAnswer("TNS \(name)", isError: true)
        }
    }
}

/// One TNS packet, read incrementally: the 8-byte header, then as many bytes as its length
/// says (2 bytes when the packet checksum field is 0 or 4, else 4, as Oracle 12c sends
/// DATA). A type the dissector does not know, or a length below 8, is not TNS.
public struct TNSPacketParser: AppAnswerParser {
    var buffer: [UInt8] = []

    public init() {}

    public mutating func consume(_ bytes: UnsafeRawBufferPointer) -> AppParse {
        let before = buffer.count
        buffer.append(contentsOf: bytes)
        if buffer.count > 4 {
            let type = buffer[4]
            if type == 0 || type > TNS.highestType { return .wrongProtocol(wrongProtocolLine(buffer, notWhat: "an Oracle TNS listener")) }
        }
        guard buffer.count >= TNS.headerBytes else { return .needMore }
        let checksum = Int(buffer[2]) << 8 | Int(buffer[3])
        let length = checksum == 0 || checksum == 4
            ? Int(buffer[0]) << 8 | Int(buffer[1])
            : Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3])
        guard length >= TNS.headerBytes, length <= 1 << 20 else {
            return .wrongProtocol(wrongProtocolLine(buffer, notWhat: "an Oracle TNS listener"))
        }
        guard buffer.count >= length else { return .needMore }
        let packet = Array(buffer[0..<length])
        return .complete(TNS.describe(type: packet[4], packet: packet), consumed: max(0, length - before))
    }
}
