/// wirelat's wire protocol, version 1. docs/PROTOCOL.md is the specification;
/// the byte layouts below follow it field by field.
public enum WireProtocol {
    /// "WLAT", the first four bytes of every control message.
    public static let magic: UInt32 = 0x574C_4154
    public static let version: UInt8 = 1
    /// Control message header: magic, version, kind, body length.
    public static let controlHeaderSize = 8
    public static let maxControlBody = 1024
    /// Every request starts with a 12-byte header (oratcptest's request size at -length=0).
    public static let messageHeaderSize = 12
    /// Every sync reply is 4 bytes (oratcptest's reply size).
    public static let replySize = 4
}

public enum TestMode: String, Codable, Sendable, CaseIterable {
    case sync, async

    var wireValue: UInt8 { self == .sync ? 0 : 1 }
}

/// What the client asks for: sent once on each connection before any request.
public struct TestRequest: Equatable, Sendable {
    public var mode: TestMode
    public var wantsDiskWrite: Bool
    public var payloadLength: UInt32
    /// 0: until the client ends the test.
    public var durationNanoseconds: UInt64
    /// The same on every connection of one test.
    public var testID: UInt64
    public var connectionIndex: UInt16
    public var connectionCount: UInt16
    /// Async mode: the client asks for an acknowledgement every this many messages.
    public var ackEvery: UInt32
    /// The client reads an ``ControlMessage/error(_:)`` in place of a reply (flag bit 1),
    /// so the server can say why it ends a test instead of just closing the connection.
    public var acceptsErrors: Bool

    public init(mode: TestMode, wantsDiskWrite: Bool = false, payloadLength: UInt32, durationNanoseconds: UInt64,
                testID: UInt64, connectionIndex: UInt16 = 0, connectionCount: UInt16 = 1, ackEvery: UInt32 = 0,
                acceptsErrors: Bool = false) {
        self.mode = mode
        self.wantsDiskWrite = wantsDiskWrite
        self.acceptsErrors = acceptsErrors
        self.payloadLength = payloadLength
        self.durationNanoseconds = durationNanoseconds
        self.testID = testID
        self.connectionIndex = connectionIndex
        self.connectionCount = connectionCount
        self.ackEvery = ackEvery
    }

    static let bodySize = 32
}

/// The server's yes: the settings it will serve with.
public struct ServerReady: Equatable, Sendable {
    public var thinkTimeNanoseconds: UInt64
    public var diskWrite: Bool
    public var maxPayloadLength: UInt32

    public init(thinkTimeNanoseconds: UInt64, diskWrite: Bool, maxPayloadLength: UInt32) {
        self.thinkTimeNanoseconds = thinkTimeNanoseconds
        self.diskWrite = diskWrite
        self.maxPayloadLength = maxPayloadLength
    }

    static let bodySize = 16
}

/// What the server saw on one connection, sent when the client ends the test.
public struct TestSummary: Equatable, Sendable {
    public var messages: UInt64
    public var payloadBytes: UInt64
    public var fsyncs: UInt64
    public var fsyncMeanNanoseconds: UInt64
    public var fsyncP99Nanoseconds: UInt64
    public var fsyncMaxNanoseconds: UInt64

    public init(messages: UInt64, payloadBytes: UInt64, fsyncs: UInt64 = 0, fsyncMeanNanoseconds: UInt64 = 0,
                fsyncP99Nanoseconds: UInt64 = 0, fsyncMaxNanoseconds: UInt64 = 0) {
        self.messages = messages
        self.payloadBytes = payloadBytes
        self.fsyncs = fsyncs
        self.fsyncMeanNanoseconds = fsyncMeanNanoseconds
        self.fsyncP99Nanoseconds = fsyncP99Nanoseconds
        self.fsyncMaxNanoseconds = fsyncMaxNanoseconds
    }

    static let bodySize = 48
}

public enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case notWirelat
    case unsupportedVersion(UInt8)
    case unknownKind(UInt8)
    case bodyTooLong(Int)
    case malformed(String)

    public var description: String {
        switch self {
        case .notWirelat: return "not a wirelat test request (bad magic)"
        case .unsupportedVersion(let v): return "unsupported protocol version \(v) (this side speaks \(WireProtocol.version))"
        case .unknownKind(let k): return "unknown control message kind \(k)"
        case .bodyTooLong(let n): return "control message body of \(n) bytes exceeds \(WireProtocol.maxControlBody)"
        case .malformed(let why): return why
        }
    }
}

/// The control messages that open and close a test.
public enum ControlMessage: Equatable, Sendable {
    case request(TestRequest)
    case ready(ServerReady)
    case refused(String)
    case summary(TestSummary)
    /// The server ends a test it started, for this reason (one line, for the client to
    /// print): sent in place of a reply, only to a client whose request set
    /// ``TestRequest/acceptsErrors``.
    case error(String)

    var kind: UInt8 {
        switch self {
        case .request: return 1
        case .ready: return 2
        case .refused: return 3
        case .summary: return 4
        case .error: return 5
        }
    }

    public func encoded() -> [UInt8] {
        var body = ByteWriter()
        switch self {
        case .request(let r):
            body.uint8(r.mode.wireValue)
            body.uint8((r.wantsDiskWrite ? 1 : 0) | (r.acceptsErrors ? 2 : 0))
            body.uint16BE(0)
            body.uint32BE(r.payloadLength)
            body.uint64BE(r.durationNanoseconds)
            body.uint64BE(r.testID)
            body.uint16BE(r.connectionIndex)
            body.uint16BE(r.connectionCount)
            body.uint32BE(r.ackEvery)
        case .ready(let r):
            body.uint64BE(r.thinkTimeNanoseconds)
            body.uint8(r.diskWrite ? 1 : 0)
            body.uint8(0); body.uint16BE(0)
            body.uint32BE(r.maxPayloadLength)
        case .refused(let reason), .error(let reason):
            body.append(contentsOf: Array(reason.utf8.prefix(WireProtocol.maxControlBody)))
        case .summary(let s):
            body.uint64BE(s.messages)
            body.uint64BE(s.payloadBytes)
            body.uint64BE(s.fsyncs)
            body.uint64BE(s.fsyncMeanNanoseconds)
            body.uint64BE(s.fsyncP99Nanoseconds)
            body.uint64BE(s.fsyncMaxNanoseconds)
        }
        var out = ByteWriter(capacity: WireProtocol.controlHeaderSize + body.bytes.count)
        out.uint32BE(WireProtocol.magic)
        out.uint8(WireProtocol.version)
        out.uint8(kind)
        out.uint16BE(UInt16(body.bytes.count))
        out.append(contentsOf: body.bytes)
        return out.bytes
    }

    /// Decodes one control message from the start of `bytes`. Returns nil
    /// while the message is incomplete; throws as soon as the bytes cannot
    /// become a valid message (so garbage is refused without waiting).
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> (message: ControlMessage, consumed: Int)? {
        // Check the magic byte by byte, so a short stream of garbage is refused at once.
        for i in 0..<min(4, bytes.count) where bytes[i] != UInt8(truncatingIfNeeded: WireProtocol.magic >> (24 - 8 * i)) {
            throw .notWirelat
        }
        if bytes.count >= 5 && bytes[4] != WireProtocol.version { throw .unsupportedVersion(bytes[4]) }
        guard bytes.count >= WireProtocol.controlHeaderSize else { return nil }
        let kind = bytes[5]
        let length = Int(bytes[6]) << 8 | Int(bytes[7])
        guard length <= WireProtocol.maxControlBody else { throw .bodyTooLong(length) }
        guard bytes.count >= WireProtocol.controlHeaderSize + length else { return nil }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[WireProtocol.controlHeaderSize..<WireProtocol.controlHeaderSize + length]))
        let consumed = WireProtocol.controlHeaderSize + length
        do {
            switch kind {
            case 1:
                guard length == TestRequest.bodySize else { throw ProtocolError.malformed("test request body is \(length) bytes, expected \(TestRequest.bodySize)") }
                let mode = try r.uint8()
                guard mode <= 1 else { throw ProtocolError.malformed("unknown mode \(mode)") }
                let flags = try r.uint8()
                _ = try r.uint16BE()
                let request = TestRequest(
                    mode: mode == 0 ? .sync : .async, wantsDiskWrite: flags & 1 != 0,
                    payloadLength: try r.uint32BE(), durationNanoseconds: try r.uint64BE(), testID: try r.uint64BE(),
                    connectionIndex: try r.uint16BE(), connectionCount: try r.uint16BE(), ackEvery: try r.uint32BE(),
                    acceptsErrors: flags & 2 != 0)
                return (.request(request), consumed)
            case 2:
                guard length == ServerReady.bodySize else { throw ProtocolError.malformed("ready body is \(length) bytes, expected \(ServerReady.bodySize)") }
                let think = try r.uint64BE()
                let disk = try r.uint8() != 0
                try r.skip(3)
                return (.ready(ServerReady(thinkTimeNanoseconds: think, diskWrite: disk, maxPayloadLength: try r.uint32BE())), consumed)
            case 3:
                let reason = String(decoding: try r.slice(length), as: UTF8.self)
                return (.refused(reason), consumed)
            case 5:
                return (.error(String(decoding: try r.slice(length), as: UTF8.self)), consumed)
            case 4:
                guard length == TestSummary.bodySize else { throw ProtocolError.malformed("summary body is \(length) bytes, expected \(TestSummary.bodySize)") }
                return (.summary(TestSummary(
                    messages: try r.uint64BE(), payloadBytes: try r.uint64BE(), fsyncs: try r.uint64BE(),
                    fsyncMeanNanoseconds: try r.uint64BE(), fsyncP99Nanoseconds: try r.uint64BE(),
                    fsyncMaxNanoseconds: try r.uint64BE())), consumed)
            default:
                throw ProtocolError.unknownKind(kind)
            }
        } catch let e as ProtocolError {
            throw e
        } catch {
            throw .malformed("control message body truncated")
        }
    }
}

/// The 12-byte header in front of every request:
/// type (1 data, 2 end), flags (bit 0: acknowledge), 2 reserved bytes,
/// sequence number, payload length — all big-endian.
public struct MessageHeader: Equatable, Sendable {
    public enum Kind: UInt8, Sendable { case data = 1, end = 2 }

    public var kind: Kind
    public var ackRequested: Bool
    public var sequence: UInt32
    public var payloadLength: UInt32

    public init(kind: Kind, ackRequested: Bool = false, sequence: UInt32, payloadLength: UInt32) {
        self.kind = kind
        self.ackRequested = ackRequested
        self.sequence = sequence
        self.payloadLength = payloadLength
    }

    /// Writes the 12 bytes at the start of `buffer`.
    @inline(__always)
    public func write(to buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= WireProtocol.messageHeaderSize)
        buffer[0] = kind.rawValue
        buffer[1] = ackRequested ? 1 : 0
        buffer[2] = 0
        buffer[3] = 0
        buffer.storeBytes(of: sequence.bigEndian, toByteOffset: 4, as: UInt32.self)
        buffer.storeBytes(of: payloadLength.bigEndian, toByteOffset: 8, as: UInt32.self)
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> MessageHeader {
        var r = ByteReader(bytes)
        do {
            let type = try r.uint8()
            guard let kind = Kind(rawValue: type) else { throw ProtocolError.malformed("unknown message type \(type)") }
            let flags = try r.uint8()
            _ = try r.uint16BE()
            return MessageHeader(kind: kind, ackRequested: flags & 1 != 0, sequence: try r.uint32BE(), payloadLength: try r.uint32BE())
        } catch let e as ProtocolError {
            throw e
        } catch {
            throw .malformed("message header truncated")
        }
    }
}

/// Reassembles requests from a byte stream however it is split across reads,
/// down to one byte at a time, and checks each against the negotiated test.
public struct RequestStreamParser {
    public let payloadLength: UInt32
    public private(set) var expectedSequence: UInt32 = 0
    public private(set) var messages: UInt64 = 0
    public private(set) var payloadBytes: UInt64 = 0

    private var header = [UInt8](repeating: 0, count: WireProtocol.messageHeaderSize)
    private var headerFilled = 0
    private var current: MessageHeader?
    private var payloadLeft = 0

    public init(payloadLength: UInt32) {
        self.payloadLength = payloadLength
    }

    /// True between messages: nothing partial is buffered.
    public var isAtBoundary: Bool { headerFilled == 0 && current == nil }

    /// Consumes `bytes`, calling `onPayload` for each chunk of payload and
    /// `onMessage` when a message is complete. Throws on the first byte that
    /// breaks the protocol; bytes after it are not looked at.
    public mutating func consume(
        _ bytes: UnsafeRawBufferPointer,
        onPayload: (UnsafeRawBufferPointer) -> Void,
        onMessage: (MessageHeader) -> Void
    ) throws(ProtocolError) {
        var i = 0
        while i < bytes.count {
            if let h = current {
                let take = min(payloadLeft, bytes.count - i)
                if take > 0 {
                    onPayload(UnsafeRawBufferPointer(rebasing: bytes[i..<i + take]))
                    i += take
                    payloadLeft -= take
                }
                if payloadLeft == 0 {
                    current = nil
                    finish(h, onMessage)
                }
                continue
            }
            if headerFilled == 0 && bytes.count - i >= WireProtocol.messageHeaderSize {
                let h = try MessageHeader.decode(UnsafeRawBufferPointer(rebasing: bytes[i..<i + WireProtocol.messageHeaderSize]))
                i += WireProtocol.messageHeaderSize
                try begin(h, onMessage)
                continue
            }
            let take = min(WireProtocol.messageHeaderSize - headerFilled, bytes.count - i)
            for k in 0..<take { header[headerFilled + k] = bytes[i + k] }
            headerFilled += take
            i += take
            if headerFilled == WireProtocol.messageHeaderSize {
                headerFilled = 0
                let decoded = header.withUnsafeBytes { b in Result { () throws(ProtocolError) in try MessageHeader.decode(b) } }
                try begin(try decoded.get(), onMessage)
            }
        }
    }

    private mutating func begin(_ h: MessageHeader, _ onMessage: (MessageHeader) -> Void) throws(ProtocolError) {
        if h.kind == .end {
            guard h.payloadLength == 0 else { throw .malformed("end message carries \(h.payloadLength) payload bytes") }
            onMessage(h)
            return
        }
        guard h.payloadLength == payloadLength else {
            throw .malformed("request of \(h.payloadLength) payload bytes in a test negotiated for \(payloadLength)")
        }
        guard h.sequence == expectedSequence else {
            throw .malformed("request sequence \(h.sequence) where \(expectedSequence) was expected")
        }
        if h.payloadLength == 0 {
            finish(h, onMessage)
        } else {
            current = h
            payloadLeft = Int(h.payloadLength)
        }
    }

    private mutating func finish(_ h: MessageHeader, _ onMessage: (MessageHeader) -> Void) {
        expectedSequence &+= 1
        messages += 1
        payloadBytes += UInt64(h.payloadLength)
        onMessage(h)
    }
}

/// Reassembles the server's 4-byte replies (big-endian sequence numbers).
public struct ReplyStreamParser {
    private var partial: UInt32 = 0
    private var filled = 0

    public init() {}

    public var isAtBoundary: Bool { filled == 0 }

    /// How many more bytes complete the reply under way.
    public var bytesNeeded: Int { WireProtocol.replySize - filled }

    /// Consumes `bytes`, calling `onReply` with each complete reply's sequence number.
    @inline(__always)
    public mutating func consume(_ bytes: UnsafeRawBufferPointer, onReply: (UInt32) -> Void) {
        for byte in bytes {
            partial = partial << 8 | UInt32(byte)
            filled += 1
            if filled == WireProtocol.replySize {
                onReply(partial)
                partial = 0
                filled = 0
            }
        }
    }
}
