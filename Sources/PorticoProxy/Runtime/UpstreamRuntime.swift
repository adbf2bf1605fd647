import PorticoCore
import Synchronization

/// What the data plane keeps about an upstream while it serves it: open connections and
/// waiting requests, outlier ejections, and requests and retries running (for the retry
/// budget). Unlike the definition it outlives snapshots: ``RuntimeRegistry`` hands it to
/// the upstream of the same name in each new table, so a route change does not reset
/// limits or ejections.
public final class UpstreamRuntime: Sendable {
    /// Open connections and requests waiting for one.
    public let connections = ConnectionLimiter()
    /// Passive ejections (used when the upstream has `outlierDetection`).
    public let outliers = OutlierDetector()
    private let requests = Atomic<Int>(0)
    private let retries = Atomic<Int>(0)

    public init() {}

    /// Requests running on the upstream now.
    public var runningRequests: Int { requests.load(ordering: .relaxed) }

    /// Counts a request that started on the upstream.
    public func requestStarted() { requests.wrappingAdd(1, ordering: .relaxed) }

    /// Counts a request that ``requestStarted()`` counted, now ended.
    public func requestEnded() { requests.wrappingSubtract(1, ordering: .relaxed) }

    /// Takes a place for one retry if `budget` has room; the caller gives it back with
    /// ``retryEnded()`` when the request ends.
    public func startRetry(within budget: RetryBudgetDefinition) -> Bool {
        let running = retries.wrappingAdd(1, ordering: .relaxed).oldValue
        guard budget.allowsRetry(runningRetries: running, runningRequests: runningRequests) else {
            retries.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// A request that ``startRetry(within:)`` admitted ended.
    public func retryEnded() { retries.wrappingSubtract(1, ordering: .relaxed) }
}
