import NIOCore
import PorticoCore

/// The upstream connection an exchange's current try holds, or the slot of the upstream's
/// connection limit it waits for. Whether a connection is kept is the pool's decision
/// (``UpstreamConnectionPool/finishLease(of:reusable:maxRequests:)``).
struct UpstreamLease {
    private(set) var connection: UpstreamConnection?
    private var slotWait: (waiter: ConnectionLimiter.WaiterID, limiter: ConnectionLimiter)?

    /// How a try gets its connection.
    enum Acquisition {
        /// An idle pooled connection: attach it.
        case pooled(UpstreamConnection)
        /// A slot of the upstream's `maxConnections` is the try's: open a new connection.
        case open
        /// The try waits for a slot; `whenGranted` runs (on some thread) once one is its own.
        case queued
        /// Every slot is in use and the queue is full; the reason names the limits.
        case overflow(reason: String)
    }

    /// Starts a try to `endpoint` of `upstream`: an idle pooled connection if `reusePooled`
    /// and there is one, else a slot if `maxConnections` has room, else a wait for one if
    /// `maxPendingRequests` has room, else overflow. `whenGranted` is made only for a wait.
    mutating func acquire(
        _ endpoint: Endpoint, of upstream: UpstreamState, reusePooled: Bool, in pool: UpstreamConnectionPool,
        whenGranted: () -> @Sendable () -> Void
    ) -> Acquisition {
        let limiter = upstream.runtime.connections
        if reusePooled, let idle = pool.takeIdle(for: endpoint, limiter: limiter) { return .pooled(idle) }
        let definition = upstream.target.definition
        let maxPending = definition.maxPendingRequests ?? UpstreamDefinition.defaultMaxPendingRequests
        switch limiter.acquire(maxConnections: definition.maxConnections, maxPending: maxPending, whenGranted: whenGranted()) {
        case .granted:
            return .open
        case .queued(let waiter):
            slotWait = (waiter, limiter)
            return .queued
        case .overflow:
            let busy = definition.maxConnections ?? 0
            return .overflow(reason: "upstream overflow: \(busy) connections busy, \(maxPending) requests waiting")
        }
    }

    /// Attaches `connection` to the try: one more request on it, its events to `delegate`.
    mutating func hold(_ connection: UpstreamConnection, for delegate: UpstreamConnectionDelegate) {
        connection.requestCount += 1
        connection.handler.delegate = delegate
        self.connection = connection
    }

    /// The awaited slot arrived.
    mutating func slotGranted() {
        slotWait = nil
    }

    /// Gives up the try: stops waiting for a slot (one already on its way is given back when
    /// it arrives) and closes the connection.
    mutating func giveUp(in pool: UpstreamConnectionPool) {
        if let slotWait {
            self.slotWait = nil
            _ = slotWait.limiter.cancel(slotWait.waiter)
        }
        if let connection {
            self.connection = nil
            pool.close(connection)
        }
    }

    /// Ends the lease after a complete response.
    mutating func finish(in pool: UpstreamConnectionPool, reusable: Bool, maxRequests: Int?) {
        guard let connection else { return }
        self.connection = nil
        pool.finishLease(of: connection, reusable: reusable, maxRequests: maxRequests)
    }

    /// The connection closed by itself; returns how many requests it carried.
    mutating func connectionClosed() -> Int? {
        defer { connection = nil }
        return connection?.requestCount
    }

    /// Passes the connection on (to a tunnel); the lease no longer holds it.
    mutating func handOver() -> UpstreamConnection? {
        defer { connection = nil }
        connection?.handler.delegate = nil
        return connection
    }
}
