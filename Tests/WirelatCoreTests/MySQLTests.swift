import Testing
import WirelatCore

/// A HandshakeV10 as MariaDB 10.11 sends it (its fields written out; the scramble is 1…20).
private func mariadbGreeting(plugin: String = "mysql_native_password", connectionID: UInt8 = 42) -> [UInt8] {
    var p: [UInt8] = [10]                                              // protocol version 10
    p += Array("5.5.5-10.11.14-MariaDB-0+deb12u2".utf8) + [0]          // server version
    p += [connectionID, 0, 0, 0]                                        // connection id
    p += [1, 2, 3, 4, 5, 6, 7, 8] + [0]                                 // auth-plugin-data part 1, filler
    p += [0xfe, 0xf7]                                                   // capabilities, low 16 bits
    p += [0x2d]                                                         // character set utf8mb4_general_ci
    p += [0x02, 0x00]                                                   // status: autocommit
    p += [0xff, 0x81]                                                   // capabilities, high 16 bits
    p += [21]                                                           // auth-plugin-data length
    p += [0, 0, 0, 0, 0, 0] + [0x1d, 0, 0, 0]                           // reserved; MariaDB's extended capabilities
    p += [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0]             // auth-plugin-data part 2 (13 bytes)
    p += Array(plugin.utf8) + [0]
    return MySQL.packet(sequence: 0, payload: p)
}

private let scramble: [UInt8] = Array(1...20)

@Suite struct MySQLTests {
    @Test func nativePasswordAgainstPython() throws {
        // python3: s1=sha1(b'secret'); s2=sha1(s1); m=sha1(bytes(range(1,21))+s2); s1 XOR m
        //        = b32bb3a583e1340c0a1108d58b1be49781ad8c2f
        #expect(MySQL.nativePasswordResponse(password: Array("secret".utf8), scramble: scramble)
            == probeHex("b32bb3a583e1340c0a1108d58b1be49781ad8c2f"))
        #expect(MySQL.nativePasswordResponse(password: [], scramble: scramble) == [])
    }

    @Test func commandsByteExact() throws {
        #expect(MySQL.comPing == probeHex("010000 00 0e"))
        #expect(MySQL.comQuit == probeHex("010000 00 01"))
    }

    @Test func greetingFedByteByByte() throws {
        let bytes = mariadbGreeting()
        var reader = MySQLGreetingReader()
        for b in bytes.dropLast() { #expect(try reader.receive([b]) == nil) }
        let g = try #require(try reader.receive([bytes.last!]))
        #expect(g.protocolVersion == 10)
        #expect(g.serverVersion == "5.5.5-10.11.14-MariaDB-0+deb12u2")
        #expect(g.displayVersion == "10.11.14-MariaDB-0+deb12u2")
        #expect(g.connectionID == 42)
        #expect(g.scramble == scramble)
        #expect(g.authPluginName == "mysql_native_password")
        #expect(g.characterSet == 0x2d)
        #expect(g.capabilities & MySQL.Capability.protocol41 != 0)
        #expect(g.description == "10.11.14-MariaDB-0+deb12u2, connection id 42, auth mysql_native_password")
    }

    /// Read from MariaDB 10.11.19 (Debian 12) on 127.0.0.1 with a plain socket.
    static let realGreeting = probeHex("""
        640000 00                                  // payload 100 bytes, sequence 0
        0a                                         // protocol 10
        352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531 00  // 5.5.5-10.11.19-MariaDB-0+deb12u1\\0
        f2030000                                   // connection id 1010
        24644f3f2d612223 00                        // scramble part 1, filler
        fef7 08 0200 ff81 15                       // capabilities low, latin1, status, capabilities high, auth data length 21
        000000000000 1d000000                      // reserved, MariaDB extended capabilities
        28414d3f327c3c5470584638 00                // scramble part 2 + NUL
        6d7973716c5f6e61746976655f70617373776f726400   // mysql_native_password\\0
        """)

    @Test func realGreetingByteByByteAndTruncated() throws {
        let bytes = Self.realGreeting
        var reader = MySQLGreetingReader()
        for b in bytes.dropLast() { #expect(try reader.receive([b]) == nil) }
        let g = try #require(try reader.receive([bytes.last!]))
        #expect(g.displayVersion == "10.11.19-MariaDB-0+deb12u1" && g.connectionID == 1010 && g.characterSet == 8)
        #expect(g.scramble == Array("$dO?-a\"#(AM?2|<TpXF8".utf8))
        #expect(g.authPluginName == "mysql_native_password")
        for n in 0..<bytes.count {
            var partial = MySQLGreetingReader()
            #expect(try partial.receive(Array(bytes.prefix(n))) == nil)
        }
    }

    @Test func greetingTruncatedAtEveryOffsetNeverCrashes() throws {
        let bytes = mariadbGreeting()
        for n in 5..<bytes.count {
            // A packet whose header claims fewer bytes than the fields need.
            var payload = Array(bytes[4..<n])
            payload[0] = 10
            var reader = MySQLGreetingReader()
            do { _ = try reader.receive(MySQL.packet(sequence: 0, payload: payload)) } catch {}
        }
    }

    @Test func greetingERRIsTheServersLine() throws {
        // ER_HOST_IS_BLOCKED at the greeting: no SQL state (protocol 4.1 not negotiated yet).
        let message = "Host '127.0.0.1' is blocked because of many connection errors; unblock with 'mariadb-admin flush-hosts'"
        let err = MySQL.packet(sequence: 0, payload: [0xff, 0x69, 0x04] + Array(message.utf8))
        var reader = MySQLGreetingReader()
        do {
            _ = try reader.receive(err)
            Issue.record("no error")
        } catch {
            #expect(error.kind == .refused)
            #expect(error.description == "ERROR 1129: \(message)")
        }
    }

    @Test func otherProtocolsAreNamedAtOnce() throws {
        for (text, quoted) in [("HTTP/1.1 400 Bad Request\r\n", "HTTP/1.1 400 Bad Request"), ("-ERR unknown command 'x'\r\n", "-ERR unknown command 'x'"),
                               ("+PONG\r\n", "+PONG"), ("SSH-2.0-OpenSSH_9.2p1\r\n", "SSH-2.0-OpenSSH_9.2p1")] {
            var reader = MySQLGreetingReader()
            do {
                _ = try reader.receive(Array(text.utf8))
                Issue.record("\(text) read as MySQL")
            } catch {
                #expect(error.description == "answered `\(quoted)`: not MySQL")
            }
        }
        // Byte by byte: decided at the fifth byte.
        var reader = MySQLGreetingReader()
        let http = Array("HTTP/1.1 200 OK\r\n".utf8)
        for b in http.prefix(4) { #expect(try reader.receive([b]) == nil) }
        #expect(throws: DatabaseAnswerError.self) { _ = try reader.receive([http[4]]) }
    }

    @Test func handshakeResponseByteExact() throws {
        var reader = MySQLGreetingReader()
        let g = try #require(try reader.receive(mariadbGreeting()))
        let auth = MySQL.nativePasswordResponse(password: Array("secret".utf8), scramble: g.scramble)
        let response = MySQL.handshakeResponse(greeting: g, user: "probe", authResponse: auth, database: "test")
        #expect(response == probeHex("""
            560000 01                          // payload 86 bytes, sequence 1
            0da20800                           // capabilities: long password, long flag, with db, 4.1, transactions, secure connection, plugin auth
            00000001                           // max packet 16 MiB
            2d                                 // character set, as the server's
            0000000000000000000000000000000000000000000000   // 23 zero bytes
            70726f626500                       // probe\\0
            14 b32bb3a583e1340c0a1108d58b1be49781ad8c2f       // auth response, 20 bytes
            7465737400                         // test\\0
            6d7973716c5f6e61746976655f70617373776f726400     // mysql_native_password\\0
            """))
    }

    @Test func loginOK() throws {
        var login = MySQLLogin(user: "probe", password: Array("secret".utf8), database: nil)
        let greeting = mariadbGreeting()
        var step = DatabaseLoginStep.needMore
        for b in greeting { step = try login.receive([b]) }
        guard case .send(let response) = step else {
            Issue.record("no handshake response")
            return
        }
        #expect(response[3] == 1)
        #expect(login.greeting?.connectionID == 42)
        let ok = MySQL.packet(sequence: 2, payload: [0, 0, 0, 2, 0, 0, 0])
        #expect(try login.receive(ok) == .ready)
    }

    @Test func loginAuthSwitch() throws {
        var login = MySQLLogin(user: "probe", password: Array("secret".utf8), database: nil)
        _ = try login.receive(mariadbGreeting(plugin: "ed25519"))
        let newScramble: [UInt8] = Array(21...40)
        let switchRequest = MySQL.packet(sequence: 2, payload: [0xfe] + Array("mysql_native_password".utf8) + [0] + newScramble + [0])
        let step = try login.receive(switchRequest)
        #expect(step == .send(MySQL.packet(sequence: 3, payload: MySQL.nativePasswordResponse(password: Array("secret".utf8), scramble: newScramble))))
        #expect(try login.receive(MySQL.packet(sequence: 4, payload: [0, 0, 0, 2, 0, 0, 0])) == .ready)
    }

    @Test func loginRefusals() throws {
        var login = MySQLLogin(user: "probe", password: Array("wrong".utf8), database: nil)
        _ = try login.receive(mariadbGreeting())
        let denied = MySQL.packet(sequence: 2, payload: [0xff, 0x15, 0x04] + Array("#28000Access denied for user 'probe'@'localhost' (using password: YES)".utf8))
        do {
            _ = try login.receive(denied)
            Issue.record("no error")
        } catch {
            #expect(error.description == "ERROR 1045 (28000): Access denied for user 'probe'@'localhost' (using password: YES)")
        }
        var other = MySQLLogin(user: "probe", password: Array("secret".utf8), database: nil)
        _ = try other.receive(mariadbGreeting())
        #expect(throws: DatabaseAnswerError.self) {
            _ = try other.receive(MySQL.packet(sequence: 2, payload: [0xfe] + Array("caching_sha2_password".utf8) + [0] + scramble + [0]))
        }
    }

    @Test func sessionDialogueOpening() throws {
        var dialogue = MySQLSessionDialogue(user: "probe", password: Array("secret".utf8), database: nil)
        #expect(dialogue.startOpening() == .receive)
        let greeting = mariadbGreeting()
        guard case .send(let response) = dialogue.continueOpening(greeting).next else {
            Issue.record("no HandshakeResponse41")
            return
        }
        #expect(Array(response.suffix(42).prefix(20)) == MySQL.nativePasswordResponse(password: Array("secret".utf8), scramble: scramble))
        #expect(dialogue.continueOpening(MySQL.packet(sequence: 2, payload: [0, 0, 0, 2, 0, 0, 0])) == (11, .open))
        #expect(dialogue.request(index: 0) == MySQL.comPing && dialogue.closing() == MySQL.comQuit)
    }

    @Test func greetingParserCountsAnERRGreetingAsAnErrorAnswer() throws {
        var parser = MySQLGreetingParser()
        let err = MySQL.packet(sequence: 0, payload: [0xff, 0x10, 0x04] + Array("Too many connections".utf8))
        #expect(parser.consume(err) == .complete(AppAnswer("ERROR 1040: Too many connections", isError: true), consumed: err.count))
        var http = MySQLGreetingParser()
        #expect(http.consume(Array("HTTP/1.1 400 Bad Request\r\n".utf8)) == .wrongProtocol("answered `HTTP/1.1 400 Bad Request`: not MySQL"))
    }

    @Test func pingExchange() throws {
        var exchange = MySQLPingExchange()
        #expect(exchange.request == MySQL.comPing)
        let ok = probeHex("070000 01 00 00 00 0200 0000")
        for b in ok.dropLast() { #expect(try exchange.receive([b]) == nil) }
        #expect(try exchange.receive([ok.last!]) == "OK")
        #expect(throws: DatabaseAnswerError.self) { _ = try exchange.receive(probeHex("010000 01 05")) }
    }
}

/// Random bytes, from a fixed seed (xorshift64*), for the robustness tests of the database parsers.
struct DatabaseFuzzBytes {
    var state: UInt64

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 2_685_821_657_736_338_717
    }

    /// `count` random bytes whose first byte is one of `firsts`, so the parser gets past its first check.
    mutating func bytes(count: Int, firsts: [UInt8]) -> [UInt8] {
        var out = (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
        if !out.isEmpty, !firsts.isEmpty { out[0] = firsts[Int(next() % UInt64(firsts.count))] }
        return out
    }
}

@Suite struct DatabaseParserRobustnessTests {
    /// Thousands of random answers, whole and byte by byte: every parser ends in a verdict
    /// or waits, and never traps.
    @Test func randomAnswersNeverTrap() throws {
        var random = DatabaseFuzzBytes(state: 0x9e37_79b9_7f4a_7c15)
        for round in 0..<3000 {
            let count = Int(random.next() % 160)
            let pg = random.bytes(count: count, firsts: Array("RSKZENIDCTv".utf8))
            var login = PostgresLogin(user: "u", database: nil, password: Array("p".utf8), clientNonce: "abc")
            _ = try? login.receive(pg)
            var exchange = PostgresQueryExchange()
            _ = try? exchange.receive(pg)
            _ = try? PostgresSSLAnswer.parse(pg)
            _ = try? PostgresErrorFields(body: pg)
            var greeting = random.bytes(count: count, firsts: [])
            if greeting.count >= 5 {
                greeting[0] = UInt8(truncatingIfNeeded: greeting.count - 4)
                greeting[1] = 0
                greeting[2] = 0
                greeting[3] = 0
                greeting[4] = round % 2 == 0 ? 10 : 0xff
            }
            var reader = MySQLGreetingReader()
            _ = try? reader.receive(greeting)
            var mysql = MySQLLogin(user: "u", password: Array("p".utf8), database: "d")
            for b in greeting { _ = try? mysql.receive([b]) }
            var ping = MySQLPingExchange()
            _ = try? ping.receive(greeting)
        }
    }
}
