import NIOCore
import PorticoCore
import Synchronization

/// What one event loop of the data plane owns: its upstream pool and the downstream
/// connections it serves. Only that loop touches it, so it needs no lock.
final class EventLoopState {
    let eventLoop: EventLoop
    let pool: UpstreamConnectionPool
    let metrics: RequestMetricsCache
    /// This loop's access-log lines, when they are written as JSON by the data plane.
    let accessLog: AccessLogBuffer?
    /// This loop's copy of the active snapshot: what its requests read at their head. (Only
    /// its loop touches it, one access at a time: no runtime exclusivity check.)
    @exclusivity(unchecked) private(set) var snapshot: DataPlaneSnapshot
    /// Open downstream connections, so that retired routes can be drained on them.
    private var connections: [ObjectIdentifier: any DrainableConnection] = [:]
    /// The snapshot's upstream sides, by ``UpstreamTarget/index``, made on first use: a
    /// request takes one without allocating.
    @exclusivity(unchecked) private var selectors: [EndpointSelector?] = []

    /// This loop's dice for weighted splits: SplitMix64, seeded once, so that a split costs no
    /// system call per request.
    @exclusivity(unchecked) private var randomState = UInt64.random(in: .min ... .max)

    /// A whole number in `0..<bound` (bound > 0), from this loop's dice.
    func roll(_ bound: Int) -> Int {
        Int(nextRandom() % UInt64(bound))
    }

    /// ``roll(_:)`` and ``nextRandom()`` as the router takes them, made once per loop rather
    /// than on every connection. They are this state's own and called only while a request
    /// of its loop runs, so they cannot outlive it: no reference count is taken per call.
    private(set) lazy var rollFunction: (Int) -> Int = { [unowned(unsafe) self] in self.roll($0) }
    private(set) lazy var randomFunction: () -> UInt64 = { [unowned(unsafe) self] in self.nextRandom() }

    /// The dice's next 64 bits (trace and span ids, sampling).
    func nextRandom() -> UInt64 {
        randomState &+= 0x9E37_79B9_7F4A_7C15
        var z = randomState
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    init(
        eventLoop: EventLoop, pool: UpstreamConnectionPool, metrics: RequestMetricsCache, accessLog: AccessLogBuffer? = nil,
        snapshot: DataPlaneSnapshot
    ) {
        self.accessLog = accessLog
        self.eventLoop = eventLoop
        self.pool = pool
        self.metrics = metrics
        self.snapshot = snapshot
        selectors = Array(repeating: nil, count: snapshot.upstreams.count)
        pool.referencedEndpoints = snapshot.table.endpoints
    }

    /// The upstream side of `target`, an upstream of ``snapshot``'s table, for its requests.
    func selector(for target: UpstreamTarget, make: (UpstreamState, UnhealthyEndpoints) -> EndpointSelector) -> EndpointSelector {
        if let made = selectors[target.index] { return made }
        let made = make(snapshot.upstream(target), snapshot.health)
        selectors[target.index] = made
        return made
    }

    /// Takes over a newer snapshot; idle upstream connections to endpoints it no longer
    /// names are closed.
    func take(_ newer: DataPlaneSnapshot) {
        let tableChanged = newer.table !== snapshot.table
        snapshot = newer
        selectors = Array(repeating: nil, count: newer.upstreams.count)
        if tableChanged { pool.referencedEndpoints = newer.table.endpoints }
    }

    func register(_ connection: any DrainableConnection) {
        connections[ObjectIdentifier(connection)] = connection
    }

    func deregister(_ connection: any DrainableConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    /// A new table was published: this loop takes the latest snapshot, and work the table
    /// retires gets `deadline`.
    func apply(_ latest: DataPlaneSnapshot, retirement: RouteRetirement, deadline: NIODeadline) {
        take(latest)
        if !retirement.isEmpty {
            for connection in connections.values {
                connection.drain(retirement, deadline: deadline)
            }
        }
    }
}

/// A downstream connection that a route retirement can reach: an HTTP connection with its
/// running exchange, or a tunnel made by an upgrade.
protocol DrainableConnection: AnyObject {
    /// A new snapshot was published; work running here that it retires ends at `deadline`.
    func drain(_ retirement: RouteRetirement, deadline: NIODeadline)
}

/// The ``EventLoopState`` of every event loop that has served a connection.
final class EventLoopStates: Sendable {
    private let poolConfiguration: UpstreamConnectionPool.Configuration
    private let metrics: GatewayMetrics
    private let states = Mutex<[ObjectIdentifier: NIOLoopBound<EventLoopState>]>([:])

    private let accessLog: (label: String, write: @Sendable (UnsafeRawBufferPointer) -> Void)?

    init(
        poolConfiguration: UpstreamConnectionPool.Configuration, metrics: GatewayMetrics,
        accessLog: (label: String, write: @Sendable (UnsafeRawBufferPointer) -> Void)? = nil
    ) {
        self.accessLog = accessLog
        self.poolConfiguration = poolConfiguration
        self.metrics = metrics
    }

    /// The state of `eventLoop`, made on first use; must be called on that loop. Looked up
    /// once per downstream connection, never per request. A new state reads the snapshot
    /// under the same lock that ``forEachSoon(_:)`` lists states with, so it either sees a
    /// snapshot published before or receives its update.
    func state(for eventLoop: EventLoop, snapshot: @autoclosure () -> DataPlaneSnapshot) -> EventLoopState {
        eventLoop.preconditionInEventLoop()
        let key = ObjectIdentifier(eventLoop)
        let configuration = poolConfiguration
        let metrics = self.metrics
        let accessLog = self.accessLog
        let bound: NIOLoopBound<EventLoopState> = states.withLock { states in
            if let existing = states[key] { return existing }
            let pool = UpstreamConnectionPool(eventLoop: eventLoop, configuration: configuration)
            let created = NIOLoopBound(
                EventLoopState(
                    eventLoop: eventLoop, pool: pool, metrics: RequestMetricsCache(metrics: metrics),
                    accessLog: accessLog.map { AccessLogBuffer(eventLoop: eventLoop, label: $0.label, write: $0.write) },
                    snapshot: snapshot()),
                eventLoop: eventLoop)
            states[key] = created
            return created
        }
        return bound.value
    }

    /// Runs `body` on every loop with its state; completes when all have run.
    func forEach(_ body: @escaping @Sendable (EventLoopState) -> Void) async {
        let all = states.withLock { Array($0.values) }
        await withTaskGroup(of: Void.self) { group in
            for bound in all {
                group.addTask {
                    try? await bound.eventLoop.submit { body(bound.value) }.get()
                }
            }
        }
    }

    /// Schedules `body` on every loop with its state, without waiting for it.
    func forEachSoon(_ body: @escaping @Sendable (EventLoopState) -> Void) {
        for bound in states.withLock({ Array($0.values) }) {
            bound.eventLoop.execute { body(bound.value) }
        }
    }
}
