import PorticoCore
import Synchronization

/// Passive outlier ejection for one upstream (`outlierDetection`): counts each endpoint's
/// failures in a row as requests end, and ejects an endpoint that reaches the threshold
/// for a time that grows with repeat ejections. Thread-safe; every event loop records
/// into the same detector. Pure: time is passed in.
public final class OutlierDetector: Sendable {
    /// An ejection that a failure caused, for the log and metrics.
    public struct Ejection: Hashable, Sendable {
        public var endpoint: Endpoint
        public var duration: Duration
        /// How many times in a row the endpoint has been ejected (1 for the first time).
        public var count: Int

        public init(endpoint: Endpoint, duration: Duration, count: Int) {
            self.endpoint = endpoint
            self.duration = duration
            self.count = count
        }
    }

    private struct Record {
        var consecutiveFailures = 0
        var ejectedUntil: ContinuousClock.Instant?
        /// Ejections that followed each other without a quiet period between them.
        var ejections = 0
        var lastEjectionLength: Duration = .zero
    }

    private let records = Mutex<[Endpoint: Record]>([:])
    /// Endpoints whose record is not blank (failures counted or ejected); while it is 0, a
    /// success or an ejection check costs one atomic load.
    private let marked = Atomic<Int>(0)

    public init() {}

    /// Whether `endpoint` is ejected at `now`.
    public func isEjected(_ endpoint: Endpoint, now: ContinuousClock.Instant) -> Bool {
        guard marked.load(ordering: .relaxed) > 0 else { return false }
        return records.withLock { records in
            guard let until = records[endpoint]?.ejectedUntil else { return false }
            return now < until
        }
    }

    /// A request to `endpoint` succeeded (a response below 500): its failure count restarts,
    /// and an endpoint back from ejection for longer than the ejection lasted is forgotten.
    public func recordSuccess(_ endpoint: Endpoint, now: ContinuousClock.Instant) {
        guard marked.load(ordering: .relaxed) > 0 else { return }
        records.withLock { records in
            guard var record = records[endpoint] else { return }
            record.consecutiveFailures = 0
            if let until = record.ejectedUntil, now - until > record.lastEjectionLength {
                record = Record()
            }
            records[endpoint] = record
            if record.consecutiveFailures == 0, record.ejectedUntil == nil {
                records[endpoint] = nil
                marked.wrappingSubtract(1, ordering: .relaxed)
            }
        }
    }

    /// A request to `endpoint` failed (connect failure, reset, timeout, 5xx). Returns the
    /// ejection it caused, if any.
    ///
    /// - Parameters:
    ///   - endpoints: All of the upstream's endpoints, for the ejection percentage.
    public func recordFailure(
        _ endpoint: Endpoint, policy: OutlierDetectionDefinition, endpoints: [Endpoint], now: ContinuousClock.Instant
    ) -> Ejection? {
        records.withLock { records in
            if records[endpoint] == nil {
                records[endpoint] = Record()
                marked.wrappingAdd(1, ordering: .relaxed)
            }
            var record = records[endpoint]!
            defer { records[endpoint] = record }
            if let until = record.ejectedUntil, now < until { return nil }  // a request that started before
            record.consecutiveFailures += 1
            guard record.consecutiveFailures >= policy.consecutiveFailures else { return nil }
            let ejectedNow = endpoints.filter { other in
                other != endpoint && records[other]?.ejectedUntil.map { now < $0 } == true
            }.count
            guard ejectedNow < Self.maxEjected(of: endpoints.count, percent: policy.maxEjectionPercent) else { return nil }
            // Back for longer than its last ejection without failing again: it starts over.
            if let until = record.ejectedUntil, now - until > record.lastEjectionLength {
                record.ejections = 0
            }
            record.ejections += 1
            let length = min(policy.baseEjectionTime * record.ejections, policy.maxEjectionTime)
            record.lastEjectionLength = length
            record.ejectedUntil = now + length
            record.consecutiveFailures = 0
            return Ejection(endpoint: endpoint, duration: length, count: record.ejections)
        }
    }

    /// How many of `count` endpoints may be ejected at once: `percent` of them, at least one
    /// when there are two or more, never all of them.
    public static func maxEjected(of count: Int, percent: Int) -> Int {
        guard count >= 2 else { return 0 }
        return min(count - 1, max(1, count * percent / 100))
    }
}
