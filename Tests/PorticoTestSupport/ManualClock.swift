/// A clock that moves only when a test says so, for code that takes a `Clock`: sleepers wake
/// when ``advance(by:)`` passes their deadline, and ``sleepers`` tells the test that the code
/// under test has reached its next sleep. No real time passes.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, CustomStringConvertible {
        /// Time since the clock was made.
        public var offset: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
        public var description: String { "\(offset)" }
    }

    private let sleeping = ThresholdWaiters(Instant(offset: .zero))

    public init() {}

    public var now: Instant { sleeping.current }
    public var minimumResolution: Duration { .zero }

    /// Tasks asleep on this clock now.
    public var sleepers: Int { sleeping.count }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await sleeping.wait(for: deadline)
    }

    /// Moves the clock on and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        sleeping.reach(now.advanced(by: duration))
    }

    /// Waits until at least `count` tasks sleep on the clock (bounded by `limit` real yields,
    /// so a test that waits for a sleep that never comes fails instead of hanging).
    public func waitForSleepers(_ count: Int = 1, limit: Int = 1_000_000) async throws {
        for _ in 0..<limit {
            if sleepers >= count { return }
            await Task.yield()
        }
        throw ManualClockError(message: "fewer than \(count) sleepers after \(limit) yields")
    }
}

/// A test waited for something on a ``ManualClock`` that did not happen.
public struct ManualClockError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
