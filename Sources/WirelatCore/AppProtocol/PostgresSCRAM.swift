import Crypto

/// The client side of SCRAM-SHA-256 (RFC 5802, with SHA-256 per RFC 7677), as PostgreSQL
/// uses it ("SASL Authentication", "SCRAM-SHA-256 Authentication"): no channel binding
/// (`n,,`), and PostgreSQL ignores the user name in the messages (it takes the one of the
/// StartupMessage), so wirelat sends `n=,` as libpq does.
///
/// The password is used as given: SASLprep is the identity for ASCII passwords, and
/// PostgreSQL itself falls back to the raw bytes when SASLprep does not apply.
public struct SCRAMSHA256Client: Sendable {
    /// The mechanism name PostgreSQL lists in AuthenticationSASL.
    public static let mechanism = "SCRAM-SHA-256"
    /// The most iterations wirelat computes (PostgreSQL's default is 4096): a server asking
    /// for more is refused instead of holding the probe in PBKDF2.
    public static let maximumIterations = 1_000_000

    private let password: [UInt8]
    private let clientNonce: String
    /// `n=USER,r=NONCE`: the client-first-message without the GS2 header.
    public let clientFirstMessageBare: String
    private var expectedServerSignature: [UInt8]?

    /// - Parameters:
    ///   - user: the name in the client-first-message (empty for PostgreSQL).
    ///   - clientNonce: printable ASCII without commas (RFC 5802 §5.1 `r=`); wirelat uses
    ///     base64 of 18 random bytes, as libpq does.
    public init(user: String = "", password: [UInt8], clientNonce: String) {
        self.password = password
        self.clientNonce = clientNonce
        self.clientFirstMessageBare = "n=\(Self.saslName(user)),r=\(clientNonce)"
    }

    /// `n,,n=USER,r=NONCE` (RFC 5802 §7: gs2-header, no channel binding, no authzid).
    public var clientFirstMessage: [UInt8] { Array("n,,\(clientFirstMessageBare)".utf8) }

    /// Reads the server-first-message (`r=NONCE,s=SALT,i=ITERATIONS`) and returns the
    /// client-final-message (`c=biws,r=NONCE,p=PROOF`); remembers the server signature
    /// the server-final-message must carry.
    public mutating func clientFinalMessage(serverFirst: [UInt8]) throws(DatabaseAnswerError) -> [UInt8] {
        let serverFirstText = String(decoding: serverFirst, as: UTF8.self)
        let attributes = Self.attributes(serverFirstText)
        guard let nonce = attributes["r"], let saltText = attributes["s"], let iterationText = attributes["i"] else {
            throw DatabaseAnswerError(.malformed, "SCRAM server-first-message without r=, s= or i=: `\(describeForeignBytes(serverFirst))`")
        }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw DatabaseAnswerError(.malformed, "SCRAM server nonce does not extend the client's")
        }
        guard let salt = Base64.decode(saltText), !salt.isEmpty else {
            throw DatabaseAnswerError(.malformed, "SCRAM salt is not base64: `\(saltText)`")
        }
        guard let iterations = Int(iterationText), iterations >= 1 else {
            throw DatabaseAnswerError(.malformed, "SCRAM iteration count `\(iterationText)` is not a positive number")
        }
        guard iterations <= Self.maximumIterations else {
            throw DatabaseAnswerError(.unsupported, "asks for SCRAM with \(iterations) iterations; wirelat computes at most \(Self.maximumIterations)")
        }
        let withoutProof = "c=biws,r=\(nonce)"
        let authMessage = Array("\(clientFirstMessageBare),\(serverFirstText),\(withoutProof)".utf8)

        let saltedPassword = Self.hi(password: password, salt: salt, iterations: iterations)
        let clientKey = Self.hmac(key: saltedPassword, Array("Client Key".utf8))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let clientSignature = Self.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = Self.hmac(key: saltedPassword, Array("Server Key".utf8))
        expectedServerSignature = Self.hmac(key: serverKey, authMessage)
        return Array("\(withoutProof),p=\(Base64.encode(proof))".utf8)
    }

    /// Checks the server-final-message (`v=SIGNATURE`, or `e=ERROR`): a server that does not
    /// know the password cannot produce the signature.
    public func verifyServerFinal(_ serverFinal: [UInt8]) throws(DatabaseAnswerError) {
        let attributes = Self.attributes(String(decoding: serverFinal, as: UTF8.self))
        if let error = attributes["e"] {
            throw DatabaseAnswerError(.refused, "SCRAM server-final-message: e=\(error)")
        }
        guard let expected = expectedServerSignature else {
            throw DatabaseAnswerError(.malformed, "SCRAM server-final-message before the server-first-message")
        }
        guard let text = attributes["v"], let signature = Base64.decode(text), signature == expected else {
            throw DatabaseAnswerError(.malformed, "SCRAM server signature does not match: the server does not know the password")
        }
    }

    /// The server signature expected in the server-final-message, once the client-final-message is made.
    public var serverSignature: [UInt8]? { expectedServerSignature }

    /// RFC 5802 §2.2 Hi(): PBKDF2 with HMAC-SHA-256 and one block:
    /// U1 = HMAC(str, salt + INT(1)), Ui = HMAC(str, Ui-1), Hi = U1 ⊕ U2 ⊕ … ⊕ Ui.
    public static func hi(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: password)
        var u = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = u
        if iterations > 1 {
            for _ in 2...iterations {
                u = Array(HMAC<SHA256>.authenticationCode(for: u, using: key))
                for j in 0..<result.count { result[j] ^= u[j] }
            }
        }
        return result
    }

    static func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: data, using: SymmetricKey(data: key)))
    }

    /// `a=value,b=value`: the attributes of a SCRAM message by their one-letter names.
    static func attributes(_ text: String) -> [Character: String] {
        var out: [Character: String] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: true) {
            guard let name = part.first, part.dropFirst().first == "=" else { continue }
            if out[name] == nil { out[name] = String(part.dropFirst(2)) }
        }
        return out
    }

    /// RFC 5802 §5.1 saslname: `=` as `=3D`, `,` as `=2C`.
    static func saslName(_ user: String) -> String {
        var out = ""
        for c in user {
            switch c {
            case "=": out += "=3D"
            case ",": out += "=2C"
            default: out.append(c)
            }
        }
        return out
    }
}

/// Base64 (RFC 4648 §4, with padding), for SCRAM's salts, proofs and signatures.
public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(n & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil for anything that is not padded base64.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < chars.count {
            var n: UInt32 = 0
            var padding = 0
            for k in 0..<4 {
                let c = chars[i + k]
                let v: UInt32
                if c == UInt8(ascii: "=") {
                    guard i + 4 == chars.count, k >= 2 else { return nil }
                    padding += 1
                    v = 0
                } else {
                    guard padding == 0, let index = alphabet.firstIndex(of: c) else { return nil }
                    v = UInt32(index)
                }
                n = n << 6 | v
            }
            out.append(UInt8(n >> 16 & 0xff))
            if padding < 2 { out.append(UInt8(n >> 8 & 0xff)) }
            if padding < 1 { out.append(UInt8(n & 0xff)) }
            i += 4
        }
        return out
    }
}
