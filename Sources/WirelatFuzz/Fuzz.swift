import WirelatCore

/// Feeds one input to every decoder: the packet decoders under each link type,
/// the tcpdump printer, the passive RTT engine, the pcap file reader and the
/// wire-protocol parsers.
/// Nothing here may crash, hang or read out of bounds, whatever the bytes.
func fuzzOne(_ input: UnsafeRawBufferPointer) {
    guard !input.isEmpty else { return }
    // The first byte picks a link type; the rest is the frame.
    let linkTypes: [UInt32] = [0, 1, 12, 101, 108, 113, 228, 229, 276]
    let linkType = LinkType(rawValue: linkTypes[Int(input[0]) % linkTypes.count])
    let frame = UnsafeRawBufferPointer(rebasing: input[1...])
    _ = PacketDecoder.decode(frame, linkType: linkType)
    var printer = TcpdumpPrinter()
    var out: [UInt8] = []
    let packet = CapturedPacket(timestamp: CaptureTimestamp(seconds: 1, fraction: 2, unit: .microseconds),
                                wireLength: frame.count, linkType: linkType, interfaceID: 0, data: frame)
    printer.print(packet, into: &out)
    printer.print(packet, into: &out)
    var configuration = RTTConfiguration()
    configuration.maximumFlows = 16
    var engine = RTTEngine(configuration: configuration)
    engine.process(packet)
    engine.process(packet)

    if var reader = try? PcapFileReader(bytes: input) {
        var n = 0
        while n < 64, let p = try? reader.next() {
            printer.print(p, into: &out)
            engine.process(p)
            n += 1
        }
    }
    _ = engine.report(target: "fuzz")
    _ = try? ControlMessage.decode(input)
    var requests = RequestStreamParser(payloadLength: UInt32(input[0]))
    try? requests.consume(input, onPayload: { _ in }, onMessage: { _ in })
    var replies = ReplyStreamParser()
    replies.consume(input) { _ in }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    fuzzOne(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
import FoundationEssentials

/// Without libFuzzer: replays the files named on the command line (a corpus or a crash).
/// An unreadable file is named on standard output, beside the count.
@main
struct Replay {
    static func main() {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("cannot read \(path)")
                continue
            }
            data.withUnsafeBytes { fuzzOne($0) }
            count += 1
        }
        print("replayed \(count) inputs")
    }
}
#endif
