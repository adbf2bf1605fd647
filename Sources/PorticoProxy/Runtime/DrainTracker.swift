import Foundation
import Synchronization

/// The one place that knows what still runs on retired routes (SPEC §5): `/v1/status` lists
/// it, `portico_draining_requests` sums it, and shutdown waits for it together with the
/// active snapshot's requests.
public final class DrainTracker: Sendable {
    /// A retired route with requests still running on its definition.
    public struct DrainingRoute: Sendable {
        public let route: String
        public let inFlight: Int
        /// When the requests still running are ended.
        public let deadline: Date
    }

    private struct Entry {
        let counter: RouteCounter
        let deadline: Date
    }

    private let entries = Mutex<[Entry]>([])

    /// Tracks the counters of routes a new snapshot retired, until their requests end or
    /// the drain deadline passes.
    func retire(_ counters: [RouteCounter], deadline: Date) {
        let running = counters.filter { $0.inFlightRequests > 0 }
        guard !running.isEmpty else { return }
        entries.withLock { $0 += running.map { Entry(counter: $0, deadline: deadline) } }
    }

    /// Retired routes with requests still running, with their drain deadlines; a route is
    /// listed until its requests end, and for a second past its deadline while the deadline
    /// ends them.
    public func drainingRoutes(now: Date = Date()) -> [DrainingRoute] {
        entries.withLock { entries in
            entries.removeAll { $0.counter.inFlightRequests <= 0 || $0.deadline < now.addingTimeInterval(-1) }
            return entries.map { DrainingRoute(route: $0.counter.name, inFlight: $0.counter.inFlightRequests, deadline: $0.deadline) }
        }
    }

    /// Requests still running on retired routes.
    public func drainingRequests(now: Date = Date()) -> Int {
        drainingRoutes(now: now).reduce(0) { $0 + $1.inFlight }
    }
}
