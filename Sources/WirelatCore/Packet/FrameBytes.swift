/// Big-endian loads from captured bytes, for the readers that walk a frame by offsets
/// (the link-layer walk, the RTT fast path). Each load is checked against the captured
/// length and stops the program rather than read past it; the readers guard every
/// offset first, so the check never fires. A reader takes a header as a ``window(_:_:)``
/// of fixed size, checked once, so that its loads at constant offsets fold their checks
/// away.
struct FrameBytes {
    let raw: UnsafeRawBufferPointer
    let count: Int

    @inline(__always) init(_ raw: UnsafeRawBufferPointer) {
        self.raw = raw
        count = raw.count
    }

    @inline(__always) private func check(_ offset: Int, _ size: Int) {
        precondition(offset >= 0 && offset <= count &- size, "read past the captured bytes")
    }

    /// The `size` bytes at `offset`, checked once.
    @inline(__always) func window(_ offset: Int, _ size: Int) -> FrameBytes {
        check(offset, size)
        return FrameBytes(UnsafeRawBufferPointer(start: raw.baseAddress.unsafelyUnwrapped + offset, count: size))
    }

    @inline(__always) func uint8(_ offset: Int) -> UInt8 {
        check(offset, 1)
        return raw.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always) func uint16(_ offset: Int) -> UInt16 {
        check(offset, 2)
        return UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always) func uint32(_ offset: Int) -> UInt32 {
        check(offset, 4)
        return UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always) func uint64(_ offset: Int) -> UInt64 {
        check(offset, 8)
        return UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
