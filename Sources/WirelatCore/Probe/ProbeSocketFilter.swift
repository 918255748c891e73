/// One classic BPF instruction (the kernel's `struct sock_filter`).
public struct BPFInstruction: Equatable, Sendable {
    public var code: UInt16
    public var jumpTrue: UInt8
    public var jumpFalse: UInt8
    public var k: UInt32

    public init(_ code: UInt16, _ jumpTrue: UInt8 = 0, _ jumpFalse: UInt8 = 0, _ k: UInt32) {
        self.code = code
        self.jumpTrue = jumpTrue
        self.jumpFalse = jumpFalse
        self.k = k
    }

    static let loadWordAbsolute: UInt16 = 0x20      // BPF_LD | BPF_W | BPF_ABS
    static let loadHalfAbsolute: UInt16 = 0x28      // BPF_LD | BPF_H | BPF_ABS
    static let loadHalfIndexed: UInt16 = 0x48       // BPF_LD | BPF_H | BPF_IND
    static let loadIPv4HeaderLength: UInt16 = 0xb1  // BPF_LDX | BPF_B | BPF_MSH: X = 4 * (P[k] & 0xf)
    static let jumpIfEqual: UInt16 = 0x15           // BPF_JMP | BPF_JEQ | BPF_K
    static let returnConstant: UInt16 = 0x06        // BPF_RET | BPF_K

    /// Jumps over `skipping` instructions when A == k, else falls through.
    static func ifEqual(_ k: UInt32, else skip: UInt8) -> BPFInstruction { BPFInstruction(jumpIfEqual, 0, skip, k) }
    static let accept = BPFInstruction(returnConstant, 0, 0, 0xFFFF)
    static let drop = BPFInstruction(returnConstant, 0, 0, 0)
}

/// Socket filters for the raw sockets of the SYN and ICMP probes. A raw socket receives
/// every TCP segment (or ICMP message) the host receives; an agent with hundreds of
/// probes would wake each of them for every packet of all the others. The filter drops,
/// in the kernel, whatever cannot be this probe's answer: IPv4 by the peer's address and
/// port (or echo identifier), IPv6 (whose raw sockets see no IP header, ipv6(7)) by port
/// or identifier alone. The userspace match still checks everything.
public enum ProbeSocketFilter {
    /// Segments from `target`'s `port` (the SYN-ACKs and RSTs a SYN probe waits for).
    public static func tcpReplies(from target: ProbeAddress, port: UInt16) -> [BPFInstruction] {
        switch target {
        case .v4(let address):
            return [
                BPFInstruction(BPFInstruction.loadWordAbsolute, 0, 0, 12),  // IPv4 source address
                .ifEqual(address.rawValue, else: 4),
                BPFInstruction(BPFInstruction.loadIPv4HeaderLength, 0, 0, 0),
                BPFInstruction(BPFInstruction.loadHalfIndexed, 0, 0, 0),    // TCP source port
                .ifEqual(UInt32(port), else: 1),
                .accept,
                .drop,
            ]
        case .v6:
            return [
                BPFInstruction(BPFInstruction.loadHalfAbsolute, 0, 0, 0),   // TCP source port
                .ifEqual(UInt32(port), else: 1),
                .accept,
                .drop,
            ]
        }
    }

    /// ICMP messages from `target` carrying echo identifier `identifier` (raw sockets only:
    /// a ping socket's identifier is the kernel's, and so is its demultiplexing).
    public static func echoReplies(from target: ProbeAddress, identifier: UInt16) -> [BPFInstruction] {
        switch target {
        case .v4(let address):
            return [
                BPFInstruction(BPFInstruction.loadWordAbsolute, 0, 0, 12),
                .ifEqual(address.rawValue, else: 4),
                BPFInstruction(BPFInstruction.loadIPv4HeaderLength, 0, 0, 0),
                BPFInstruction(BPFInstruction.loadHalfIndexed, 0, 0, 4),    // ICMP echo identifier
                .ifEqual(UInt32(identifier), else: 1),
                .accept,
                .drop,
            ]
        case .v6:
            return [
                BPFInstruction(BPFInstruction.loadHalfAbsolute, 0, 0, 4),   // ICMPv6 echo identifier
                .ifEqual(UInt32(identifier), else: 1),
                .accept,
                .drop,
            ]
        }
    }

    /// Runs `program` over `packet` as the kernel does for the instructions above (tests
    /// hold the programs against real packets with it); nil for an instruction it does not know.
    public static func run(_ program: [BPFInstruction], on packet: [UInt8]) -> UInt32? {
        var a: UInt32 = 0, x: UInt32 = 0, pc = 0
        func load(_ offset: Int, _ size: Int) -> UInt32? {
            guard offset >= 0, offset + size <= packet.count else { return nil }
            return packet[offset..<offset + size].reduce(0) { $0 << 8 | UInt32($1) }
        }
        while pc < program.count {
            let i = program[pc]
            pc += 1
            switch i.code {
            case BPFInstruction.loadWordAbsolute: guard let v = load(Int(i.k), 4) else { return 0 }; a = v
            case BPFInstruction.loadHalfAbsolute: guard let v = load(Int(i.k), 2) else { return 0 }; a = v
            case BPFInstruction.loadHalfIndexed: guard let v = load(Int(x) + Int(i.k), 2) else { return 0 }; a = v
            case BPFInstruction.loadIPv4HeaderLength: guard let v = load(Int(i.k), 1) else { return 0 }; x = 4 * (v & 0xF)
            case BPFInstruction.jumpIfEqual: pc += Int(a == i.k ? i.jumpTrue : i.jumpFalse)
            case BPFInstruction.returnConstant: return i.k
            default: return nil
            }
        }
        return nil
    }
}
