import Testing
import WirelatCore

/// A backend message: type, length, body.
private func backend(_ type: Character, _ body: [UInt8]) -> [UInt8] {
    Postgres.message(type: type.asciiValue!, body: body)
}

/// An ErrorResponse body with the fields PostgreSQL 15 sends first.
private func errorBody(_ severity: String, _ code: String, _ message: String) -> [UInt8] {
    var b: [UInt8] = []
    for (field, value) in [("S", severity), ("V", severity), ("C", code), ("M", message), ("F", "auth.c"), ("L", "326"), ("R", "auth_failed")] {
        b.append(Character(field).asciiValue!)
        b += Array(value.utf8) + [0]
    }
    return b + [0]
}

@Suite struct PostgresTests {
    @Test func sslRequestIsEightBytes() throws {
        // Int32 8, Int32 80877103 = 0x04d2162f.
        #expect(Postgres.sslRequest() == probeHex("0000 0008 04d2 162f"))
    }

    @Test func gssEncRequestAndAnswers() throws {
        // Int32 8, Int32 80877104 = 0x04d21630.
        #expect(Postgres.gssEncRequest() == probeHex("0000 0008 04d2 1630"))
        #expect(try PostgresSSLAnswer.parse([UInt8(ascii: "G")], request: .gss) == .gssWilling)
        #expect(try PostgresSSLAnswer.parse([UInt8(ascii: "N")], request: .gss) == .unwilling)
        #expect(throws: DatabaseAnswerError.self) { try PostgresSSLAnswer.parse([UInt8(ascii: "G")], request: .ssl) }
        var parser = PostgresSSLAnswerParser(request: .gss)
        #expect(parser.consume([UInt8(ascii: "G")]) == .complete(AppAnswer("G (GSSAPI encryption available)"), consumed: 1))
    }

    @Test func sessionDialogueOpening() throws {
        var dialogue = PostgresSessionDialogue(user: "trustuser", database: "postgres", password: nil, nonce: { "n" })
        guard case .send(let startup) = dialogue.startOpening() else {
            Issue.record("no StartupMessage")
            return
        }
        #expect(startup == PostgresLogin(user: "trustuser", database: "postgres", password: nil, clientNonce: "n").startupMessage)
        let ok = backend("R", [0, 0, 0, 0]) + backend("Z", [UInt8(ascii: "I")])
        #expect(dialogue.continueOpening(Array(ok.prefix(3))) == (3, .receive))
        #expect(dialogue.continueOpening(Array(ok.dropFirst(3))) == (ok.count - 3, .open))
        #expect(dialogue.request(index: 7) == Postgres.query(""))
        #expect(dialogue.closing() == Postgres.terminate)
        var refused = PostgresSessionDialogue(user: "x", database: nil, password: Array("bad".utf8), nonce: { "n" })
        _ = refused.startOpening()
        let fatal = backend("E", errorBody("FATAL", "28P01", "password authentication failed for user \"x\""))
        #expect(refused.continueOpening(fatal) == (fatal.count, .failed("refused the login: FATAL 28P01 password authentication failed for user \"x\"")))
        var other = PostgresSessionDialogue(user: "x", database: nil, password: nil, nonce: { "n" })
        _ = other.startOpening()
        let http = Array("HTTP/1.1 400 Bad Request\r\n\r\n".utf8)
        #expect(other.continueOpening(http) == (http.count, .failed("answered `HTTP/1.1 400 Bad Request`: not PostgreSQL")))
    }

    @Test func queryParserFatalClosesTheSession() throws {
        var parser = PostgresQueryParser()
        let fatal = backend("E", errorBody("FATAL", "57P01", "terminating connection due to administrator command"))
        #expect(parser.consume(fatal) == .complete(AppAnswer("FATAL 57P01 terminating connection due to administrator command", isError: true, serverCloses: true),
                                                  consumed: fatal.count))
    }

    @Test func startupMessageByteExact() throws {
        let login = PostgresLogin(user: "u", database: nil, password: nil, clientNonce: "n")
        #expect(login.startupMessage == probeHex("""
            0000 0034                 // length 52
            0003 0000                 // protocol 3.0
            7573 6572 00 75 00        // user\\0 u\\0
            6461 7461 6261 7365 00 75 00   // database\\0 u\\0 (defaults to the user)
            6170 706c 6963 6174 696f 6e5f 6e61 6d65 00   // application_name\\0
            7769 7265 6c61 7400       // wirelat\\0
            00                        // end of parameters
            """))
    }

    @Test func queryAndTerminateByteExact() throws {
        #expect(Postgres.query("") == probeHex("51 0000 0005 00"))
        #expect(Postgres.query("SELECT 1") == probeHex("51 0000 000d 5345 4c45 4354 2031 00"))
        #expect(Postgres.terminate == probeHex("58 0000 0004"))
    }

    @Test func sslAnswers() throws {
        #expect(try PostgresSSLAnswer.parse([]) == nil)
        #expect(try PostgresSSLAnswer.parse([UInt8(ascii: "N")]) == .unwilling)
        #expect(try PostgresSSLAnswer.parse([UInt8(ascii: "S")]) == .willing)
        // A protocol-3 ErrorResponse, fed byte by byte.
        let e = backend("E", errorBody("FATAL", "0A000", "unsupported frontend protocol 1234.5679"))
        for n in 1..<e.count { #expect(try PostgresSSLAnswer.parse(Array(e.prefix(n))) == nil) }
        #expect(try PostgresSSLAnswer.parse(e) == .error("FATAL 0A000 unsupported frontend protocol 1234.5679"))
        // A protocol-2 one: `E` and a C string.
        let old = Array("EFATAL:  unsupported frontend protocol\n".utf8) + [0]
        #expect(try PostgresSSLAnswer.parse(old) == .error("FATAL:  unsupported frontend protocol"))
    }

    @Test func sslAnswerFromOtherProtocols() throws {
        #expect(throws: DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: Array("HTTP/1.1 400 Bad Request\r\n".utf8))) {
            try PostgresSSLAnswer.parse(Array("HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n".utf8))
        }
        do {
            _ = try PostgresSSLAnswer.parse(Array("HTTP/1.1 400 Bad Request\r\n".utf8))
            Issue.record("HTTP read as PostgreSQL")
        } catch {
            #expect(error.description == "answered `HTTP/1.1 400 Bad Request`: not PostgreSQL")
            #expect(error.kind == .notProtocol)
        }
        #expect(throws: DatabaseAnswerError.self) { try PostgresSSLAnswer.parse(Array("-ERR unknown command\r\n".utf8)) }
        // An SSH banner starts with `S`: more than one byte is not PostgreSQL.
        #expect(throws: DatabaseAnswerError.self) { try PostgresSSLAnswer.parse(Array("SSH-2.0-OpenSSH_9.2p1\r\n".utf8)) }
    }

    @Test func probeLines() throws {
        #expect(DatabaseAnswerError(notProtocol: "PostgreSQL", quoting: [0x16, 0x03, 0x01, 0x41]).probeLine == "answered `\\x16\\x03\\x01A`: not PostgreSQL")
        #expect(DatabaseAnswerError(.refused, "FATAL 28P01 x").probeLine == "refused the login: FATAL 28P01 x")
    }

    @Test func errorFieldsOneLine() throws {
        let fields = try PostgresErrorFields(body: errorBody("FATAL", "28P01", "password authentication failed for user \"x\""))
        #expect(fields.description == "FATAL 28P01 password authentication failed for user \"x\"")
        #expect(throws: DecodeError.self) { try PostgresErrorFields(body: Array("SFATAL".utf8)) }
    }

    @Test func md5PasswordText() throws {
        // python3: hashlib.md5(hashlib.md5(b'pencil'+b'user').hexdigest().encode()+bytes([1,2,3,4])).hexdigest()
        let text = Postgres.md5PasswordText(user: "user", password: Array("pencil".utf8), salt: [1, 2, 3, 4])
        #expect(String(decoding: text, as: UTF8.self) == "md54376eb6913b38f9aaff38dc7cf19ca76")
    }

    @Test func readerSplitsMessagesFedByteByByte() throws {
        let stream = backend("R", [0, 0, 0, 0]) + backend("S", Array("server_version\u{0}15.14\u{0}".utf8))
            + backend("K", [0, 0, 0x30, 0x39, 1, 2, 3, 4]) + backend("Z", [UInt8(ascii: "I")])
        var reader = PostgresMessageReader()
        var types: [Character] = []
        for b in stream {
            reader.append([b])
            while let m = try reader.next() { types.append(m.typeCharacter) }
        }
        #expect(types == ["R", "S", "K", "Z"])
        #expect(reader.pendingCount == 0)
    }

    @Test func readerRejectsOtherProtocols() throws {
        for text in ["HTTP/1.1 400 Bad Request\r\n", "+PONG\r\n", "-NOAUTH Authentication required.\r\n"] {
            var reader = PostgresMessageReader()
            reader.append(Array(text.utf8))
            #expect(throws: DatabaseAnswerError.self) { _ = try reader.next() }
        }
    }

    @Test func trustLoginFedByteByByte() throws {
        var login = PostgresLogin(user: "trustuser", database: "postgres", password: nil, clientNonce: "x")
        let stream = backend("R", [0, 0, 0, 0]) + backend("S", Array("server_version\u{0}15.14 (Debian)\u{0}".utf8))
            + backend("K", [0, 0, 0x30, 0x39, 1, 2, 3, 4]) + backend("Z", [UInt8(ascii: "I")])
        var steps: [DatabaseLoginStep] = []
        for b in stream { steps.append(try login.receive([b])) }
        #expect(steps.dropLast().allSatisfy { $0 == .needMore })
        #expect(steps.last == .ready)
        #expect(login.authenticationMethod == "trust")
        #expect(login.serverVersion == "15.14 (Debian)")
        #expect(login.backendProcessID == 12345)
    }

    /// PostgreSQL 15.18 (Debian 12) answering a StartupMessage for a trust user, read with a plain socket.
    static let realTrustLogin = probeHex("""
        52 00000008 00000000                                         // AuthenticationOk
        53 00000016 6170706c69636174696f6e5f6e616d6500 00            // ParameterStatus application_name ""
        53 00000019 636c69656e745f656e636f64696e6700 5554463800      // client_encoding UTF8
        53 00000017 446174655374796c6500 49534f2c204d445900          // DateStyle ISO, MDY
        53 00000026 64656661756c745f7472616e73616374696f6e5f726561645f6f6e6c7900 6f666600
        53 00000017 696e5f686f745f7374616e64627900 6f666600
        53 00000019 696e74656765725f6461746574696d657300 6f6e00
        53 0000001b 496e74657276616c5374796c6500 706f73746772657300
        53 00000015 69735f737570657275736572 00 6f666600
        53 00000019 7365727665725f656e636f64696e6700 5554463800
        53 00000032 7365727665725f76657273696f6e00 31352e3138202844656269616e2031352e31382d302b646562313275312900   // server_version
        53 00000024 73657373696f6e5f617574686f72697a6174696f6e00 747275737475736572 00
        53 00000023 7374616e646172645f636f6e666f726d696e675f737472696e677300 6f6e00
        53 00000015 54696d655a6f6e6500 4574632f55544300
        4b 0000000c 000027a4 2f4a7993                                // BackendKeyData pid 10148
        5a 00000005 49                                               // ReadyForQuery idle
        """)

    @Test func realTrustLoginByteByByteAndTruncated() throws {
        let bytes = Self.realTrustLogin
        var login = PostgresLogin(user: "trustuser", database: "postgres", password: nil, clientNonce: "x")
        for b in bytes.dropLast() { #expect(try login.receive([b]) == .needMore) }
        #expect(try login.receive([bytes.last!]) == .ready)
        #expect(login.serverVersion == "15.18 (Debian 15.18-0+deb12u1)" && login.backendProcessID == 10148)
        for n in 0..<bytes.count {
            var partial = PostgresLogin(user: "trustuser", database: "postgres", password: nil, clientNonce: "x")
            #expect(try partial.receive(Array(bytes.prefix(n))) == .needMore)
        }
        // The same server's answer for a SCRAM user: AuthenticationSASL offering SCRAM-SHA-256 alone (no TLS, no -PLUS).
        let sasl = probeHex("52 00000017 0000000a 534352414d2d5348412d323536 00 00")
        var scram = PostgresLogin(user: "scramuser", database: "postgres", password: Array("pencil".utf8), clientNonce: "abc")
        #expect(try scram.receive(sasl) == .send(Postgres.saslInitialResponse(mechanism: "SCRAM-SHA-256", data: Array("n,,n=,r=abc".utf8))))
    }

    @Test func md5Login() throws {
        var login = PostgresLogin(user: "user", database: nil, password: Array("pencil".utf8), clientNonce: "x")
        let step = try login.receive(backend("R", [0, 0, 0, 5, 1, 2, 3, 4]))
        #expect(step == .send(Postgres.passwordMessage(Array("md54376eb6913b38f9aaff38dc7cf19ca76".utf8))))
        #expect(try login.receive(backend("R", [0, 0, 0, 0]) + backend("Z", [UInt8(ascii: "I")])) == .ready)
        #expect(login.authenticationMethod == "md5")
    }

    @Test func authFailureIsTheServersLine() throws {
        var login = PostgresLogin(user: "x", database: nil, password: Array("wrong".utf8), clientNonce: "x")
        do {
            _ = try login.receive(backend("E", errorBody("FATAL", "28P01", "password authentication failed for user \"x\"")))
            Issue.record("no error")
        } catch {
            #expect(error.kind == .refused)
            #expect(error.description == "FATAL 28P01 password authentication failed for user \"x\"")
        }
    }

    @Test func cleartextAndMissingPasswordAreRefused() throws {
        var login = PostgresLogin(user: "x", database: nil, password: Array("p".utf8), clientNonce: "x")
        #expect(throws: DatabaseAnswerError.self) { _ = try login.receive(backend("R", [0, 0, 0, 3])) }
        var noPassword = PostgresLogin(user: "x", database: nil, password: nil, clientNonce: "x")
        do {
            _ = try noPassword.receive(backend("R", [0, 0, 0, 5, 1, 2, 3, 4]))
            Issue.record("no error")
        } catch {
            #expect(error.description.contains("WIRELAT_PASSWORD"))
        }
    }

    @Test func readyBeforeAuthenticationIsMalformed() throws {
        var login = PostgresLogin(user: "x", database: nil, password: nil, clientNonce: "x")
        #expect(throws: DatabaseAnswerError.self) { _ = try login.receive(backend("Z", [UInt8(ascii: "I")])) }
    }

    @Test func emptyQueryExchange() throws {
        var exchange = PostgresQueryExchange()
        #expect(exchange.request == probeHex("51 0000 0005 00"))
        let answer = probeHex("49 0000 0004  5a 0000 0005 49")   // EmptyQueryResponse, ReadyForQuery idle
        for b in answer.dropLast() { #expect(try exchange.receive([b]) == nil) }
        #expect(try exchange.receive([answer.last!]) == .emptyQuery)
        // SELECT 1: RowDescription, DataRow, CommandComplete, ReadyForQuery.
        let select = backend("T", [0, 1] + Array("?column?".utf8) + [0] + Array(repeating: 0, count: 18))
            + backend("D", [0, 1, 0, 0, 0, 1, UInt8(ascii: "1")]) + backend("C", Array("SELECT 1".utf8) + [0])
            + backend("Z", [UInt8(ascii: "I")])
        #expect(try exchange.receive(select) == .command("SELECT 1"))
        // A FATAL (the server shutting down) ends the session: no ReadyForQuery follows.
        #expect(try exchange.receive(backend("E", errorBody("FATAL", "57P01", "terminating connection due to administrator command")))
            == .fatal("FATAL 57P01 terminating connection due to administrator command"))
    }

    // RFC 7677 §3: user "user", password "pencil".
    @Test func scramRFC7677Vector() throws {
        var client = SCRAMSHA256Client(user: "user", password: Array("pencil".utf8), clientNonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(String(decoding: client.clientFirstMessage, as: UTF8.self) == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        let final = try client.clientFinalMessage(serverFirst: Array(serverFirst.utf8))
        #expect(String(decoding: final, as: UTF8.self)
            == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        #expect(client.serverSignature.map(Base64.encode) == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        try client.verifyServerFinal(Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))
        #expect(throws: DatabaseAnswerError.self) {
            try client.verifyServerFinal(Array("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))
        }
        #expect(throws: DatabaseAnswerError.self) { try client.verifyServerFinal(Array("e=invalid-proof".utf8)) }
    }

    @Test func scramRejectsABadServerFirst() throws {
        var client = SCRAMSHA256Client(password: Array("pencil".utf8), clientNonce: "abc")
        for bad in ["r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "r=abc123,s=***,i=4096", "r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
                    "r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999", "r=abc123,i=4096"] {
            #expect(throws: DatabaseAnswerError.self) { _ = try client.clientFinalMessage(serverFirst: Array(bad.utf8)) }
        }
    }

    /// The SCRAM login as PostgreSQL runs it, with the RFC's nonces and salt (and the empty
    /// user name PostgreSQL expects): the proof and signature are recomputed for `n=`.
    @Test func scramLoginMessages() throws {
        var login = PostgresLogin(user: "user", database: nil, password: Array("pencil".utf8), clientNonce: "rOprNGfwEbeRWgbNEkqO")
        let sasl = backend("R", [0, 0, 0, 10] + Array("SCRAM-SHA-256-PLUS".utf8) + [0] + Array("SCRAM-SHA-256".utf8) + [0, 0])
        let first = try login.receive(sasl)
        #expect(first == .send(Postgres.saslInitialResponse(mechanism: "SCRAM-SHA-256", data: Array("n,,n=,r=rOprNGfwEbeRWgbNEkqO".utf8))))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        guard case .send(let finalMessage) = try login.receive(backend("R", [0, 0, 0, 11] + Array(serverFirst.utf8))) else {
            Issue.record("no client-final-message")
            return
        }
        var mirror = SCRAMSHA256Client(password: Array("pencil".utf8), clientNonce: "rOprNGfwEbeRWgbNEkqO")
        let expectedFinal = try mirror.clientFinalMessage(serverFirst: Array(serverFirst.utf8))
        #expect(finalMessage == Postgres.saslResponse(data: expectedFinal))
        let signature = Base64.encode(mirror.serverSignature!)
        let rest = backend("R", [0, 0, 0, 12] + Array("v=\(signature)".utf8)) + backend("R", [0, 0, 0, 0]) + backend("Z", [UInt8(ascii: "I")])
        #expect(try login.receive(rest) == .ready)
        #expect(login.authenticationMethod == "SCRAM-SHA-256")
    }

    @Test func scramLoginRefusesAServerWithoutTheSignature() throws {
        var login = PostgresLogin(user: "user", database: nil, password: Array("pencil".utf8), clientNonce: "abc")
        _ = try login.receive(backend("R", [0, 0, 0, 10] + Array("SCRAM-SHA-256".utf8) + [0, 0]))
        _ = try login.receive(backend("R", [0, 0, 0, 11] + Array("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8)))
        #expect(throws: DatabaseAnswerError.self) { _ = try login.receive(backend("R", [0, 0, 0, 0])) }
    }

    @Test func pbkdf2Vector() throws {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, first 32 bytes.
        let dk = SCRAMSHA256Client.hi(password: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1)
        #expect(dk == probeHex("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"))
    }

    @Test func base64RoundTrip() throws {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("biws".utf8)) == "Yml3cw==")
        #expect(Base64.encode(Array("n,,".utf8)) == "biws")
        #expect(Base64.decode("abc") == nil)
        #expect(Base64.decode("ab=c") == nil)
    }
}
