/// Values by key, bounded by keeping them in two generations: when the newer one holds half
/// the bound, the older is dropped and the newer takes its place. Every use moves a key into
/// the newer one, so only keys used less recently than every kept one go, and no more than
/// the bound are ever held. A value type: its owner guards it (one `Mutex`).
struct RecentlyUsedKeys<Value> {
    private var current: [String: Value] = [:]
    private var previous: [String: Value] = [:]
    private let half: Int

    /// - Parameter maximumKeys: The bound, at least 2.
    init(maximumKeys: Int) {
        half = max(2, maximumKeys) / 2
    }

    /// Removes and returns `key`'s value, wherever it is; the caller puts it back with
    /// ``insert(_:for:)`` to keep it.
    mutating func take(_ key: String) -> Value? {
        current.removeValue(forKey: key) ?? previous.removeValue(forKey: key)
    }

    /// Holds `value` for `key` in the newer generation (a key newly inserted may retire the
    /// older one first).
    mutating func insert(_ value: Value, for key: String) {
        if current.count >= half {
            previous = current
            current = [:]
            current.reserveCapacity(half)
        }
        current[key] = value
    }

    /// Keys held now (both generations).
    var count: Int { current.count + previous.count }
}
