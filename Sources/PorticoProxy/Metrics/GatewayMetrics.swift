import CoreMetrics
import Metrics

/// The gateway's metrics (SPEC §11), made through one explicit factory so tests can inject
/// their own. Handles of fixed label sets are made here once; per-route and per-upstream
/// handles are made on first use and cached per event loop (``RequestMetricsCache``).
public final class GatewayMetrics: Sendable {
    /// The histogram buckets of request durations: 0.5 ms to 30 s.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30),
    ]

    let factory: any MetricsFactory
    /// Downstream client connections open now.
    public let activeConnections: Meter
    /// The active route table's version.
    public let routeTableVersion: Gauge
    /// Requests still running on retired routes.
    public let drainingRequests: Gauge
    /// Accepted configuration changes.
    public let configReloadsAccepted: Counter
    /// Refused configuration changes.
    public let configReloadsRejected: Counter
    /// Tenant ports allocated.
    public let portPoolAllocated: Gauge
    /// Tenant ports that can be allocated at all.
    public let portPoolCapacity: Gauge
    /// TLS handshakes completed on the HTTPS listener.
    public let tlsHandshakesCompleted: Counter
    /// TLS handshakes that failed (bad protocol version, no shared cipher, client gave up with an alert).
    public let tlsHandshakesFailed: Counter
    /// Spans lost: the export queue was full, or their batch could not be delivered (SPEC §16).
    public let traceSpansDropped: Counter
    /// Spans an OTLP collector accepted.
    public let traceSpansExported: Counter

    public init(factory: any MetricsFactory) {
        self.factory = factory
        activeConnections = Meter(label: "portico_active_connections", factory: factory)
        routeTableVersion = Gauge(label: "portico_route_table_version", factory: factory)
        drainingRequests = Gauge(label: "portico_draining_requests", factory: factory)
        configReloadsAccepted = Counter(label: "portico_config_reloads_total", dimensions: [("result", "accepted")], factory: factory)
        configReloadsRejected = Counter(label: "portico_config_reloads_total", dimensions: [("result", "rejected")], factory: factory)
        portPoolAllocated = Gauge(label: "portico_port_pool_allocated", factory: factory)
        portPoolCapacity = Gauge(label: "portico_port_pool_capacity", factory: factory)
        tlsHandshakesCompleted = Counter(label: "portico_tls_handshakes_total", dimensions: [("result", "success")], factory: factory)
        tlsHandshakesFailed = Counter(label: "portico_tls_handshakes_total", dimensions: [("result", "failure")], factory: factory)
        traceSpansDropped = Counter(label: "portico_trace_spans_dropped_total", factory: factory)
        traceSpansExported = Counter(label: "portico_trace_spans_exported_total", factory: factory)
    }

    /// Metrics that go nowhere, for tests that do not look at them.
    public static let discarding = GatewayMetrics(factory: NOOPMetricsHandler.instance)

    func requestCounter(route: String, code: Int) -> Counter {
        Counter(label: "portico_requests_total", dimensions: [("route", route), ("code", String(code))], factory: factory)
    }

    /// Requests to a tenant's routes (`portico_tenant_requests_total`, SPEC §15).
    func tenantRequestCounter(tenant: String, code: Int) -> Counter {
        Counter(label: "portico_tenant_requests_total", dimensions: [("tenant", tenant), ("code", String(code))], factory: factory)
    }

    func upstreamResponseCounter(upstream: String, code: Int) -> Counter {
        Counter(label: "portico_upstream_requests_total", dimensions: [("upstream", upstream), ("code", String(code))], factory: factory)
    }

    /// Requests a route's `rateLimit` answered 429 (`portico_rate_limited_total`).
    func rateLimitedCounter(route: String) -> Counter {
        Counter(label: "portico_rate_limited_total", dimensions: [("route", route)], factory: factory)
    }

    /// Requests a route's `auth` let through, refused, or could not decide on
    /// (`portico_auth_total{route,result}`).
    func authCounter(route: String, result: String) -> Counter {
        Counter(label: "portico_auth_total", dimensions: [("route", route), ("result", result)], factory: factory)
    }

    func requestDuration(route: String) -> Timer {
        Timer(label: "portico_request_duration_seconds", dimensions: [("route", route)], preferredDisplayUnit: .seconds, factory: factory)
    }

    /// A counter of an upstream's events by kind: `portico_upstream_errors_total`,
    /// `portico_upstream_retries_total`, `portico_upstream_overflow_total`.
    func upstreamCounter(_ label: String, upstream: String, kind: String) -> Counter {
        Counter(label: label, dimensions: [("upstream", upstream), ("kind", kind)], factory: factory)
    }

    /// Passive ejections of an endpoint (`portico_upstream_ejections_total`); rare, so made
    /// when counted.
    func recordEjection(upstream: String, endpoint: String) {
        Counter(label: "portico_upstream_ejections_total", dimensions: [("upstream", upstream), ("endpoint", endpoint)], factory: factory)
            .increment()
    }

    /// Whether an endpoint passes its active health checks (1) or not (0).
    public func endpointHealthy(upstream: String, endpoint: String) -> Gauge {
        Gauge(label: "portico_upstream_endpoint_healthy", dimensions: [("upstream", upstream), ("endpoint", endpoint)], factory: factory)
    }
}

/// Per-event-loop cache of the handles a request records into, so the hot path makes no
/// handle and takes no lock to find one: two dictionary lookups and the records themselves.
final class RequestMetricsCache {
    private struct RouteHandles {
        let duration: Timer
        var counters: [Int: Counter] = [:]
    }

    private let metrics: GatewayMetrics
    private var routes: [String: RouteHandles] = [:]
    private var upstreamCounters: [String: Counter] = [:]
    private var upstreamResponses: [String: [Int: Counter]] = [:]
    private var tenantRequests: [String: [Int: Counter]] = [:]

    init(metrics: GatewayMetrics) {
        self.metrics = metrics
    }

    /// Counts a finished request of `route` (`no_route` when none matched) with its status.
    func recordRequest(route: String, status: Int, nanoseconds: Int64) {
        if routes[route] == nil {
            routes[route] = RouteHandles(duration: metrics.requestDuration(route: route))
        }
        let counter: Counter
        if let existing = routes[route]!.counters[status] {
            counter = existing
        } else {
            counter = metrics.requestCounter(route: route, code: status)
            routes[route]!.counters[status] = counter
        }
        counter.increment()
        routes[route]!.duration.recordNanoseconds(nanoseconds)
    }

    /// Counts a finished request of a tenant's route with its status.
    func recordTenantRequest(tenant: String, status: Int) {
        Self.increment(&tenantRequests, tenant, status, make: metrics.tenantRequestCounter)
    }

    /// Counts a response an upstream served, by its status (`portico_upstream_requests_total`).
    func recordUpstreamResponse(upstream: String, status: Int) {
        Self.increment(&upstreamResponses, upstream, status, make: metrics.upstreamResponseCounter)
    }

    /// Increments the counter of `name` and `status` in `cache`, made on first use.
    private static func increment(
        _ cache: inout [String: [Int: Counter]], _ name: String, _ status: Int, make: (String, Int) -> Counter
    ) {
        if let counter = cache[name]?[status] { return counter.increment() }
        let counter = make(name, status)
        cache[name, default: [:]][status] = counter
        counter.increment()
    }

    /// Counts an upstream failure of `kind` (`connect`, `reset`, `timeout`).
    func recordUpstreamError(upstream: String, kind: String) {
        incrementUpstreamCounter("portico_upstream_errors_total", upstream: upstream, kind: kind)
    }

    /// Counts a request sent again after a failure of `kind` (``TryFailure/label``).
    func recordRetry(upstream: String, kind: String) {
        incrementUpstreamCounter("portico_upstream_retries_total", upstream: upstream, kind: kind)
    }

    /// Counts a request refused by a limit: `pending` (answered 503 as `maxConnections` were
    /// busy and `maxPendingRequests` waited) or `retry_budget` (a retry not made).
    func recordOverflow(upstream: String, kind: String) {
        incrementUpstreamCounter("portico_upstream_overflow_total", upstream: upstream, kind: kind)
    }

    private func incrementUpstreamCounter(_ label: String, upstream: String, kind: String) {
        let key = label + "\u{0}" + upstream + "\u{0}" + kind
        if let counter = upstreamCounters[key] {
            counter.increment()
        } else {
            let counter = metrics.upstreamCounter(label, upstream: upstream, kind: kind)
            upstreamCounters[key] = counter
            counter.increment()
        }
    }
}
