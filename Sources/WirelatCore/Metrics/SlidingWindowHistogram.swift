/// The samples of the last window, for quantiles, in memory bounded whatever the rate.
///
/// The window is cut into ``slices`` slices of equal length, each a sparse copy of
/// ``CompactHistogram``'s buckets (32 per power of two, so a value is read back within
/// 3 %): at most about a thousand counts per slice, however many samples arrive. A slice
/// is reused once its time has gone by, so the quantiles cover the current slice and the
/// five before it: between 5/6 of the window and the whole window.
struct SlidingWindowHistogram: Sendable {
    static let slices = 6

    private struct Slice: Sendable {
        /// `now / sliceNanoseconds` when the slice was begun; `.max` for a slice never used.
        var epoch: UInt64 = .max
        var counts: [Int: UInt64] = [:]
        var min: UInt64 = .max
        var max: UInt64 = 0
    }

    let sliceNanoseconds: UInt64
    private var ring = [Slice](repeating: Slice(), count: slices)

    init(windowNanoseconds: UInt64) {
        sliceNanoseconds = Swift.max(1, windowNanoseconds / UInt64(Self.slices))
    }

    mutating func record(_ nanoseconds: UInt64, now: UInt64) {
        let epoch = now / sliceNanoseconds
        let i = Int(epoch % UInt64(Self.slices))
        if ring[i].epoch != epoch { ring[i] = Slice(epoch: epoch) }
        ring[i].counts[CompactHistogram.index(nanoseconds), default: 0] &+= 1
        if nanoseconds < ring[i].min { ring[i].min = nanoseconds }
        if nanoseconds > ring[i].max { ring[i].max = nanoseconds }
    }

    /// The value at each quantile of `quantiles` (0…1) over the window that ends at `now`,
    /// by ``CompactHistogram``'s rule (the middle of the bucket that holds the rank
    /// ⌈q × count⌉, kept within the window's minimum and maximum); nil when the window
    /// holds no sample.
    func quantiles(_ quantiles: [Double], now: UInt64) -> [UInt64]? {
        let current = now / sliceNanoseconds
        var merged: [Int: UInt64] = [:]
        var low = UInt64.max
        var high: UInt64 = 0
        for slice in ring where slice.epoch <= current && current - slice.epoch < UInt64(Self.slices) {
            merged.merge(slice.counts, uniquingKeysWith: &+)
            low = Swift.min(low, slice.min)
            high = Swift.max(high, slice.max)
        }
        guard !merged.isEmpty else { return nil }
        let buckets = merged.sorted { $0.key < $1.key }
        let total = buckets.reduce(0) { $0 &+ $1.value }
        return quantiles.map { q in
            let rank = Swift.max(1, UInt64((q * Double(total)).rounded(.up)))
            var seen: UInt64 = 0
            for (index, count) in buckets {
                seen &+= count
                if seen >= rank { return Swift.min(Swift.max(CompactHistogram.value(at: index), low), high) }
            }
            return high
        }
    }
}
