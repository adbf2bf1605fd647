import PorticoCore
import Testing

/// The token bucket of `rateLimit` (SPEC §13), with the clock passed in.
@Suite struct TokenBucketTests {
    private let second: Int64 = 1_000_000_000

    @Test func aFullBucketAllowsBurstThenRefillsAtTheRate() {
        let limit = RateLimitDefinition(requests: 2, per: .seconds(1), burst: 3)
        var bucket = TokenBucket(limit, now: 0)
        #expect((0..<3).map { _ in bucket.take(limit, now: 0) } == [.allowed, .allowed, .allowed])
        #expect(bucket.take(limit, now: 0) == .limited(retryAfter: 1))
        // Two tokens a second: one is back after half a second.
        #expect(bucket.take(limit, now: second / 2) == .allowed)
        #expect(bucket.take(limit, now: second / 2) == .limited(retryAfter: 1))
        // Never above the burst, however long it waited.
        #expect((0..<4).map { _ in bucket.take(limit, now: 100 * second) } == [.allowed, .allowed, .allowed, .limited(retryAfter: 1)])
    }

    @Test func retryAfterIsTheWholeSecondsUntilAToken() {
        let limit = RateLimitDefinition(requests: 1, per: .seconds(10))
        var bucket = TokenBucket(limit, now: 0)
        #expect(bucket.take(limit, now: 0) == .allowed)
        #expect(bucket.take(limit, now: 0) == .limited(retryAfter: 10))
        #expect(bucket.take(limit, now: 3 * second + 1) == .limited(retryAfter: 7))
        #expect(bucket.take(limit, now: 10 * second) == .allowed)
        // A fast rate still says at least 1.
        let fast = RateLimitDefinition(requests: 1000, per: .seconds(1), burst: 1)
        var quick = TokenBucket(fast, now: 0)
        #expect(quick.take(fast, now: 0) == .allowed)
        #expect(quick.take(fast, now: 0) == .limited(retryAfter: 1))
    }

    @Test func theDefaultBurstIsTheRequestsAndABackwardClockRefillsNothing() {
        let limit = RateLimitDefinition(requests: 2, per: .milliseconds(500))
        #expect(limit.burst == 2)
        var bucket = TokenBucket(limit, now: 10 * second)
        #expect(bucket.take(limit, now: 10 * second) == .allowed)
        #expect(bucket.take(limit, now: 10 * second) == .allowed)
        #expect(bucket.take(limit, now: 5 * second) == .limited(retryAfter: 1))
        #expect(bucket.take(limit, now: 10 * second + second / 4) == .allowed)
    }
}
