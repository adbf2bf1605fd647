import PorticoCore
import Synchronization

/// Holds the active ``RouteTable`` snapshot and publishes new ones with one reference store.
///
/// The data plane reads ``current`` once per request head and keeps that snapshot for the
/// whole request, so a swap never changes a request that is already running.
public final class RouteTableStore: Sendable {
    private let table: Mutex<RouteTable>

    public init(_ initial: RouteTable = .empty()) {
        table = Mutex(initial)
    }

    /// The active snapshot.
    public var current: RouteTable {
        table.withLock { $0 }
    }

    /// Makes `newTable` the active snapshot and returns the one it replaced.
    @discardableResult
    public func publish(_ newTable: RouteTable) -> RouteTable {
        table.withLock { active in
            let previous = active
            active = newTable
            return previous
        }
    }
}
