import PorticoCore
import Synchronization

/// Requests running on one route definition, across every table that kept the definition
/// unchanged: what a drain waits for and reports.
public final class RouteCounter: Sendable {
    /// The route's name.
    public let name: String
    /// The definition counted; a table that changes it starts a new counter.
    let definition: RouteDefinition?
    private let value = Atomic<Int>(0)

    init(_ route: CompiledRoute) {
        name = route.name
        definition = route.definition
    }

    /// A counter of requests that match no route.
    init(name: String) {
        self.name = name
        definition = nil
    }

    /// Requests running now.
    public var inFlightRequests: Int { value.load(ordering: .relaxed) }

    /// Counts a request (or a tunnel) that starts on the route.
    func started() { value.wrappingAdd(1, ordering: .relaxed) }

    /// Counts one that ended, however it ended.
    func ended() { value.wrappingSubtract(1, ordering: .relaxed) }
}
