import PorticoCore

/// The upstream connection an exchange's current try holds, or the slot of the upstream's
/// connection limit it waits for. Whether a connection is kept is the pool's decision
/// (``UpstreamConnectionPool/finishLease(of:reusable:maxRequests:)``).
struct UpstreamLease {
    private(set) var connection: UpstreamConnection?
    private var slotWait: (waiter: ConnectionLimiter.WaiterID, limiter: ConnectionLimiter)?

    mutating func hold(_ connection: UpstreamConnection) {
        self.connection = connection
    }

    mutating func wait(for waiter: ConnectionLimiter.WaiterID, on limiter: ConnectionLimiter) {
        slotWait = (waiter, limiter)
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
