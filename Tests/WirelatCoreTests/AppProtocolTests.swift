import Foundation
import Testing
import WirelatCore

/// Feeds `bytes` to a fresh parser in one piece and one byte at a time; both must give the
/// same verdict, and the byte-by-byte verdict must come at the same byte count.
func parseBothWays<P: AppAnswerParser>(_ make: () -> P, _ bytes: [UInt8]) -> (whole: AppParse, byByte: AppParse, at: Int) {
    var p1 = make()
    let whole = p1.consume(bytes)
    var p2 = make()
    var verdict = AppParse.needMore
    var at = 0
    for (i, b) in bytes.enumerated() {
        verdict = p2.consume([b])
        at = i + 1
        if verdict != .needMore { break }
    }
    return (whole, verdict, at)
}

func answerText(_ v: AppParse) -> String? {
    if case .complete(let a, _) = v { return a.description }
    return nil
}

func isWrong(_ v: AppParse) -> Bool {
    if case .wrongProtocol = v { return true }
    return false
}

@Suite("Application protocols: requests byte for byte, parsers whole and byte by byte")
struct AppProtocolTests {
    @Test("redis: PING is the RESP array *1 $4 PING; +PONG, -NOAUTH and RESP values parse whole and byte by byte")
    func redis() {
        #expect(RedisDialogue().request(index: 0) == [0x2a, 0x31, 0x0d, 0x0a, 0x24, 0x34, 0x0d, 0x0a, 0x50, 0x49, 0x4e, 0x47, 0x0d, 0x0a])
        #expect(RedisDialogue().mode == .session && RedisDialogue().method.rawValue == "redis")
        let pong = parseBothWays({ RESPParser() }, Array("+PONG\r\n".utf8))
        #expect(pong.whole == .complete(AppAnswer("+PONG"), consumed: 7))
        #expect(pong.byByte == .complete(AppAnswer("+PONG"), consumed: 1) && pong.at == 7)
        let noauth = parseBothWays({ RESPParser() }, Array("-NOAUTH Authentication required.\r\n".utf8))
        #expect(noauth.whole == .complete(AppAnswer("-NOAUTH Authentication required.", isError: true), consumed: 34))
        #expect(answerText(noauth.byByte) == "-NOAUTH Authentication required.")
        // Bulk strings and arrays end where their lengths say, not at the first CRLF.
        let bulk = parseBothWays({ RESPParser() }, Array("$6\r\nfoo\r\nb\r\n".utf8))
        #expect(answerText(bulk.whole) == "$6" && bulk.at == 12)
        let array = parseBothWays({ RESPParser() }, Array("*2\r\n$1\r\na\r\n:5\r\n".utf8))
        #expect(answerText(array.whole) == "*2" && array.at == 15)
        var partial = RESPParser()
        #expect(partial.consume(Array("+PON".utf8)) == .needMore)
    }

    @Test("redis against another protocol: one line naming what came back")
    func redisWrongProtocol() {
        let http = parseBothWays({ RESPParser() }, Array("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n".utf8))
        #expect(http.whole == .wrongProtocol("answered `HTTP/1.1 400 Bad Request`: not Redis"))
        #expect(isWrong(http.byByte) && http.at == 1, "decided at the first byte")
        let tls = parseBothWays({ RESPParser() }, [0x16, 0x03, 0x01, 0x00, 0x2a])
        #expect(tls.whole == .wrongProtocol("answered `\\x16\\x03\\x01\\x00*`: not Redis"))
    }

    @Test("http: HEAD with Host and keep-alive, byte for byte; status line and headers parse whole and byte by byte")
    func http() {
        let d = HTTPDialogue(path: "/health", host: "db01:8080")
        #expect(String(decoding: d.request(index: 3), as: UTF8.self)
                == "HEAD /health HTTP/1.1\r\nHost: db01:8080\r\nUser-Agent: wirelat\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")
        let head = Array("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n".utf8)
        let r = parseBothWays({ HTTPResponseParser() }, head)
        #expect(r.whole == .complete(AppAnswer("HTTP/1.1 200 OK"), consumed: head.count))
        #expect(answerText(r.byByte) == "HTTP/1.1 200 OK" && r.at == head.count, "HEAD: no body is waited for, Content-Length or not")
        let closing = Array("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n".utf8)
        let close = parseBothWays({ HTTPResponseParser() }, closing)
        #expect(close.whole == .complete(AppAnswer("HTTP/1.1 503 Service Unavailable", serverCloses: true), consumed: closing.count))
        let old = parseBothWays({ HTTPResponseParser() }, Array("HTTP/1.0 200 OK\r\n\r\n".utf8))
        #expect(old.whole == .complete(AppAnswer("HTTP/1.0 200 OK", serverCloses: true), consumed: 19), "HTTP/1.0 closes unless it says keep-alive")
        // An interim 100 Continue is skipped.
        let interim = parseBothWays({ HTTPResponseParser() }, Array("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n".utf8))
        #expect(answerText(interim.whole) == "HTTP/1.1 204 No Content" && answerText(interim.byByte) == "HTTP/1.1 204 No Content")
    }

    @Test("http bodies (GET, or a server that sends one): Content-Length and chunked read to their end, bounded")
    func httpBodies() {
        let sized = Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".utf8)
        let s = parseBothWays({ HTTPResponseParser(expectsBody: true) }, sized)
        #expect(answerText(s.whole) == "HTTP/1.1 200 OK" && s.at == sized.count)
        let chunked = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n".utf8)
        let c = parseBothWays({ HTTPResponseParser(expectsBody: true) }, chunked)
        #expect(answerText(c.whole) == "HTTP/1.1 200 OK" && c.at == chunked.count, "ends after the trailer's empty line")
        #expect(c.byByte == .complete(AppAnswer("HTTP/1.1 200 OK"), consumed: 1))
        var big = HTTPResponseParser(expectsBody: true, bodyLimit: 100)
        #expect(isWrong(big.consume(Array("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".utf8))))
        // No length: the body runs to the close, and the close completes it.
        var untilClose = HTTPResponseParser(expectsBody: true)
        #expect(untilClose.consume(Array("HTTP/1.1 200 OK\r\n\r\nsome body".utf8)) == .needMore)
        #expect(untilClose.endOfStream() == .complete(AppAnswer("HTTP/1.1 200 OK", serverCloses: true), consumed: 0))
        #expect(HTTPResponseParser().endOfStream() == nil, "a close before the answer is the outcome 'closed'")
        var headers = HTTPResponseParser(headerLimit: 64)
        #expect(isWrong(headers.consume(Array(("HTTP/1.1 200 OK\r\n" + String(repeating: "X-A: b\r\n", count: 20)).utf8))))
    }

    @Test("http against redis and TLS: wrong protocol at the first byte that cannot start HTTP/")
    func httpWrongProtocol() {
        let redis = parseBothWays({ HTTPResponseParser() }, Array("-ERR unknown command 'HEAD'\r\n".utf8))
        #expect(redis.whole == .wrongProtocol("answered `-ERR unknown command 'HEAD'`: not HTTP"))
        #expect(isWrong(redis.byByte) && redis.at == 1)
        #expect(isWrong(parseBothWays({ HTTPResponseParser() }, Array("HTTP/2 200\r\n\r\n".utf8)).whole))
    }

    @Test("tcp send/expect: exact bytes, a count, a regex over Latin-1 bytes with CR LF as two characters")
    func sendExpect() throws {
        #expect(parseHex("2a 31:0D0a") == [0x2a, 0x31, 0x0d, 0x0a] && parseHex("0x00ff") == [0x00, 0xff])
        #expect(parseHex("abc") == nil && parseHex("zz") == nil && parseHex("") == nil)
        let d = SendExpectDialogue(payload: [0x00, 0x01, 0xff], expectation: .count(2), newConnection: true)
        #expect(d.request(index: 0) == [0x00, 0x01, 0xff], "sent as given: no newline appended")
        #expect(d.mode == .perConnection && d.method.rawValue == "tcp-send-expect")
        #expect(SendExpectDialogue(payload: [1], expectation: .count(1), newConnection: false).mode == .session)

        let exact = parseBothWays({ SendExpectParser(.bytes([0x2b, 0x4f, 0x4b, 0x0d, 0x0a])) }, [0x2b, 0x4f, 0x4b, 0x0d, 0x0a])
        #expect(answerText(exact.whole) == "5 bytes as expected" && exact.at == 5)
        let differs = parseBothWays({ SendExpectParser(.bytes([0x2b, 0x4f, 0x4b])) }, [0x2b, 0x4e, 0x4f])
        #expect(isWrong(differs.whole) && isWrong(differs.byByte) && differs.at == 2, "refused at the first differing byte")

        let count = parseBothWays({ SendExpectParser(.count(3)) }, [0, 0, 0, 9])
        #expect(count.whole == .complete(AppAnswer("3 bytes: 000000"), consumed: 3) && count.at == 3)

        let re = SendExpectDialogue.Expectation.regex(try SendableRegex(#"\+PONG\r\n"#), source: #"\+PONG\r\n"#, limit: 64)
        let matched = parseBothWays({ SendExpectParser(re) }, Array("+PONG\r\n".utf8))
        #expect(answerText(matched.whole) == "matched `+PONG`" && matched.at == 7)
        let latin1 = SendExpectDialogue.Expectation.regex(try SendableRegex(#"\xff\x00"#), source: #"\xff\x00"#, limit: 64)
        #expect(answerText(parseBothWays({ SendExpectParser(latin1) }, [0x41, 0xff, 0x00]).whole) != nil, "bytes above 0x7f match as Latin-1")
        var bounded = SendExpectParser(.regex(try SendableRegex("never"), source: "never", limit: 8))
        #expect(isWrong(bounded.consume([UInt8](repeating: 0x41, count: 20))), "gives up at the bound")
    }

    /// The CONNECT packet, computed by hand from Wireshark's layout.
    static let tnsPing: [UInt8] = [
        0x00, 0x57, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,   // length 87, packet checksum, type 1 CONNECT, flags, header checksum
        0x01, 0x3a, 0x01, 0x2c, 0x0c, 0x41,               // version 314, compatible 300, service options
        0x20, 0x00, 0x7f, 0xff, 0x7f, 0x08,               // SDU 8192, TDU 32767, NT protocol characteristics
        0x00, 0x00, 0x00, 0x01,                           // line turnaround 0, value of one
        0x00, 0x1d, 0x00, 0x3a, 0x00, 0x00, 0x08, 0x00,   // connect data length 29, offset 58, max receivable 2048
        0x00, 0x00,                                       // connect flags 0 and 1
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   // trace cross facility items 1 and 2
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   // trace unique connection id
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,   // reserved
    ] + Array("(CONNECT_DATA=(COMMAND=ping))".utf8)

    /// A REFUSE as a listener answers a ping: reasons 0x22 0x00, then the description.
    static func refuse(_ text: String) -> [UInt8] {
        let data = Array(text.utf8)
        let length = 12 + data.count
        return [UInt8(length >> 8), UInt8(length & 0xff), 0, 0, 4, 0, 0, 0, 0x22, 0x00, UInt8(data.count >> 8), UInt8(data.count & 0xff)] + data
    }

    @Test("tns: the CONNECT packet against hand-computed bytes; REFUSE, RESEND, ACCEPT parsed whole and byte by byte")
    func tns() {
        #expect(TNSDialogue().request(index: 0) == Self.tnsPing)
        #expect(TNSDialogue().mode == .perConnection)
        let answer = Self.refuse("(DESCRIPTION=(TMP=)(VSNNUM=318767104)(ERR=0)(ALIAS=LISTENER))")
        let r = parseBothWays({ TNSPacketParser() }, answer)
        let expected = AppAnswer("REFUSE 19.0.0.0.0 (VSNNUM=318767104) ERR=0 ALIAS=LISTENER")
        #expect(r.whole == .complete(expected, consumed: answer.count))
        #expect(r.byByte == .complete(expected, consumed: 1) && r.at == answer.count)
        let refused = Self.refuse("(DESCRIPTION=(ERR=12514)(VSNNUM=186647040)(ERROR_STACK=(ERROR=(CODE=12514)(EMFI=4))))")
        let failing = parseBothWays({ TNSPacketParser() }, refused)
        #expect(failing.whole == .complete(AppAnswer("REFUSE 11.2.0.2.0 (VSNNUM=186647040) ERR=12514", isError: true), consumed: refused.count))
        let resend = parseBothWays({ TNSPacketParser() }, [0x00, 0x08, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00])
        #expect(answerText(resend.whole) == "RESEND (the listener asks for the CONNECT again)")
        let accept: [UInt8] = [0x00, 0x20, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x3a] + [UInt8](repeating: 0, count: 22)
        #expect(answerText(parseBothWays({ TNSPacketParser() }, accept).whole) == "ACCEPT version 314")
    }

    @Test("tns: VSNNUM fields 8.4.8.4.8 bits, as Oracle prints the version")
    func vsnnum() {
        #expect(TNS.versionText(vsnnum: 318767104) == "19.0.0.0.0")
        #expect(TNS.versionText(vsnnum: 0x1330_0000) == "19.3.0.0.0")
        #expect(TNS.versionText(vsnnum: 186647040) == "11.2.0.2.0")
        #expect(TNS.versionText(vsnnum: 0x0C10_0200) == "12.1.0.2.0")
        #expect(TNS.versionText(vsnnum: 0x0A21_3405) == "10.2.19.4.5")
        #expect(TNS.value(of: "err", in: "(description=(err=0))") == "0")
        #expect(TNS.value(of: "VSNNUM", in: "(ERR=0)") == nil)
    }

    @Test("tns against HTTP and redis: not TNS, decided by the type byte")
    func tnsWrongProtocol() {
        let http = parseBothWays({ TNSPacketParser() }, Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8))
        #expect(http.whole == .wrongProtocol("answered `HTTP/1.1 400 Bad Request`: not an Oracle TNS listener"))
        #expect(isWrong(http.byByte) && http.at == 5)
        #expect(isWrong(parseBothWays({ TNSPacketParser() }, [0x00, 0x04, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00]).whole), "length below the header")
        var short = TNSPacketParser()
        #expect(short.consume([0x00, 0x57, 0x00]) == .needMore)
    }

    @Test("the app report: ProbeReport's keys plus the handshake apart and the counts")
    func report() throws {
        var ok = ProbeReply(seq: 0, outcome: .reply)
        ok.setClocks(wire: 20_000, app: 50_000)
        var err = ProbeReply(seq: 1, outcome: .errorReply)
        err.setClocks(wire: 22_000, app: 52_000)
        let closed = ProbeReply(seq: 2, outcome: .closed)
        var c0 = AppConnectSample(seq: 0, outcome: .connected)
        c0.wireRTTNanoseconds = 30_000
        c0.appRTTNanoseconds = 60_000
        var c1 = c0
        c1.seq = 2
        c1.reconnectReason = "the server closed the connection"
        let probe = ProbeReport(method: .redis, target: "127.0.0.1:6379", socket: "stream", replies: [ok, err, closed],
                                intervalNanoseconds: 1, timeoutNanoseconds: 1, durationNanoseconds: 1)
        let report = AppProbeReport(probe: probe, mode: .session, connections: [c0, c1], failure: nil)
        #expect(report.answered == 2 && report.errorAnswers == 1 && report.closes == 1 && report.reconnects == 1 && report.connects == 2)
        #expect(probe.samples == 2 && probe.wireRTT.map { $0.p50 >= 20_000 && $0.p50 <= 20_100 } == true)
        let data = try JSONEncoder().encode(report)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for key in ["command", "method", "target", "samples", "rtt_ns", "wire_rtt_ns", "app_rtt_ns", "connect_rtt_ns",
                    "connect_wire_rtt_ns", "connect_app_rtt_ns", "reconnects", "wrong_answers", "closes", "error_answers", "connections"] {
            #expect(object[key] != nil, "missing \(key)")
        }
        #expect(object["method"] as? String == "redis")
        #expect((object["connect_rtt_ns"] as? [String: Any])?["p50"] as? Int == 30_000)
        let back = try JSONDecoder().decode(AppProbeReport.self, from: data)
        #expect(back.connections == report.connections && back.reconnects == 1 && back.probe.replies == report.probe.replies)
    }
}
