import WirelatCore
import WirelatIO

/// Where packets come from and what happens to each.
public struct CaptureConfiguration {
    public enum Source { case interface(String), file(String) }

    public var source: Source
    public var filter: String?
    public var writePath: String?
    public var count: Int?
    public var snapshotLength: Int32 = 262_144
    public var bufferBytes: Int32 = 8 << 20
    public var dropToUser: String?
    /// Called with each packet, in order.
    public var onPacket: (borrowing CapturedPacket) -> Void = { _ in }
    /// Called after each batch of live packets (a good time to flush output).
    public var onBatch: () -> Void = {}
    /// Live captures: called every `tickNanoseconds` of wall-clock time.
    public var tickNanoseconds: UInt64?
    public var onTick: () -> Void = {}
    /// Asked at every tick of a live capture; true ends it as SIGINT would (without
    /// counting as interrupted).
    public var shouldStop: () -> Bool = { false }

    public init(source: Source) {
        self.source = source
    }
}

/// What a capture saw: counts, and libpcap's kernel counters for live captures.
public struct CaptureOutcome {
    public var packets = 0
    public var kernelReceived: UInt32?
    public var kernelDropped: UInt32?
    public var interfaceDropped: UInt32?
    /// Set when reading stopped on an error (a truncated file, say) after `packets` packets.
    public var error: PcapError?
    public var interrupted = false
    public var linkType = LinkType(rawValue: 0)
}

/// Runs one capture, offline or live, until the file ends, `count` packets,
/// or SIGINT/SIGTERM.
public final class CaptureSession {
    public let configuration: CaptureConfiguration
    private let handle: PcapHandle
    /// A regular capture file's packets, read in place rather than through `handle`.
    private let mapped: MappedPackets?
    /// The filter `mapped` packets are tested against (libpcap applies its own to `handle`'s).
    private var filter: PcapFilter?
    private var dumper: PcapDumper?
    private var outcome = CaptureOutcome()

    /// Opens the handle (libpcap checks a file's header), maps a regular file,
    /// compiles the filter and opens the output file.
    public init(_ configuration: CaptureConfiguration) throws(PcapError) {
        self.configuration = configuration
        switch configuration.source {
        case .file(let path):
            handle = try PcapHandle.openOffline(path)
            mapped = handle.mappedPackets()
        case .interface(let name):
            handle = try PcapHandle.openLive(name, snapshotLength: configuration.snapshotLength, bufferBytes: configuration.bufferBytes)
            mapped = nil
        }
        if let expression = configuration.filter, !expression.isEmpty {
            if mapped != nil {
                filter = try handle.compileFilter(expression)
            } else {
                try handle.setFilter(expression)
            }
        }
        if let path = configuration.writePath {
            dumper = try handle.openDumper(path)
        }
        outcome.linkType = handle.linkType
        if let user = configuration.dropToUser {
            do {
                try dropPrivileges(to: user)
            } catch {
                throw PcapError(.permission, "cannot become \(user): \(error)")
            }
        }
    }

    public var linkType: LinkType { handle.linkType }

    /// libpcap's counters so far (packets the kernel received and dropped); nil where the
    /// platform keeps none. Call it from the capture's own thread (in `onTick`).
    public func statistics() -> (received: UInt32, dropped: UInt32)? {
        handle.statistics().map { ($0.received, $0.dropped) }
    }

    public func run() -> CaptureOutcome {
        if handle.isLive { runLive() } else { runOffline() }
        if let dumper {
            do {
                try dumper.flush()
            } catch {
                stopWriting(error)
            }
        }
        return outcome
    }

    private var remaining: Int32 {
        guard let count = configuration.count else { return -1 }
        return Int32(clamping: max(0, count - outcome.packets))
    }

    private func handle(_ packet: borrowing CapturedPacket) {
        if writeFailed { return }
        outcome.packets += 1
        if let dumper {
            do {
                try dumper.write(packet)
            } catch {
                stopWriting(error)
                return
            }
        }
        configuration.onPacket(packet)
    }

    /// Set once `-w` cannot write: the capture stops, and its count is what the file holds.
    private var writeFailed = false

    /// A write error ends the capture (a full disk, say): the packets counted are
    /// the ones the file holds, and the error is the outcome's.
    private func stopWriting(_ error: PcapError) {
        writeFailed = true
        outcome.packets = dumper?.recordsWritten ?? outcome.packets
        outcome.error = error
        handle.breakLoop()
        mapped?.breakLoop()
    }

    private func scheduleTick(_ loop: EventLoop, at deadline: UInt64, every tick: UInt64) {
        loop.schedule(at: deadline) { [weak self] in
            guard let self else { return }
            if self.configuration.shouldStop() {
                loop.stop()
                return
            }
            self.configuration.onTick()
            // After a stall, skip the ticks already missed rather than replay them.
            var next = deadline &+ tick
            let now = monotonicNanoseconds()
            if next <= now { next = now &+ tick - (now &- deadline) % tick }
            self.scheduleTick(loop, at: next, every: tick)
        }
    }

    /// How often a live capture checks that its interface still exists.
    static let interfaceCheckNanoseconds: UInt64 = 200_000_000

    /// Ends a live capture whose interface was deleted, as libpcap's own error does,
    /// after handing over the packets still in the ring: `PcapHandle.interfaceVanished`
    /// says why libpcap alone does not always notice.
    private func watchInterface(_ loop: EventLoop) {
        loop.schedule(after: Self.interfaceCheckNanoseconds) { [weak self] in
            guard let self else { return }
            guard self.handle.interfaceVanished else {
                self.watchInterface(loop)
                return
            }
            if self.remaining != 0 {
                // What the kernel still holds for the vanished interface; an error here
                // says only that it is gone, which the outcome below reports.
                _ = try? self.handle.dispatch(limit: self.remaining) { self.handle($0) }
                self.configuration.onBatch()
            }
            if self.outcome.error == nil { self.outcome.error = .interfaceDisappeared }
            loop.stop()
        }
    }

    private func runOffline() {
        do {
            while remaining != 0 {
                let limit = configuration.count == nil ? -1 : remaining
                let n: Int
                if let mapped {
                    n = try mapped.dispatch(limit: limit, filter: filter) { self.handle($0) }
                } else {
                    n = try handle.dispatch(limit: limit) { self.handle($0) }
                }
                if n == 0 || writeFailed { break }
            }
        } catch {
            outcome.error = error
        }
    }

    private func runLive() {
        let loop: EventLoop
        let fd: CInt
        do {
            loop = try EventLoop()
            fd = try handle.selectableDescriptor()
            try loop.onInterrupt { [weak self] _ in
                self?.outcome.interrupted = true
                loop.stop()
            }
            try loop.register(fd, interest: .readable) { [unowned self] _ in
                do {
                    // A bounded batch: while the capture is behind, the ring never
                    // empties, and signals and timers must still get their turn.
                    let batch: Int32 = self.configuration.count == nil ? 4096 : min(4096, self.remaining)
                    _ = try self.handle.dispatch(limit: batch) { self.handle($0) }
                } catch {
                    self.outcome.error = (error as? PcapError) ?? PcapError(.other, "\(error)")
                    loop.stop()
                }
                self.configuration.onBatch()
                if self.remaining == 0 || self.writeFailed { loop.stop() }
            }
            if let tick = configuration.tickNanoseconds {
                scheduleTick(loop, at: monotonicNanoseconds() &+ tick, every: tick)
            }
            if handle.interfaceIndex != nil { watchInterface(loop) }
            try loop.run()
            loop.deregister(fd)
        } catch let e as PcapError {
            outcome.error = e
        } catch {
            outcome.error = PcapError(.other, "\(error)")
        }
        if let s = handle.statistics() {
            outcome.kernelReceived = s.received
            outcome.kernelDropped = s.dropped
            outcome.interfaceDropped = s.interfaceDropped
        }
    }
}
