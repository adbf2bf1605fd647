import Metrics
import PorticoCore
import Synchronization

/// A route's token buckets (SPEC §13), shared by every event loop of the process and kept
/// across table swaps that leave the route's name and `rateLimit` alone.
///
/// Keys are bounded (``RecentlyUsedKeys``): only keys used less recently than every kept one
/// go, and a route never holds more than ``RateLimitDefinition/maximumKeys``.
final class RateLimiter: Sendable {
    let limit: RateLimitDefinition
    private let limited: Counter
    private let buckets: Mutex<RecentlyUsedKeys<TokenBucket>>

    init(_ limit: RateLimitDefinition, limited: Counter, maximumKeys: Int = RateLimitDefinition.maximumKeys) {
        self.limit = limit
        self.limited = limited
        buckets = Mutex(RecentlyUsedKeys(maximumKeys: maximumKeys))
    }

    /// Takes a token from `key`'s bucket at `now` (nanoseconds of a monotonic clock).
    func take(key: String, now: Int64) -> TokenBucket.Decision {
        let limit = self.limit
        let decision = buckets.withLock { buckets in
            var bucket = buckets.take(key) ?? TokenBucket(limit, now: now)
            let decision = bucket.take(limit, now: now)
            buckets.insert(bucket, for: key)
            return decision
        }
        if case .limited = decision { limited.increment() }
        return decision
    }

    /// Keys held now (both generations).
    var keyCount: Int { buckets.withLock { $0.count } }
}
