import Logging
import NIOCore
import PorticoCore

/// The data plane shared by every listener: the active route table, the per-event-loop
/// upstream pools and downstream connections, and the settings they run with.
///
/// The control plane publishes snapshots through ``publish(_:drainTimeout:)``; requests
/// read the active one once, at their head.
public final class DataPlane: Sendable {
    /// The active route table.
    public let routeTables: RouteTableStore
    /// Endpoints that active health checks took out of rotation; each event loop keeps a
    /// copy that its requests read (see ``publishEndpointHealth(_:)``).
    public let endpointHealth = SnapshotStore(UnhealthyEndpoints())
    let environment: ProxyEnvironment
    let states: EventLoopStates
    let logger: Logger

    /// The gateway's metrics.
    public let metrics: GatewayMetrics

    public init(
        initialTable: RouteTable, configuration: ProxyConfiguration = .init(), metrics: GatewayMetrics = .discarding,
        logger: Logger
    ) {
        self.metrics = metrics
        self.logger = logger
        metrics.routeTableVersion.record(Int64(clamping: initialTable.version))
        routeTables = RouteTableStore(initialTable)
        var poolConfiguration = UpstreamConnectionPool.Configuration()
        poolConfiguration.maxIdlePerEndpoint = configuration.maxIdleUpstreamConnectionsPerEndpoint
        states = EventLoopStates(poolConfiguration: poolConfiguration, metrics: metrics)
        var accessLogger = logger
        accessLogger[metadataKey: "log"] = "access"
        environment = ProxyEnvironment(
            configuration: configuration, routeTables: routeTables, metrics: metrics,
            accessLogger: accessLogger, requestIDs: RequestIDGenerator())
    }

    /// Swaps in `table` and drains what it retires (``RouteRetirement``): requests running on
    /// routes it removes or changes, or sent to endpoints it removes, keep their old
    /// definition until `drainTimeout`, then are ended and their connections closed. The
    /// others run on untouched. New requests use `table` at once.
    ///
    /// - Returns: The retired routes with their drain deadline, for status reporting.
    @discardableResult
    public func publish(_ table: RouteTable, drainTimeout: Duration) async -> (retired: [CompiledRoute], deadline: NIODeadline) {
        let previous = routeTables.publish(table)
        metrics.routeTableVersion.record(Int64(clamping: table.version))
        let retirement = previous.retirement(by: table)
        let deadline = NIODeadline.now() + .milliseconds(drainTimeout.wholeMilliseconds)
        let endpoints = table.endpoints
        await states.forEach { state in
            state.apply(retirement, deadline: deadline, endpoints: endpoints)
        }
        return (retirement.routes, deadline)
    }

    /// Swaps in a new health snapshot: each event loop's copy is replaced on that loop, so
    /// a request reads health without a lock or an atomic (Envoy's thread-local snapshots).
    /// Each loop takes the latest snapshot when its update runs, so updates arriving out of
    /// order still end on the newest.
    public func publishEndpointHealth(_ snapshot: UnhealthyEndpoints) {
        endpointHealth.publish(snapshot)
        let store = endpointHealth
        states.forEachSoon { state in state.unhealthyEndpoints = store.current }
    }

    /// Requests being served across all event loops.
    public func activeRequests() async -> Int {
        await states.map { $0.activeExchangeCount }.reduce(0, +)
    }

    func state(for eventLoop: EventLoop) -> EventLoopState {
        states.state(for: eventLoop, endpoints: self.routeTables.current.endpoints, unhealthy: self.endpointHealth.current)
    }
}
