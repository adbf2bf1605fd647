import PorticoCore

/// One upstream as a request uses it: the snapshot's definition, the state that outlives
/// snapshots (``UpstreamRuntime``) and the snapshot's balancing.
struct UpstreamState: Sendable {
    let target: UpstreamTarget
    let runtime: UpstreamRuntime
    let balancer: EndpointBalancer
}

/// Everything the data plane reads for a request, frozen together: the route table, the
/// endpoints health checks took out of rotation, and beside each upstream and route the
/// state that changes while it serves. Each event loop holds the latest one, and a request
/// reads it once, at its head, without a lock; what it took from it stays its own to the end.
public final class DataPlaneSnapshot: Sendable {
    public let table: RouteTable
    public let health: UnhealthyEndpoints
    /// By ``UpstreamTarget/index``.
    let upstreams: [UpstreamState]
    /// By ``CompiledRoute/order``.
    let routeCounters: [RouteCounter]
    /// By ``CompiledRoute/order``; `nil` for routes without `rateLimit`.
    let rateLimiters: [RateLimiter?]
    /// By ``CompiledRoute/order``; `nil` for routes without `auth`.
    let authorizers: [RouteAuthorizer?]
    /// Counts requests that match no route (they run too, until answered).
    let unrouted: RouteCounter

    init(
        table: RouteTable, health: UnhealthyEndpoints, upstreams: [UpstreamState], routeCounters: [RouteCounter],
        rateLimiters: [RateLimiter?], authorizers: [RouteAuthorizer?], unrouted: RouteCounter
    ) {
        self.table = table
        self.health = health
        self.upstreams = upstreams
        self.routeCounters = routeCounters
        self.rateLimiters = rateLimiters
        self.authorizers = authorizers
        self.unrouted = unrouted
    }

    /// The same table with another health view.
    func with(health: UnhealthyEndpoints) -> DataPlaneSnapshot {
        DataPlaneSnapshot(
            table: table, health: health, upstreams: upstreams, routeCounters: routeCounters, rateLimiters: rateLimiters,
            authorizers: authorizers, unrouted: unrouted)
    }

    /// The auth of a route of this snapshot's table, when it has one.
    func authorizer(for route: CompiledRoute?) -> RouteAuthorizer? {
        guard let route, route.order < authorizers.count else { return nil }
        return authorizers[route.order]
    }

    /// The state of an upstream of this snapshot's table.
    func upstream(_ target: UpstreamTarget) -> UpstreamState { upstreams[target.index] }

    /// The in-flight counter of a route of this snapshot's table, or of requests without one.
    func counter(for route: CompiledRoute?) -> RouteCounter {
        guard let route else { return unrouted }
        return routeCounters[route.order]
    }

    /// The runtime state of the upstream named `name`, if the table has it.
    public func runtime(ofUpstream name: String) -> UpstreamRuntime? {
        table.upstreams[name].map { upstreams[$0.index].runtime }
    }

    /// Requests (and tunnels) running on this snapshot's routes, or without a route.
    var runningRequests: Int { routeCounters.reduce(unrouted.inFlightRequests) { $0 + $1.inFlightRequests } }
}
