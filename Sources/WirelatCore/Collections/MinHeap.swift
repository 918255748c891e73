/// A binary min-heap: `first` is the least element by `Element`'s `<`. Equal elements
/// leave in no particular order, so an element type that needs first-in first-out among
/// equals puts an arrival number in its ordering.
///
/// The event loop's timers and the delay line's reordering queue both use it; it is
/// `@inlinable` so each specialises it for its own element.
public struct MinHeap<Element: Comparable>: Sendable where Element: Sendable {
    @usableFromInline var items: [Element] = []

    @inlinable public init() {}

    @inlinable public var count: Int { items.count }
    @inlinable public var isEmpty: Bool { items.isEmpty }
    @inlinable public var first: Element? { items.first }

    @inlinable public mutating func push(_ element: Element) {
        items.append(element)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !(items[i] < items[parent]) { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    @inlinable public mutating func popFirst() -> Element? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
