import PorticoCore
import Synchronization

/// Counts the connections open to one upstream across every event loop, and holds the
/// requests waiting for one when `maxConnections` are open (Envoy's connection and pending
/// request circuit breakers).
///
/// A slot is taken before a connection is opened and given back when it closes; a slot
/// given back while requests wait passes to the first of them instead of being freed, so
/// the count never exceeds the limit. Thread-safe; a connection's owner calls it from any
/// event loop.
public final class ConnectionLimiter: Sendable {
    /// Identifies one waiting request.
    public struct WaiterID: Hashable, Sendable {
        let value: UInt64
    }

    /// The answer to ``acquire(maxConnections:maxPending:whenGranted:)``.
    public enum Admission: Sendable, Equatable {
        /// A slot is the caller's: open the connection.
        case granted
        /// The caller waits; `whenGranted` runs (on some thread) once a slot is its own.
        case queued(WaiterID)
        /// Every slot is in use and the queue is full: answer at once.
        case overflow
    }

    private struct Waiter {
        var id: WaiterID
        var grant: @Sendable () -> Void
    }

    private struct State {
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        /// Called to close one idle connection somewhere, so that its slot goes to a waiter.
        var idleClosers: [ObjectIdentifier: @Sendable () -> Void] = [:]
    }

    private static let nextID = Atomic<UInt64>(0)

    /// Unique for the life of the process (an address may be reused, this is not).
    public let id = ConnectionLimiter.nextID.wrappingAdd(1, ordering: .relaxed).newValue

    private let state = Mutex(State())
    /// Connections kept idle in some event loop's pool (they hold a slot).
    private let idle = Atomic<Int>(0)
    /// The number of waiters, readable without the lock (every pooled release asks).
    private let waiting = Atomic<Int>(0)

    public init() {}

    /// Connections open now, idle or busy.
    public var openConnections: Int { state.withLock { $0.open } }

    /// Requests waiting for a slot now.
    public var waitingRequests: Int { state.withLock { $0.waiters.count } }

    /// Whether requests wait for a slot: a connection that becomes idle should be closed.
    public var hasWaiters: Bool { waiting.load(ordering: .relaxed) > 0 }

    /// Takes a slot for a new connection, or queues for one, or refuses.
    ///
    /// - Parameters:
    ///   - maxConnections: The upstream's limit; `nil` grants every time (still counted).
    ///   - maxPending: Requests that may wait at once.
    ///   - whenGranted: Runs once when a queued request gets its slot.
    public func acquire(maxConnections: Int?, maxPending: Int, whenGranted: @escaping @Sendable () -> Void) -> Admission {
        let (admission, closers): (Admission, [@Sendable () -> Void]) = state.withLock { state in
            guard let maxConnections, state.open >= maxConnections else {
                state.open += 1
                return (.granted, [])
            }
            // Idle connections (in other event loops' pools) are closed for waiters, so as
            // many requests as there are idle connections may wait beyond `maxPending`.
            let idleNow = idle.load(ordering: .relaxed)
            guard state.waiters.count < maxPending + idleNow else { return (.overflow, []) }
            let id = WaiterID(value: state.nextWaiter)
            state.nextWaiter += 1
            state.waiters.append(Waiter(id: id, grant: whenGranted))
            waiting.store(state.waiters.count, ordering: .relaxed)
            // A slot held by an idle connection (in another event loop's pool) is freed for
            // the waiter: each pool closes one, if it has one.
            return (.queued(id), idleNow > 0 ? Array(state.idleClosers.values) : [])
        }
        for close in closers { close() }
        return admission
    }

    /// Stops waiting. Returns `false` when the slot was granted already: its `whenGranted`
    /// runs (or ran) and the caller must ``release()`` the slot it no longer wants.
    public func cancel(_ id: WaiterID) -> Bool {
        state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return false }
            state.waiters.remove(at: index)
            waiting.store(state.waiters.count, ordering: .relaxed)
            return true
        }
    }

    /// Gives a slot back (a connection closed, or a failed connect): the first waiter gets it.
    public func release() {
        let grant: (@Sendable () -> Void)? = state.withLock { state in
            if state.waiters.isEmpty {
                state.open -= 1
                return nil
            }
            let waiter = state.waiters.removeFirst()
            waiting.store(state.waiters.count, ordering: .relaxed)
            return waiter.grant
        }
        grant?()
    }

    /// A connection went into an idle pool (`+1`) or left it (`-1`), taken or closed.
    public func idleChanged(by delta: Int) {
        idle.wrappingAdd(delta, ordering: .relaxed)
    }

    /// Registers the way to close one idle connection of this upstream held by `owner` (an
    /// event loop's pool); called when a waiter could use that connection's slot.
    public func registerIdleCloser(for owner: ObjectIdentifier, _ close: @escaping @Sendable () -> Void) {
        state.withLock { state in
            if state.idleClosers[owner] == nil { state.idleClosers[owner] = close }
        }
    }
}
