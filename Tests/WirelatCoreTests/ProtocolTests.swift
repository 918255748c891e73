import Testing
import WirelatCore

// The wire protocol (Sources/WirelatCore/Wire/Protocol.swift), tested the tcpdump way:
// every valid message truncated at every offset, every stream split at every chunk size.

/// Decodes one control message from `bytes` (the codec's typed throw, passed through).
private func decodeControl(_ bytes: [UInt8]) throws(ProtocolError) -> (message: ControlMessage, consumed: Int)? {
    try bytes.withUnsafeBytes { b in Result { () throws(ProtocolError) in try ControlMessage.decode(b) } }.get()
}

private func decodeHeader(_ bytes: [UInt8]) throws(ProtocolError) -> MessageHeader {
    try bytes.withUnsafeBytes { b in Result { () throws(ProtocolError) in try MessageHeader.decode(b) } }.get()
}

/// The 12 bytes of one request header.
private func headerBytes(_ h: MessageHeader) -> [UInt8] {
    var bytes = [UInt8](repeating: 0xAA, count: WireProtocol.messageHeaderSize)
    bytes.withUnsafeMutableBytes { h.write(to: $0) }
    return bytes
}

private let fullRequest = TestRequest(
    mode: .async, wantsDiskWrite: true, payloadLength: 0x0102_0304, durationNanoseconds: 0x1122_3344_5566_7788,
    testID: 0xDEAD_BEEF_CAFE_F00D, connectionIndex: 513, connectionCount: 1024, ackEvery: 0x0A0B_0C0D, acceptsErrors: true)

/// One of each control message, with every field away from its default.
private let everyKind: [(name: String, message: ControlMessage, wireSize: Int)] = [
    ("request", .request(fullRequest), 8 + 32),
    ("sync request", .request(TestRequest(mode: .sync, payloadLength: 0, durationNanoseconds: 1_000_000_000, testID: 1)), 8 + 32),
    ("ready", .ready(ServerReady(thinkTimeNanoseconds: 2_000_000, diskWrite: true, maxPayloadLength: 16 << 20)), 8 + 16),
    ("refused, UTF-8 reason", .refused("längd 5 GiB > max — nej 🚫"), 8 + "längd 5 GiB > max — nej 🚫".utf8.count),
    ("refused, empty reason", .refused(""), 8),
    ("summary", .summary(TestSummary(
        messages: 123_456_789, payloadBytes: 30_864_197_250, fsyncs: 123_456_789, fsyncMeanNanoseconds: 1_500_000,
        fsyncP99Nanoseconds: 9_000_000, fsyncMaxNanoseconds: UInt64.max)), 8 + 48),
    ("error", .error("the server's disk is full: No space left on device"), 8 + 50),
]

@Suite("Control messages")
struct ControlMessageTests {
    @Test("encode → decode gives the same message, consuming exactly its bytes", arguments: everyKind.indices)
    func roundTrip(index: Int) throws {
        let (name, message, wireSize) = everyKind[index]
        let bytes = message.encoded()
        #expect(bytes.count == wireSize, "\(name): \(bytes.count) bytes on the wire")
        // "WLAT", version 1, then the kind.
        #expect(Array(bytes.prefix(5)) == [0x57, 0x4C, 0x41, 0x54, 1], "\(name)")
        let decoded = try #require(try decodeControl(bytes), "\(name) did not decode")
        #expect(decoded.message == message, "\(name)")
        #expect(decoded.consumed == bytes.count, "\(name)")
    }

    @Test("the kind byte: request 1, ready 2, refused 3, summary 4, error 5")
    func kindBytes() {
        #expect(ControlMessage.request(fullRequest).encoded()[5] == 1)
        #expect(ControlMessage.ready(ServerReady(thinkTimeNanoseconds: 0, diskWrite: false, maxPayloadLength: 0)).encoded()[5] == 2)
        #expect(ControlMessage.refused("x").encoded()[5] == 3)
        #expect(ControlMessage.summary(TestSummary(messages: 0, payloadBytes: 0)).encoded()[5] == 4)
        #expect(ControlMessage.error("x").encoded()[5] == 5)
    }

    @Test("request flags: bit 0 disk write, bit 1 the client reads error messages; a request without bit 1 decodes without it")
    func requestFlags() throws {
        let both = ControlMessage.request(fullRequest).encoded()
        #expect(both[9] == 0b11)
        var plain = fullRequest
        plain.acceptsErrors = false
        let bytes = ControlMessage.request(plain).encoded()
        #expect(bytes[9] == 0b01)
        #expect(try decodeControl(bytes)?.message == .request(plain))
    }

    @Test("every strict prefix of a valid message is 'incomplete', never an error", arguments: everyKind.indices)
    func everyPrefixIsIncomplete(index: Int) throws {
        let (name, message, _) = everyKind[index]
        let bytes = message.encoded()
        for cut in 0..<bytes.count {
            let result = try decodeControl(Array(bytes[0..<cut]))
            #expect(result == nil, "\(name) cut at \(cut) of \(bytes.count) bytes decoded to \(String(describing: result))")
        }
    }

    @Test("bytes after a message are left for the next read")
    func trailingBytesAreNotConsumed() throws {
        let first = ControlMessage.ready(ServerReady(thinkTimeNanoseconds: 7, diskWrite: false, maxPayloadLength: 9)).encoded()
        let second = ControlMessage.refused("later").encoded()
        let decoded = try #require(try decodeControl(first + second + [0x01]))
        #expect(decoded.consumed == first.count)
        #expect(decoded.message == .ready(ServerReady(thinkTimeNanoseconds: 7, diskWrite: false, maxPayloadLength: 9)))
    }

    @Test("an HTTP request is refused as not-wirelat from its first byte")
    func httpIsNotWirelat() {
        let http = Array("GET / HTTP/1.1\r\n".utf8)
        for cut in 1...http.count {
            #expect(throws: ProtocolError.notWirelat) { try decodeControl(Array(http[0..<cut])) }
        }
    }

    @Test("a stream that starts like WLAT but diverges is refused at the divergent byte")
    func partialMagicThenGarbage() throws {
        #expect(try decodeControl(Array("WLA".utf8)) == nil)
        #expect(throws: ProtocolError.notWirelat) { try decodeControl(Array("WLAX".utf8)) }
        #expect(throws: ProtocolError.notWirelat) { try decodeControl(Array("WX".utf8)) }
        #expect(throws: ProtocolError.notWirelat) { try decodeControl([0x00]) }
    }

    @Test("another protocol version is refused as soon as its version byte arrives")
    func wrongVersion() {
        var bytes = ControlMessage.request(fullRequest).encoded()
        bytes[4] = 2
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try decodeControl(bytes) }
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try decodeControl(Array(bytes.prefix(5))) }
        bytes[4] = 0
        #expect(throws: ProtocolError.unsupportedVersion(0)) { try decodeControl(bytes) }
    }

    @Test("an unknown kind is refused")
    func unknownKind() {
        for kind: UInt8 in [0, 6, 9, 255] {
            let bytes: [UInt8] = [0x57, 0x4C, 0x41, 0x54, 1, kind, 0, 2, 0xAB, 0xCD]
            #expect(throws: ProtocolError.unknownKind(kind)) { try decodeControl(bytes) }
        }
    }

    @Test("a body length above 1024 is refused from the header alone, without waiting for the body")
    func oversizeBody() {
        for length in [1025, 4096, 0xFFFF] {
            let bytes: [UInt8] = [0x57, 0x4C, 0x41, 0x54, 1, 1, UInt8(length >> 8), UInt8(length & 0xFF)]
            #expect(throws: ProtocolError.bodyTooLong(length)) { try decodeControl(bytes) }
        }
    }

    @Test("a body of exactly 1024 bytes is accepted")
    func maximumBody() throws {
        let reason = String(repeating: "r", count: WireProtocol.maxControlBody)
        let decoded = try #require(try decodeControl(ControlMessage.refused(reason).encoded()))
        #expect(decoded.message == .refused(reason))
    }

    @Test("a refusal reason longer than 1024 bytes is cut to fit and still decodes")
    func longReasonIsCut() throws {
        let reason = String(repeating: "é", count: 600) // 1200 bytes of UTF-8
        let bytes = ControlMessage.refused(reason).encoded()
        #expect(bytes.count == WireProtocol.controlHeaderSize + WireProtocol.maxControlBody)
        let decoded = try #require(try decodeControl(bytes))
        guard case .refused(let text) = decoded.message else {
            Issue.record("decoded to \(decoded.message)")
            return
        }
        #expect(text.hasPrefix(String(repeating: "é", count: 512)))
    }

    @Test("request, ready and summary bodies of the wrong size are malformed", arguments: [(UInt8(1), 31), (1, 33), (2, 15), (4, 47), (4, 0)])
    func wrongBodySize(kind: UInt8, length: Int) {
        let bytes: [UInt8] = [0x57, 0x4C, 0x41, 0x54, 1, kind, 0, UInt8(length)] + [UInt8](repeating: 0, count: length)
        let error = #expect(throws: ProtocolError.self) { try decodeControl(bytes) }
        guard case .malformed = error else {
            Issue.record("kind \(kind), body \(length) bytes: \(String(describing: error))")
            return
        }
    }

    @Test("a request with an unknown mode is malformed")
    func unknownMode() {
        var bytes = ControlMessage.request(fullRequest).encoded()
        bytes[8] = 7
        let error = #expect(throws: ProtocolError.self) { try decodeControl(bytes) }
        #expect(error == .malformed("unknown mode 7"))
    }

    @Test("the request body is laid out big-endian, field by field (docs/PROTOCOL.md)")
    func requestLayout() {
        let bytes = ControlMessage.request(fullRequest).encoded()
        #expect(bytes == [
            0x57, 0x4C, 0x41, 0x54, 1, 1, 0, 32,                // magic, version, kind, body length
            1, 3, 0, 0,                                         // mode async, flags: disk write + reads errors, reserved
            0x01, 0x02, 0x03, 0x04,                             // payload length
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,     // duration ns
            0xDE, 0xAD, 0xBE, 0xEF, 0xCA, 0xFE, 0xF0, 0x0D,     // test id
            0x02, 0x01, 0x04, 0x00,                             // connection 513 of 1024
            0x0A, 0x0B, 0x0C, 0x0D,                             // ack every
        ])
    }
}

@Suite("Request header and stream parsers")
struct StreamParserTests {
    @Test("oratcptest's wire sizes at -length=0: a 12-byte request, a 4-byte reply")
    func wireSizes() throws {
        #expect(WireProtocol.messageHeaderSize == 12)
        #expect(WireProtocol.replySize == 4)
        #expect(headerBytes(MessageHeader(kind: .data, sequence: 0, payloadLength: 0)).count == 12)
        #expect(ClientSettings(host: "h").requestBytes == 12)
        var withPayload = ClientSettings(host: "h")
        withPayload.length = 250
        #expect(withPayload.requestBytes == 262)

        // 12 bytes are one whole request at length 0 …
        var parser = RequestStreamParser(payloadLength: 0)
        var completed = 0
        try headerBytes(MessageHeader(kind: .data, sequence: 0, payloadLength: 0)).withUnsafeBytes { b in
            try parser.consume(b, onPayload: { _ in }, onMessage: { _ in completed += 1 })
        }
        #expect(completed == 1)
        #expect(parser.isAtBoundary)
        // … and 4 bytes are one whole reply.
        var replies = ReplyStreamParser()
        var got: [UInt32] = []
        ([0, 0, 0x01, 0x02] as [UInt8]).withUnsafeBytes { b in replies.consume(b) { got.append($0) } }
        #expect(got == [0x0102])
    }

    @Test("MessageHeader writes type, flags, 2 reserved bytes, sequence and length big-endian")
    func headerLayout() throws {
        let h = MessageHeader(kind: .data, ackRequested: true, sequence: 0x0102_0304, payloadLength: 0x0A0B_0C0D)
        let bytes = headerBytes(h)
        #expect(bytes == [1, 1, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x0A, 0x0B, 0x0C, 0x0D])
        #expect(try decodeHeader(bytes) == h)

        let end = MessageHeader(kind: .end, sequence: 77, payloadLength: 0)
        #expect(headerBytes(end) == [2, 0, 0, 0, 0, 0, 0, 77, 0, 0, 0, 0])
        #expect(try decodeHeader(headerBytes(end)) == end)
    }

    @Test("a truncated header or an unknown type is malformed")
    func badHeaders() {
        let good = headerBytes(MessageHeader(kind: .data, sequence: 1, payloadLength: 2))
        for cut in 0..<good.count {
            #expect(throws: ProtocolError.malformed("message header truncated")) { try decodeHeader(Array(good[0..<cut])) }
        }
        for type: UInt8 in [0, 3, 255] {
            var bytes = good
            bytes[0] = type
            #expect(throws: ProtocolError.malformed("unknown message type \(type)")) { try decodeHeader(bytes) }
        }
    }

    /// 50 data messages of 7 payload bytes each (every byte distinct), then an end message.
    static let payloadLength = 7
    static let messageCount = 50
    static func payload(of sequence: Int) -> [UInt8] {
        (0..<payloadLength).map { UInt8(truncatingIfNeeded: sequence * payloadLength + $0 + 1) }
    }
    static let stream: [UInt8] = {
        var bytes: [UInt8] = []
        for seq in 0..<messageCount {
            bytes += headerBytes(MessageHeader(kind: .data, ackRequested: seq % 3 == 0, sequence: UInt32(seq), payloadLength: UInt32(payloadLength)))
            bytes += payload(of: seq)
        }
        bytes += headerBytes(MessageHeader(kind: .end, sequence: UInt32(messageCount), payloadLength: 0))
        return bytes
    }()

    @Test("50 requests split at every chunk size from 1 byte to the whole stream come out whole and in order")
    func everyChunkSize() throws {
        let stream = Self.stream
        #expect(stream.count == Self.messageCount * (12 + Self.payloadLength) + 12)
        for chunk in 1...stream.count {
            var parser = RequestStreamParser(payloadLength: UInt32(Self.payloadLength))
            var headers: [MessageHeader] = []
            var payloads: [[UInt8]] = []
            var current: [UInt8] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunk, stream.count)
                try stream[offset..<end].withUnsafeBytes { b in
                    try parser.consume(b, onPayload: { current += $0 }, onMessage: { h in
                        headers.append(h)
                        payloads.append(current)
                        current = []
                    })
                }
                offset = end
            }
            try #require(headers.count == Self.messageCount + 1, "chunk size \(chunk): \(headers.count) messages")
            for seq in 0..<Self.messageCount {
                #expect(headers[seq].kind == .data && headers[seq].sequence == UInt32(seq), "chunk \(chunk), message \(seq): \(headers[seq])")
                #expect(headers[seq].ackRequested == (seq % 3 == 0), "chunk \(chunk), message \(seq)")
                #expect(payloads[seq] == Self.payload(of: seq), "chunk \(chunk), message \(seq)")
            }
            #expect(headers.last?.kind == .end)
            #expect(payloads.last == [])
            #expect(parser.messages == UInt64(Self.messageCount), "chunk \(chunk)")
            #expect(parser.payloadBytes == UInt64(Self.messageCount * Self.payloadLength), "chunk \(chunk)")
            #expect(parser.expectedSequence == UInt32(Self.messageCount))
            #expect(parser.isAtBoundary, "chunk \(chunk)")
        }
    }

    @Test("mid-message the parser is not at a boundary")
    func boundary() throws {
        for cut in [1, 11, 12, 13, 18] {
            var parser = RequestStreamParser(payloadLength: UInt32(Self.payloadLength))
            try Self.stream[0..<cut].withUnsafeBytes { b in try parser.consume(b, onPayload: { _ in }, onMessage: { _ in }) }
            #expect(!parser.isAtBoundary, "after \(cut) bytes")
        }
        var parser = RequestStreamParser(payloadLength: UInt32(Self.payloadLength))
        try Self.stream[0..<19].withUnsafeBytes { b in try parser.consume(b, onPayload: { _ in }, onMessage: { _ in }) }
        #expect(parser.isAtBoundary)
    }

    enum Feed: CaseIterable { case whole, byteByByte }

    /// Feeds `bytes` and returns the sequence numbers delivered and the error thrown, if any.
    static func feed(_ bytes: [UInt8], payloadLength: UInt32, _ how: Feed) -> (delivered: [UInt32], error: ProtocolError?) {
        var parser = RequestStreamParser(payloadLength: payloadLength)
        var delivered: [UInt32] = []
        do {
            switch how {
            case .whole:
                try bytes.withUnsafeBytes { b in
                    try parser.consume(b, onPayload: { _ in }, onMessage: { delivered.append($0.sequence) })
                }
            case .byteByByte:
                for byte in bytes {
                    try [byte].withUnsafeBytes { b in
                        try parser.consume(b, onPayload: { _ in }, onMessage: { delivered.append($0.sequence) })
                    }
                }
            }
        } catch {
            return (delivered, error as? ProtocolError)
        }
        return (delivered, nil)
    }

    static func data(_ seq: UInt32, length: UInt32 = 7) -> [UInt8] {
        headerBytes(MessageHeader(kind: .data, sequence: seq, payloadLength: length)) + [UInt8](repeating: 0x5A, count: Int(length))
    }

    @Test("a request out of sequence is refused; the ones before it are delivered", arguments: Feed.allCases)
    func outOfSequence(how: Feed) {
        let result = Self.feed(Self.data(0) + Self.data(1) + Self.data(3) + Self.data(4), payloadLength: 7, how)
        #expect(result.delivered == [0, 1])
        #expect(result.error == .malformed("request sequence 3 where 2 was expected"))
    }

    @Test("a request whose payload length differs from the negotiated one is refused", arguments: Feed.allCases)
    func wrongPayloadLength(how: Feed) {
        let result = Self.feed(Self.data(0) + Self.data(1, length: 8), payloadLength: 7, how)
        #expect(result.delivered == [0])
        #expect(result.error == .malformed("request of 8 payload bytes in a test negotiated for 7"))
    }

    @Test("an unknown message type is refused", arguments: Feed.allCases)
    func unknownType(how: Feed) {
        var bad = Self.data(1)
        bad[0] = 9
        let result = Self.feed(Self.data(0) + bad, payloadLength: 7, how)
        #expect(result.delivered == [0])
        #expect(result.error == .malformed("unknown message type 9"))
    }

    @Test("an end message carrying payload is refused", arguments: Feed.allCases)
    func endWithPayload(how: Feed) {
        let end = headerBytes(MessageHeader(kind: .end, sequence: 1, payloadLength: 3)) + [1, 2, 3]
        let result = Self.feed(Self.data(0) + end, payloadLength: 7, how)
        #expect(result.delivered == [0])
        #expect(result.error == .malformed("end message carries 3 payload bytes"))
    }

    @Test("4-byte replies split at every offset, and byte by byte, come out whole")
    func repliesSplitAnywhere() {
        let sequences: [UInt32] = [0, 1, 255, 256, 65_536, 0xDEAD_BEEF, UInt32.max, 42]
        var stream: [UInt8] = []
        for s in sequences { stream += [UInt8(s >> 24), UInt8(truncatingIfNeeded: s >> 16), UInt8(truncatingIfNeeded: s >> 8), UInt8(truncatingIfNeeded: s)] }
        #expect(stream.count == sequences.count * WireProtocol.replySize)
        for cut in 0...stream.count {
            var parser = ReplyStreamParser()
            var got: [UInt32] = []
            stream[0..<cut].withUnsafeBytes { b in parser.consume(b) { got.append($0) } }
            #expect(got.count == cut / 4, "after \(cut) bytes")
            #expect(parser.isAtBoundary == (cut % 4 == 0), "after \(cut) bytes")
            #expect(parser.bytesNeeded == 4 - cut % 4, "after \(cut) bytes")
            stream[cut...].withUnsafeBytes { b in parser.consume(b) { got.append($0) } }
            #expect(got == sequences, "split at \(cut)")
        }
        var parser = ReplyStreamParser()
        var got: [UInt32] = []
        for byte in stream { [byte].withUnsafeBytes { b in parser.consume(b) { got.append($0) } } }
        #expect(got == sequences)
    }
}
