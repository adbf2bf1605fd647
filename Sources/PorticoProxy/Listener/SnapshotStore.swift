import PorticoCore
import Synchronization

/// Holds an immutable snapshot — a route table, a certificate set — and publishes new ones
/// with one reference store.
///
/// The data plane reads ``current`` once per request head (or TLS handshake) and keeps that
/// snapshot to the end, so a swap never changes what is already running.
public final class SnapshotStore<Snapshot: Sendable>: Sendable {
    fileprivate let snapshot: Mutex<Snapshot>

    public init(_ initial: Snapshot) {
        snapshot = Mutex(initial)
    }

    /// The active snapshot.
    public var current: Snapshot {
        snapshot.withLock { $0 }
    }

    /// Makes `newSnapshot` the active one and returns the one it replaced.
    @discardableResult
    public func publish(_ newSnapshot: Snapshot) -> Snapshot {
        snapshot.withLock { active in
            let previous = active
            active = newSnapshot
            return previous
        }
    }
}

extension SnapshotStore {
    /// Replaces the active snapshot with one made from it, under the store's lock, so that
    /// two publishers never lose each other's change; returns the one replaced and the new one.
    @discardableResult
    func update(_ body: (Snapshot) -> Snapshot) -> (previous: Snapshot, current: Snapshot) {
        snapshot.withLock { active in
            let previous = active
            active = body(previous)
            return (previous, active)
        }
    }
}

/// The active ``RouteTable``.
public typealias RouteTableStore = SnapshotStore<RouteTable>
