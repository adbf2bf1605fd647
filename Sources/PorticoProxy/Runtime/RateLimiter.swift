import Metrics
import PorticoCore
import Synchronization

/// A route's token buckets (SPEC §13), shared by every event loop of the process and kept
/// across table swaps that leave the route's name and `rateLimit` alone.
///
/// Keys are bounded: buckets live in two generations; when the newer one holds half the
/// bound, the older is dropped and the newer takes its place. A key used since then is in
/// the newer one, so only keys used less recently than every kept one go, and a route never
/// holds more than ``RateLimitDefinition/maximumKeys``.
final class RateLimiter: Sendable {
    let limit: RateLimitDefinition
    private let limited: Counter
    private let maximumKeys: Int
    private let buckets = Mutex(Generations())

    private struct Generations {
        var current: [String: TokenBucket] = [:]
        var previous: [String: TokenBucket] = [:]
    }

    init(_ limit: RateLimitDefinition, limited: Counter, maximumKeys: Int = RateLimitDefinition.maximumKeys) {
        self.limit = limit
        self.limited = limited
        self.maximumKeys = max(2, maximumKeys)
    }

    /// Takes a token from `key`'s bucket at `now` (nanoseconds of a monotonic clock).
    func take(key: String, now: Int64) -> TokenBucket.Decision {
        let limit = self.limit
        let half = maximumKeys / 2
        let decision = buckets.withLock { generations in
            var bucket = generations.current.removeValue(forKey: key)
                ?? generations.previous.removeValue(forKey: key) ?? TokenBucket(limit, now: now)
            let decision = bucket.take(limit, now: now)
            if generations.current.count >= half {
                generations.previous = generations.current
                generations.current = [:]
                generations.current.reserveCapacity(half)
            }
            generations.current[key] = bucket
            return decision
        }
        if case .limited = decision { limited.increment() }
        return decision
    }

    /// Keys held now (both generations).
    var keyCount: Int { buckets.withLock { $0.current.count + $0.previous.count } }
}
