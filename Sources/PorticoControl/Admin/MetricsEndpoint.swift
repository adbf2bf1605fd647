import Metrics
import PorticoProxy
import Prometheus

/// `GET /metrics`: the Prometheus text of the gateway's registry. Gauges that describe
/// control-plane state (draining requests, port pool) are read when scraped.
public struct MetricsEndpoint: Sendable {
    /// The registry the gateway's metrics are made in.
    public let registry: PrometheusCollectorRegistry
    /// The gateway's metric handles, made through this registry.
    public let metrics: GatewayMetrics

    /// A registry and handles for one gateway, with request-duration buckets suited to a
    /// proxy (0.5 ms to 30 s).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = GatewayMetrics.durationBuckets
        metrics = GatewayMetrics(factory: factory)
    }

    func render(controller: RouteController, ports: PortAllocator) async -> [UInt8] {
        let draining = controller.drains.drainingRequests()
        metrics.drainingRequests.record(Int64(draining))
        let pool = await ports.snapshot
        metrics.portPoolAllocated.record(Int64(pool.allocated))
        metrics.portPoolCapacity.record(Int64(pool.capacity))
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
