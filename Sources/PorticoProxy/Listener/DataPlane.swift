import Foundation
import Logging
import NIOCore
import NIOPosix
import PorticoCore

/// The data plane shared by every listener: the active snapshot (route table and health),
/// the per-event-loop upstream pools and downstream connections, the state that outlives
/// snapshots, and the drains of retired routes.
///
/// The control plane publishes tables through ``publish(_:drainTimeout:)`` and health through
/// ``publishEndpointHealth(_:)``; both make one new ``DataPlaneSnapshot`` that each event
/// loop takes over on the loop, so its requests read it without a lock (Envoy's
/// thread-local snapshots).
public final class DataPlane: Sendable {
    /// The active route table, as the control plane reads it.
    public let routeTables: RouteTableStore
    /// What still runs on retired routes.
    public let drains = DrainTracker()
    let environment: ProxyEnvironment
    let states: EventLoopStates
    let logger: Logger
    private let snapshots: SnapshotStore<DataPlaneSnapshot>
    private let registry: RuntimeRegistry

    /// The gateway's metrics.
    public let metrics: GatewayMetrics

    /// The client of forward-auth calls and JWKS fetches.
    private let authClient: AuthHTTPClient

    /// - Parameters:
    ///   - group: The event loops the listeners serve on (forward-auth calls run on the
    ///     request's loop).
    ///   - spans: Where the spans of sampled requests go, for a ``SpanExporter``.
    public init(
        initialTable: RouteTable, configuration: ProxyConfiguration = .init(), metrics: GatewayMetrics = .discarding,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, spans: SpanQueue? = nil, logger: Logger
    ) {
        self.metrics = metrics
        self.logger = logger
        authClient = AuthHTTPClient(group: group)
        registry = RuntimeRegistry(
            metrics: metrics,
            auth: AuthEnvironment(client: authClient, routesDirectory: configuration.routesDirectory, logger: logger))
        metrics.routeTableVersion.record(Int64(clamping: initialTable.version))
        routeTables = RouteTableStore(initialTable)
        snapshots = SnapshotStore(registry.snapshot(of: initialTable, health: UnhealthyEndpoints()))
        var poolConfiguration = UpstreamConnectionPool.Configuration()
        poolConfiguration.maxIdlePerEndpoint = configuration.maxIdleUpstreamConnectionsPerEndpoint
        states = EventLoopStates(
            poolConfiguration: poolConfiguration, metrics: metrics, accessLog: configuration.accessLogLines.map { (logger.label, $0) })
        var accessLogger = logger
        accessLogger[metadataKey: "log"] = "access"
        environment = ProxyEnvironment(
            configuration: configuration, metrics: metrics, accessLogger: accessLogger, requestIDs: RequestIDGenerator(),
            spans: spans)
    }

    /// Stops what the auth checks run in the background (JWKS loads, the HTTP client's
    /// connections); call it once the listeners are closed.
    public func shutdown() async {
        registry.stopKeySources()
        await authClient.shutdown()
    }

    /// The snapshot new requests use.
    public var snapshot: DataPlaneSnapshot { snapshots.current }

    /// Swaps in `table` and drains what it retires (``RouteRetirement``): requests running on
    /// routes it removes or changes, or sent to endpoints it removes, keep their old
    /// definition until `drainTimeout`, then are ended and their connections closed. The
    /// others run on untouched. New requests use `table` once this returns.
    ///
    /// - Returns: The counters of the retired routes (``drains`` tracks those with requests
    ///   running) and the drain deadline.
    @discardableResult
    public func publish(_ table: RouteTable, drainTimeout: Duration) async -> (retired: [RouteCounter], deadline: Date) {
        let previousTable = routeTables.publish(table)
        let (previous, _) = snapshots.update { self.registry.snapshot(of: table, health: $0.health) }
        metrics.routeTableVersion.record(Int64(clamping: table.version))
        let retirement = previousTable.retirement(by: table)
        let retired = retirement.routes.map { previous.counter(for: $0) }
        let drainDeadline = Date() + Double(drainTimeout.wholeMilliseconds) / 1000
        drains.retire(retired, deadline: drainDeadline)
        let deadline = NIODeadline.now() + .milliseconds(drainTimeout.wholeMilliseconds)
        let snapshots = self.snapshots
        await states.forEach { state in
            state.apply(snapshots.current, retirement: retirement, deadline: deadline)
        }
        return (retired, drainDeadline)
    }

    /// Swaps in a new health snapshot: each event loop takes the latest snapshot when its
    /// update runs, so updates arriving out of order still end on the newest.
    public func publishEndpointHealth(_ health: UnhealthyEndpoints) {
        snapshots.update { $0.with(health: health) }
        let snapshots = self.snapshots
        states.forEachSoon { state in state.take(snapshots.current) }
    }

    /// Requests and tunnels running now: on the active snapshot's routes, on retired ones,
    /// or without a route. Shutdown waits for it to reach zero.
    public func runningRequests() -> Int {
        snapshot.runningRequests + drains.drainingRequests()
    }

    func state(for eventLoop: EventLoop) -> EventLoopState {
        states.state(for: eventLoop, snapshot: self.snapshots.current)
    }
}
