import Logging
import PorticoCore

/// The upstream side of one exchange, as ``ExchangeStateMachine`` sees it: endpoint choice
/// (the upstream's balancing over the endpoints in rotation), the retry budget, passive
/// ejection and the counters that follow a request. The data plane uses
/// ``EndpointSelector``; tests use a fixed list.
protocol ExchangeUpstream: AnyObject {
    /// Endpoints the upstream defines.
    var endpointCount: Int { get }
    /// The endpoint the upstream's policy picks, leaving out those out of rotation and, when
    /// `excluding` is given, those already tried; a retry does not move the rotation.
    func endpoint(excluding tried: [Endpoint]?, retrying: Bool) -> Endpoint?
    /// Takes a place in the upstream's retry budget if it has room.
    func admitRetry() -> Bool
    /// A try ended: feeds passive outlier ejection (when the upstream has it).
    func recordOutcome(of endpoint: Endpoint, failed: Bool)
    /// Counts `portico_upstream_errors_total{kind}`.
    func recordError(kind: String)
    /// Counts `portico_upstream_retries_total{kind}`.
    func recordRetry(kind: String)
    /// The request runs on `endpoint` now (after `previous`, for a retry).
    func requestMoved(from previous: Endpoint?, to endpoint: Endpoint)
    /// The request that ran on `endpoint` ended.
    func requestEnded(on endpoint: Endpoint, heldRetryBudget: Bool)
}

/// The upstream side of one request in the data plane. Picks endpoints by the health view
/// the request started with and the upstream's passive ejections (SPEC §6): leaves out
/// endpoints health checks took out of rotation, then ejected ones, then those the request
/// tried. An ejected endpoint is still used when nothing else is left (health checks may have
/// taken the others). Keeps the upstream's counters and metrics as the request moves.
final class EndpointSelector: ExchangeUpstream {
    let upstream: UpstreamState
    let unhealthy: UnhealthyEndpoints
    let metrics: RequestMetricsCache
    let gatewayMetrics: GatewayMetrics
    let logger: Logger

    init(upstream: UpstreamState, unhealthy: UnhealthyEndpoints, metrics: RequestMetricsCache, gatewayMetrics: GatewayMetrics, logger: Logger) {
        self.upstream = upstream
        self.unhealthy = unhealthy
        self.metrics = metrics
        self.gatewayMetrics = gatewayMetrics
        self.logger = logger
    }

    private var definition: UpstreamDefinition { upstream.target.definition }
    var endpointCount: Int { definition.endpoints.count }

    func endpoint(excluding tried: [Endpoint]?, retrying: Bool) -> Endpoint? {
        let name = definition.name
        let unhealthy = self.unhealthy
        let balancer = upstream.balancer
        // Closures written at the calls, not kept in a local: a closure held in a constant
        // and captured by another had its context allocated on every request.
        if definition.outlierDetection != nil {
            let now = ContinuousClock.now
            let outliers = upstream.runtime.outliers
            let endpoint = balancer.nextEndpoint(
                skipping: { Self.isUnavailable($0, tried: tried, unhealthy: unhealthy, upstream: name) || outliers.isEjected($0, now: now) },
                advancing: !retrying)
            if let endpoint { return endpoint }
        }
        return balancer.nextEndpoint(
            skipping: { Self.isUnavailable($0, tried: tried, unhealthy: unhealthy, upstream: name) }, advancing: !retrying)
    }

    /// Tried already by this request, or out of rotation by health checks.
    private static func isUnavailable(_ endpoint: Endpoint, tried: [Endpoint]?, unhealthy: UnhealthyEndpoints, upstream: String) -> Bool {
        (tried?.contains(endpoint) ?? false) || unhealthy.contains(upstream: upstream, endpoint: endpoint)
    }

    func admitRetry() -> Bool {
        guard upstream.runtime.startRetry(within: definition.retryBudget) else {
            metrics.recordOverflow(upstream: definition.name, kind: "retry_budget")
            return false
        }
        return true
    }

    func recordOutcome(of endpoint: Endpoint, failed: Bool) {
        guard let policy = definition.outlierDetection else { return }
        let outliers = upstream.runtime.outliers
        guard failed else {
            outliers.recordSuccess(endpoint, now: .now)
            return
        }
        guard let ejection = outliers.recordFailure(endpoint, policy: policy, endpoints: definition.endpoints, now: .now)
        else { return }
        gatewayMetrics.recordEjection(upstream: definition.name, endpoint: endpoint.description)
        logger.warning(
            "endpoint ejected",
            metadata: [
                "upstream": .string(definition.name), "endpoint": .string(endpoint.description),
                "seconds": .string(String(ejection.duration.components.seconds)), "ejections": .string(String(ejection.count)),
            ])
    }

    func recordError(kind: String) {
        metrics.recordUpstreamError(upstream: definition.name, kind: kind)
    }

    func recordRetry(kind: String) {
        metrics.recordRetry(upstream: definition.name, kind: kind)
    }

    func requestMoved(from previous: Endpoint?, to endpoint: Endpoint) {
        if let previous {
            upstream.balancer.requestEnded(on: previous)
        } else {
            upstream.runtime.requestStarted()
        }
        upstream.balancer.requestStarted(on: endpoint)
    }

    func requestEnded(on endpoint: Endpoint, heldRetryBudget: Bool) {
        upstream.balancer.requestEnded(on: endpoint)
        upstream.runtime.requestEnded()
        if heldRetryBudget { upstream.runtime.retryEnded() }
    }
}
