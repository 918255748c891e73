/// A growable byte buffer for text output, written through a raw pointer.
///
/// Appending checks only that the free space suffices; storage grows (by
/// doubling) when it does not. A copy shares its storage with the original
/// until one of them is changed through a public method, which makes its
/// storage unique first, as `Array` does. The module's own writers
/// (`appendASCII`, `appendDecimal`, ...) skip that check for speed: call
/// `makeUnique()` once before a run of them on a buffer that may have been copied.
public struct OutputBuffer {
    final class Storage {
        let base: UnsafeMutablePointer<UInt8>
        let capacity: Int

        init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit { base.deallocate() }
    }

    private var storage: Storage
    var base: UnsafeMutablePointer<UInt8>
    var capacity: Int
    /// The number of bytes written.
    public internal(set) var count: Int

    /// An empty buffer with room for `capacity` bytes before it first grows.
    public init(capacity: Int = 1 << 16) {
        storage = Storage(capacity: Swift.max(capacity, 64))
        base = storage.base
        self.capacity = storage.capacity
        count = 0
    }

    public var isEmpty: Bool { count == 0 }

    /// The bytes written, lent to `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// The bytes written, as an array.
    public var bytes: [UInt8] { withUnsafeBytes { [UInt8]($0) } }

    /// Forgets the bytes written. Storage is kept unless `keepingCapacity` is false.
    public mutating func removeAll(keepingCapacity: Bool = true) {
        if keepingCapacity {
            count = 0
        } else {
            self = OutputBuffer()
        }
    }

    /// Gives this copy storage of its own if another copy shares it.
    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { replaceStorage(minimumCapacity: capacity) }
    }

    public mutating func append(_ byte: UInt8) {
        makeUnique()
        appendByte(byte)
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        makeUnique()
        appendBytes(bytes)
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The UTF-8 bytes of `text`.
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Bytes from any sequence (`text.utf8`, an array, ...), copied at once when contiguous.
    public mutating func append<S: Sequence>(contentsOf bytes: S) where S.Element == UInt8 {
        let copied: Void? = bytes.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if copied != nil { return }
        makeUnique()
        for byte in bytes { appendByte(byte) }
    }

    // MARK: unchecked writers for the module's printers

    /// Room for `n` more bytes; returns where the next byte goes.
    @inline(__always)
    mutating func reserveTail(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if _slowPath(capacity &- count < n) { replaceStorage(minimumCapacity: count + n) }
        return base + count
    }

    @inline(never)
    mutating func replaceStorage(minimumCapacity: Int) {
        let newStorage = Storage(capacity: Swift.max(minimumCapacity, capacity * 2, 64))
        newStorage.base.initialize(from: base, count: count)
        storage = newStorage
        base = newStorage.base
        capacity = newStorage.capacity
    }

    /// Drops the bytes from `newCount` on.
    @inline(__always)
    mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "truncate past the end")
        count = newCount
    }

    @inline(__always)
    mutating func appendByte(_ byte: UInt8) {
        reserveTail(1).pointee = byte
        count &+= 1
    }

    @inline(__always)
    mutating func appendBytes(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0, let source = bytes.baseAddress else { return }
        Self.copy(from: source, to: UnsafeMutableRawPointer(reserveTail(n)), count: n)
        count &+= n
    }

    /// `n` copies of `byte` (`%-Ns` / `%Ns` padding).
    @inline(__always)
    mutating func appendRepeating(_ byte: UInt8, count n: Int) {
        guard n > 0 else { return }
        reserveTail(n).initialize(repeating: byte, count: n)
        count &+= n
    }

    @inline(__always)
    mutating func appendASCII(_ text: StaticString) {
        if _fastPath(text.hasPointerRepresentation) {
            let n = text.utf8CodeUnitCount
            Self.copy(from: UnsafeRawPointer(text.utf8Start), to: UnsafeMutableRawPointer(reserveTail(n)), count: n)
            count &+= n
        } else {
            text.withUTF8Buffer { appendBytes(UnsafeRawBufferPointer($0)) }
        }
    }

    /// `memcpy` that handles up to 16 bytes itself, with two overlapping loads
    /// and stores: a literal's length is a constant and folds away, but a name
    /// picked from a table is not, and a call per short name costs more than the copy.
    @inline(__always)
    static func copy(from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count n: Int) {
        if n >= 8 && n <= 16 {
            let head = source.loadUnaligned(as: UInt64.self)
            let tail = source.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            destination.storeBytes(of: head, as: UInt64.self)
            destination.storeBytes(of: tail, toByteOffset: n &- 8, as: UInt64.self)
        } else if n >= 4 && n < 8 {
            let head = source.loadUnaligned(as: UInt32.self)
            let tail = source.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
            destination.storeBytes(of: head, as: UInt32.self)
            destination.storeBytes(of: tail, toByteOffset: n &- 4, as: UInt32.self)
        } else if n > 0 && n < 4 {
            let s = source.assumingMemoryBound(to: UInt8.self)
            let d = destination.assumingMemoryBound(to: UInt8.self)
            d[0] = s[0]
            d[n >> 1] = s[n >> 1]
            d[n &- 1] = s[n &- 1]
        } else if n > 16 {
            destination.copyMemory(from: source, byteCount: n)
        }
    }

    // MARK: numbers

    /// `"00" "01" ... "99"`: two digits a load.
    static let digitPairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """

    /// 10^0 ... 10^19.
    static let powersOfTen: [UInt64] = [
        1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000,
        10_000_000_000, 100_000_000_000, 1_000_000_000_000, 10_000_000_000_000, 100_000_000_000_000,
        1_000_000_000_000_000, 10_000_000_000_000_000, 100_000_000_000_000_000, 1_000_000_000_000_000_000,
        10_000_000_000_000_000_000,
    ]

    /// The number of decimal digits of `value` (1 for 0).
    @inline(__always)
    static func decimalDigitCount(_ value: UInt64) -> Int {
        // log10(2) ≈ 1233 / 4096: a guess that is exact or one short. Setting the
        // low bit makes 0 count as 1 and moves no value across a power of ten.
        let v = value | 1
        let bits = 64 &- v.leadingZeroBitCount
        let guess = (bits &* 1233) >> 12
        return powersOfTen.withUnsafeBufferPointer { guess &+ (v >= $0[guess] ? 1 : 0) }
    }

    /// Writes `value`'s last `digits` digits ending just before `end`, two at a time.
    @inline(__always)
    static func writeDigits(_ value: UInt64, ending end: UnsafeMutablePointer<UInt8>, digits: Int) {
        let pairs = UnsafeRawPointer(digitPairs.utf8Start)
        var p = UnsafeMutableRawPointer(end)
        var v = value
        var left = digits
        while left >= 2 {
            let pair = Int(truncatingIfNeeded: v % 100)
            v /= 100
            p -= 2
            p.copyMemory(from: pairs + pair &* 2, byteCount: 2)
            left &-= 2
        }
        if left == 1 {
            p -= 1
            p.storeBytes(of: UInt8(truncatingIfNeeded: 48 &+ v % 10), as: UInt8.self)
        }
    }

    /// `%u` / `%lu`.
    @inline(__always)
    mutating func appendDecimal<T: BinaryInteger>(_ value: T) {
        appendDecimal(UInt64(truncatingIfNeeded: value))
    }

    /// `%u` of a 64-bit value.
    @inline(__always)
    mutating func appendDecimal(_ value: UInt64) {
        let digits = Self.decimalDigitCount(value)
        let p = reserveTail(digits)
        Self.writeDigits(value, ending: p + digits, digits: digits)
        count &+= digits
    }

    /// `%0Nu`: at least `minimumDigits` digits, zero-padded.
    @inline(__always)
    mutating func appendDecimal(_ value: UInt64, minimumDigits: Int) {
        let digits = Swift.max(Self.decimalDigitCount(value), minimumDigits)
        let p = reserveTail(digits)
        // Digits past the value's own are its leading zeros.
        Self.writeDigits(value, ending: p + digits, digits: digits)
        count &+= digits
    }

    /// Exactly two digits of `value` (0...99), as `%02u` writes them.
    @inline(__always)
    mutating func appendTwoDigits(_ value: Int) {
        let p = reserveTail(2)
        UnsafeMutableRawPointer(p).copyMemory(from: UnsafeRawPointer(Self.digitPairs.utf8Start) + value &* 2, byteCount: 2)
        count &+= 2
    }

    /// `%d`.
    mutating func appendSignedDecimal(_ value: Int64) {
        if value < 0 { appendByte(UInt8(ascii: "-")) }
        appendDecimal(value.magnitude)
    }

    /// `%x` (lower case) with at least `minimumDigits` digits (`%02x`, `%04x`, `%08x`).
    mutating func appendHex(_ value: UInt64, minimumDigits: Int = 1) {
        let significant = Swift.max(1, (64 &- value.leadingZeroBitCount + 3) / 4)
        let digits = Swift.max(significant, minimumDigits)
        let p = reserveTail(digits)
        var v = value
        var i = digits
        while i > 0 {
            i &-= 1
            p[i] = Self.hexDigit(UInt8(truncatingIfNeeded: v & 0xF))
            v >>= 4
        }
        count &+= digits
    }

    /// Two hex digits, `%02x`.
    @inline(__always)
    mutating func appendHexByte(_ byte: UInt8) {
        let p = reserveTail(2)
        p[0] = Self.hexDigit(byte >> 4)
        p[1] = Self.hexDigit(byte & 0xF)
        count &+= 2
    }

    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 &+ nibble : 87 &+ nibble }
}
