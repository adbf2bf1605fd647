/// A route's `rateLimit` (SPEC §13): a token bucket per key holding `burst` tokens, refilled
/// at `requests` per `per`.
public struct RateLimitDefinition: Hashable, Sendable {
    /// What a bucket is kept for.
    public enum Key: Hashable, Sendable {
        /// The client address.
        case client
        /// One bucket for the whole route.
        case route
        /// A header's value, lower-cased name; requests without it share one bucket.
        case header(String)
    }

    /// At most this many keys per route; the least recently used go first.
    public static let maximumKeys = 100_000

    public var requests: Int
    public var per: Duration
    public var burst: Int
    public var key: Key

    public init(requests: Int, per: Duration, burst: Int? = nil, key: Key = .client) {
        self.requests = requests
        self.per = per
        self.burst = burst ?? requests
        self.key = key
    }

    /// `client`, `route` or `header:NAME`.
    public var keyDescription: String {
        switch key {
        case .client: return "client"
        case .route: return "route"
        case .header(let name): return "header:" + name
        }
    }
}

/// One key's tokens (SPEC §13), with time passed in as nanoseconds of a monotonic clock.
public struct TokenBucket: Hashable, Sendable {
    /// The answer to one request.
    public enum Decision: Hashable, Sendable {
        case allowed
        /// No token: whole seconds until one is there, at least 1 (`Retry-After`).
        case limited(retryAfter: Int)
    }

    public private(set) var tokens: Double
    private var updated: Int64

    /// A full bucket.
    public init(_ limit: RateLimitDefinition, now: Int64) {
        tokens = Double(limit.burst)
        updated = now
    }

    /// Refills for the time since the last call, then takes a token when there is one.
    public mutating func take(_ limit: RateLimitDefinition, now: Int64) -> Decision {
        let perNanoseconds = Double(limit.per.components.seconds) * 1e9 + Double(limit.per.components.attoseconds) / 1e9
        let rate = Double(limit.requests) / max(perNanoseconds, 1)  // tokens per nanosecond
        // A clock that went back refills nothing.
        let elapsed = now > updated ? Double(now &- updated) : 0
        tokens = min(Double(limit.burst), tokens + elapsed * rate)
        updated = max(updated, now)
        if tokens >= 1 {
            tokens -= 1
            return .allowed
        }
        let seconds = ((1 - tokens) / rate / 1e9).rounded(.up)
        return .limited(retryAfter: seconds.isFinite ? max(1, Int(clamping: Int64(min(seconds, 1e15)))) : 1)
    }
}
