import WirelatCore
import WirelatIO

/// The application protocols a round trip can be timed with, each against the real
/// listener and without a login: what `compare --app` and the agent's methods run.
/// (`probe pg` and `probe mysql` add sessions with credentials; those stay on the
/// command line, where the password comes from the environment or a file.)
public enum AppProtocolKind: String, CaseIterable, Sendable {
    case redis, http, pg, mysql, tns

    /// The listener's usual port.
    public var defaultPort: UInt16 {
        switch self {
        case .redis: 6379
        case .http: 80
        case .pg: 5432
        case .mysql: 3306
        case .tns: 1521
        }
    }

    /// What one round trip is.
    public var exchange: String {
        switch self {
        case .redis: "PING → +PONG on one connection"
        case .http: "HEAD / on one keep-alive connection"
        case .pg: "SSLRequest → S/N, one per connection (no login; the server logs nothing)"
        case .mysql: "the server's greeting, one per connection (no login)"
        case .tns: "a TNS CONNECT (COMMAND=ping) → REFUSE, one per connection, as tnsping"
        }
    }

    /// A prober for `address` (its port the listener's).
    public func prober(address: SocketAddress) -> Prober {
        switch self {
        case .redis: AppProtocolProber(address: address, dialogue: RedisDialogue())
        case .http: AppProtocolProber(address: address, dialogue: HTTPDialogue(path: "/", host: address.host))
        case .pg: AppProtocolProber(address: address, dialogue: PostgresSSLRequestDialogue())
        case .mysql: AppProtocolProber(address: address, dialogue: MySQLGreetingDialogue())
        case .tns: AppProtocolProber(address: address, dialogue: TNSDialogue())
        }
    }
}
