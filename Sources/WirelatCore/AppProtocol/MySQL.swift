import Crypto

/// The MySQL/MariaDB client/server protocol (MySQL's "Client/Server Protocol" reference,
/// MariaDB's "Client/Server Protocol" pages): packets are `int<3> payload length,
/// int<1> sequence id, payload`, little-endian; the server speaks first.
public enum MySQL {
    /// Capability flags ("Capabilities Flags") wirelat uses.
    public enum Capability {
        public static let longPassword: UInt32 = 0x0000_0001
        public static let longFlag: UInt32 = 0x0000_0004
        public static let connectWithDB: UInt32 = 0x0000_0008
        public static let protocol41: UInt32 = 0x0000_0200
        public static let ssl: UInt32 = 0x0000_0800
        public static let transactions: UInt32 = 0x0000_2000
        public static let secureConnection: UInt32 = 0x0000_8000
        public static let pluginAuth: UInt32 = 0x0008_0000
    }

    /// The auth plugin wirelat speaks, MariaDB's default for a user with a password.
    public static let nativePassword = "mysql_native_password"
    /// The largest packet the reader accepts: wirelat's exchanges are a greeting, OK and ERR packets.
    public static let maximumPayloadLength = 1 << 20

    /// COM_PING (0x0e), sequence 0: answered by an OK packet.
    public static let comPing: [UInt8] = [1, 0, 0, 0, 0x0e]
    /// COM_QUIT (0x01), sequence 0: the server closes the connection without logging it as aborted.
    public static let comQuit: [UInt8] = [1, 0, 0, 0, 0x01]

    /// A packet: the 4-byte header, then the payload.
    public static func packet(sequence: UInt8, payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [UInt8(n & 0xff), UInt8(n >> 8 & 0xff), UInt8(n >> 16 & 0xff), sequence] + payload
    }

    /// mysql_native_password ("Native Authentication"):
    /// SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))); an empty password sends nothing.
    public static func nativePasswordResponse(password: [UInt8], scramble: [UInt8]) -> [UInt8] {
        guard !password.isEmpty else { return [] }
        let stage1 = Array(Insecure.SHA1.hash(data: password))
        let stage2 = Array(Insecure.SHA1.hash(data: stage1))
        let mix = Array(Insecure.SHA1.hash(data: scramble + stage2))
        return zip(stage1, mix).map { $0 ^ $1 }
    }

    /// HandshakeResponse41: capabilities, max packet size, character set, 23 zero bytes, the
    /// user, the auth response (length-prefixed), the database if any, the plugin name.
    /// The capabilities are wirelat's intersected with the server's.
    public static func handshakeResponse(greeting: MySQLGreeting, user: String, authResponse: [UInt8], database: String?) -> [UInt8] {
        var capabilities = Capability.longPassword | Capability.longFlag | Capability.protocol41
            | Capability.transactions | Capability.secureConnection | Capability.pluginAuth
        if database != nil { capabilities |= Capability.connectWithDB }
        capabilities &= greeting.capabilities | Capability.longPassword
        var p: [UInt8] = []
        p.appendLE32(capabilities)
        p.appendLE32(16 * 1024 * 1024)
        p.append(greeting.characterSet)
        p.append(contentsOf: repeatElement(0, count: 23))
        p.append(contentsOf: user.utf8)
        p.append(0)
        p.append(UInt8(authResponse.count))
        p.append(contentsOf: authResponse)
        if let database, capabilities & Capability.connectWithDB != 0 {
            p.append(contentsOf: database.utf8)
            p.append(0)
        }
        if capabilities & Capability.pluginAuth != 0 {
            p.append(contentsOf: nativePassword.utf8)
            p.append(0)
        }
        return packet(sequence: greeting.sequence &+ 1, payload: p)
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE32(_ v: UInt32) {
        append(UInt8(v & 0xff)); append(UInt8(v >> 8 & 0xff)); append(UInt8(v >> 16 & 0xff)); append(UInt8(v >> 24))
    }
}

/// One packet from the server.
public struct MySQLPacket: Equatable, Sendable {
    public let sequence: UInt8
    public let payload: [UInt8]

    public init(sequence: UInt8, payload: [UInt8]) {
        self.sequence = sequence
        self.payload = payload
    }
}

/// Splits the server's bytes into packets, fed in any pieces. The first packet of a
/// connection must look like a greeting (sequence 0, protocol 10 or an ERR packet, a
/// plausible length) as soon as its first five bytes are in, so another protocol is named
/// at once instead of waiting for a "payload" of megabytes.
public struct MySQLPacketReader: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var expectGreeting: Bool
    /// The first bytes the server sent, kept to quote them if they are not MySQL.
    public private(set) var firstBytes: [UInt8] = []

    public init(expectGreeting: Bool) {
        self.expectGreeting = expectGreeting
    }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if firstBytes.count < 64 { firstBytes.append(contentsOf: bytes.prefix(64 - firstBytes.count)) }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete packet, or nil until more bytes arrive.
    public mutating func next() throws(DatabaseAnswerError) -> MySQLPacket? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let length = Int(buffer[start]) | Int(buffer[start + 1]) << 8 | Int(buffer[start + 2]) << 16
        let sequence = buffer[start + 3]
        if expectGreeting {
            guard available >= 5 else { return nil }
            let kind = buffer[start + 4]
            guard sequence == 0, length >= 1, length <= 16_384, kind == 10 || kind == 0xff else {
                throw DatabaseAnswerError(notProtocol: "MySQL", quoting: firstBytes)
            }
        } else if length > MySQL.maximumPayloadLength {
            throw DatabaseAnswerError(.malformed, "a packet of \(length) bytes")
        }
        guard available >= 4 + length else { return nil }
        let payload = Array(buffer[(start + 4)..<(start + 4 + length)])
        start += 4 + length
        expectGreeting = false
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return MySQLPacket(sequence: sequence, payload: payload)
    }
}

/// Protocol::HandshakeV10, the server's greeting.
public struct MySQLGreeting: Equatable, Sendable, CustomStringConvertible {
    public var sequence: UInt8
    public var protocolVersion: UInt8
    /// As sent; MariaDB prefixes `5.5.5-` for old replication clients.
    public var serverVersion: String
    public var connectionID: UInt32
    public var capabilities: UInt32
    public var characterSet: UInt8
    public var statusFlags: UInt16
    /// auth-plugin-data: part 1 (8 bytes) + part 2 (12 bytes, the trailing zero dropped).
    public var scramble: [UInt8]
    public var authPluginName: String

    /// The version without MariaDB's `5.5.5-` prefix.
    public var displayVersion: String {
        serverVersion.hasPrefix("5.5.5-") ? String(serverVersion.dropFirst(6)) : serverVersion
    }

    public var description: String {
        "\(displayVersion), connection id \(connectionID)" + (authPluginName.isEmpty ? "" : ", auth \(authPluginName)")
    }

    /// Parses a HandshakeV10 payload; an ERR packet in its place (too many connections, a
    /// blocked host) is thrown as the server's refusal.
    public init(_ packet: MySQLPacket) throws(DatabaseAnswerError) {
        let p = packet.payload
        if p.first == 0xff { throw MySQLErrorPacket.refusal(p) }
        var r = LittleEndianReader(p)
        guard let version = r.byte(), version == 10 else {
            throw DatabaseAnswerError(.unsupported, "greets with protocol version \(p.first ?? 0); wirelat speaks 10")
        }
        guard let serverVersion = r.cString(), let connectionID = r.le32(), let part1 = r.take(8), r.byte() != nil,
              let capsLow = r.le16()
        else { throw DatabaseAnswerError(.malformed, "a truncated greeting") }
        sequence = packet.sequence
        protocolVersion = version
        self.serverVersion = serverVersion
        self.connectionID = connectionID
        scramble = part1
        characterSet = 0x21
        statusFlags = 0
        capabilities = UInt32(capsLow)
        authPluginName = ""
        guard let charset = r.byte(), let status = r.le16(), let capsHigh = r.le16(), let dataLength = r.byte(),
              r.take(10) != nil
        else { return }
        characterSet = charset
        statusFlags = status
        capabilities |= UInt32(capsHigh) << 16
        if capabilities & MySQL.Capability.secureConnection != 0 {
            let part2Length = max(13, Int(dataLength) - 8)
            guard let part2 = r.take(part2Length) else { throw DatabaseAnswerError(.malformed, "a truncated greeting") }
            scramble += part2.last == 0 ? part2.dropLast() : part2
        }
        if capabilities & MySQL.Capability.pluginAuth != 0 {
            authPluginName = r.cString() ?? r.rest()
        }
    }
}

/// An ERR packet ("ERR_Packet"): `0xff, int<2> code, ["#" sqlstate<5>], message`.
public struct MySQLErrorPacket: Equatable, Sendable, CustomStringConvertible {
    public var code: UInt16
    public var sqlState: String?
    public var message: String

    public init?(_ payload: [UInt8]) {
        guard payload.count >= 3, payload[0] == 0xff else { return nil }
        code = UInt16(payload[1]) | UInt16(payload[2]) << 8
        var i = 3
        if payload.count >= 9, payload[3] == UInt8(ascii: "#") {
            sqlState = String(decoding: payload[4..<9], as: UTF8.self)
            i = 9
        }
        message = String(decoding: payload[i...], as: UTF8.self)
    }

    /// As the mysql client prints it: `ERROR 1045 (28000): Access denied for user …`.
    public var description: String {
        "ERROR \(code)" + (sqlState.map { " (\($0))" } ?? "") + ": \(message)"
    }

    static func refusal(_ payload: [UInt8]) -> DatabaseAnswerError {
        guard let e = MySQLErrorPacket(payload) else { return DatabaseAnswerError(.malformed, "a truncated ERR packet") }
        return DatabaseAnswerError(.refused, e.description)
    }
}

/// A login ("Connection Phase"): greeting → HandshakeResponse41 with mysql_native_password →
/// OK; an AuthSwitchRequest to mysql_native_password is answered with the new scramble.
public struct MySQLLogin: Sendable {
    public let user: String
    private let password: [UInt8]
    private let database: String?
    private var reader = MySQLPacketReader(expectGreeting: true)

    /// The server's greeting, once received.
    public private(set) var greeting: MySQLGreeting?

    public init(user: String, password: [UInt8]?, database: String?) {
        self.user = user
        self.password = password ?? []
        self.database = database
    }

    /// Feeds the server's bytes; returns what to do next. Throws the server's ERR packet
    /// (`ERROR 1045 (28000): Access denied …`), another protocol, or an auth plugin
    /// wirelat does not speak.
    public mutating func receive<C: Collection>(_ bytes: C) throws(DatabaseAnswerError) -> DatabaseLoginStep where C.Element == UInt8 {
        reader.append(bytes)
        var toSend: [UInt8] = []
        while let packet = try reader.next() {
            guard let greeting else {
                let g = try MySQLGreeting(packet)
                greeting = g
                guard g.capabilities & MySQL.Capability.protocol41 != 0 else {
                    throw DatabaseAnswerError(.unsupported, "runs \(g.displayVersion), which does not speak protocol 4.1")
                }
                let response = MySQL.nativePasswordResponse(password: password, scramble: g.scramble)
                toSend += MySQL.handshakeResponse(greeting: g, user: user, authResponse: response, database: database)
                continue
            }
            switch packet.payload.first {
            case 0x00:
                return .ready
            case 0xff:
                throw MySQLErrorPacket.refusal(packet.payload)
            case 0xfe:
                let rest = Array(packet.payload.dropFirst())
                let nameEnd = rest.firstIndex(of: 0) ?? rest.count
                let plugin = String(decoding: rest[..<nameEnd], as: UTF8.self)
                guard plugin == MySQL.nativePassword else {
                    throw DatabaseAnswerError(.unsupported, "(\(greeting.displayVersion)) asks for auth plugin \(plugin.isEmpty ? "(old password)" : plugin); wirelat speaks \(MySQL.nativePassword)")
                }
                var data = nameEnd < rest.count ? Array(rest[(nameEnd + 1)...]) : []
                if data.last == 0 { data.removeLast() }
                toSend += MySQL.packet(sequence: packet.sequence &+ 1, payload: MySQL.nativePasswordResponse(password: password, scramble: data))
            case 0x01:
                throw DatabaseAnswerError(.unsupported, "(\(greeting.displayVersion)) continues with auth plugin \(greeting.authPluginName); wirelat speaks \(MySQL.nativePassword)")
            default:
                throw DatabaseAnswerError(.malformed, "unexpected packet 0x\(String(packet.payload.first ?? 0, radix: 16)) during login")
            }
        }
        return toSend.isEmpty ? .needMore : .send(toSend)
    }
}

/// The greeting alone, for the login-free probe: the connection's first packet.
public struct MySQLGreetingReader: Sendable {
    private var reader = MySQLPacketReader(expectGreeting: true)

    public init() {}

    /// Feeds the server's bytes; the greeting once complete, else nil. An ERR packet in its
    /// place is thrown (`ERROR 1129 (HY000): Host '…' is blocked …`).
    public mutating func receive<C: Collection>(_ bytes: C) throws(DatabaseAnswerError) -> MySQLGreeting? where C.Element == UInt8 {
        reader.append(bytes)
        guard let packet = try reader.next() else { return nil }
        return try MySQLGreeting(packet)
    }
}

/// COM_PING's answer on a logged-in session: an OK packet (or an ERR packet).
public struct MySQLPingExchange: Sendable {
    /// The request sent for every probe.
    public let request = MySQL.comPing
    private var reader = MySQLPacketReader(expectGreeting: false)

    public init() {}

    /// Feeds the server's bytes; a description of the answer once the packet is complete, else nil.
    public mutating func receive<C: Collection>(_ bytes: C) throws(DatabaseAnswerError) -> String? where C.Element == UInt8 {
        reader.append(bytes)
        guard let packet = try reader.next() else { return nil }
        switch packet.payload.first {
        case 0x00: return "OK"
        case 0xff: return MySQLErrorPacket(packet.payload)?.description ?? "ERR"
        default: throw DatabaseAnswerError(.malformed, "COM_PING answered by packet 0x\(String(packet.payload.first ?? 0, radix: 16))")
        }
    }
}

/// A bounds-checked little-endian reader: nil where the bytes run out.
private struct LittleEndianReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func le16() -> UInt16? {
        guard let a = take(2) else { return nil }
        return UInt16(a[0]) | UInt16(a[1]) << 8
    }

    mutating func le32() -> UInt32? {
        guard let a = take(4) else { return nil }
        return UInt32(a[0]) | UInt32(a[1]) << 8 | UInt32(a[2]) << 16 | UInt32(a[3]) << 24
    }

    mutating func take(_ n: Int) -> [UInt8]? {
        guard n <= bytes.count - offset else { return nil }
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }

    mutating func cString() -> String? {
        guard let end = bytes[offset...].firstIndex(of: 0) else { return nil }
        defer { offset = end + 1 }
        return String(decoding: bytes[offset..<end], as: UTF8.self)
    }

    mutating func rest() -> String {
        defer { offset = bytes.count }
        return String(decoding: bytes[offset...], as: UTF8.self)
    }
}
