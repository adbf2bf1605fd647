import PorticoCore
import PorticoProxy
import Synchronization
import Testing

@Suite struct ConnectionLimiterTests {
    /// Counts grants made to waiters.
    final class Grants: Sendable {
        let count = Atomic<Int>(0)
        var value: Int { count.load(ordering: .relaxed) }
        func grant() { count.wrappingAdd(1, ordering: .relaxed) }
    }

    @Test func grantsUpToTheLimitThenQueuesThenRefuses() {
        let limiter = ConnectionLimiter()
        let grants = Grants()
        #expect(limiter.acquire(maxConnections: 2, maxPending: 1) { grants.grant() } == .granted)
        #expect(limiter.acquire(maxConnections: 2, maxPending: 1) { grants.grant() } == .granted)
        guard case .queued = limiter.acquire(maxConnections: 2, maxPending: 1, whenGranted: { grants.grant() }) else {
            Issue.record("the third request did not wait")
            return
        }
        #expect(limiter.hasWaiters)
        #expect(limiter.acquire(maxConnections: 2, maxPending: 1) { grants.grant() } == .overflow)
        // A closed connection's slot passes to the waiter: the count stays at the limit.
        limiter.release()
        #expect(grants.value == 1)
        #expect(limiter.openConnections == 2)
        #expect(!limiter.hasWaiters)
        limiter.release()
        limiter.release()
        #expect(limiter.openConnections == 0)
    }

    @Test func withoutALimitEveryConnectionIsCountedAndGranted() {
        let limiter = ConnectionLimiter()
        for _ in 0..<100 { #expect(limiter.acquire(maxConnections: nil, maxPending: 0) {} == .granted) }
        #expect(limiter.openConnections == 100)
    }

    @Test func aCancelledWaiterGetsNoSlotAndOneGrantedAlreadyReportsIt() {
        let limiter = ConnectionLimiter()
        let grants = Grants()
        #expect(limiter.acquire(maxConnections: 1, maxPending: 2) {} == .granted)
        guard case .queued(let first) = limiter.acquire(maxConnections: 1, maxPending: 2, whenGranted: { grants.grant() }),
            case .queued(let second) = limiter.acquire(maxConnections: 1, maxPending: 2, whenGranted: { grants.grant() })
        else {
            Issue.record("requests did not wait")
            return
        }
        #expect(limiter.cancel(first))
        #expect(limiter.waitingRequests == 1)
        limiter.release()
        #expect(grants.value == 1)
        // The second waiter's slot is on its way: cancelling reports it, so it is given back.
        #expect(!limiter.cancel(second))
        limiter.release()
        #expect(limiter.openConnections == 0)
    }

    @Test func aWaiterAsksPoolsToCloseAnIdleConnection() {
        let limiter = ConnectionLimiter()
        let closes = Grants()
        limiter.registerIdleCloser(for: ObjectIdentifier(closes)) { closes.grant() }
        #expect(limiter.acquire(maxConnections: 1, maxPending: 1) {} == .granted)
        // Busy, not idle: nothing to close.
        _ = limiter.acquire(maxConnections: 1, maxPending: 1) {}
        #expect(closes.value == 0)
        let other = ConnectionLimiter()
        other.registerIdleCloser(for: ObjectIdentifier(closes)) { closes.grant() }
        #expect(other.acquire(maxConnections: 1, maxPending: 1) {} == .granted)
        other.idleChanged(by: 1)
        // The idle connection's slot is coming: the request may wait even when none may.
        guard case .queued = other.acquire(maxConnections: 1, maxPending: 0, whenGranted: {}) else {
            Issue.record("a request was refused while a connection idled")
            return
        }
        #expect(closes.value == 1)
    }
}
