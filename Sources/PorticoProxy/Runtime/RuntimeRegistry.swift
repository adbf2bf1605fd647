import Logging
import NIOPosix
import PorticoCore
import Synchronization

/// The data plane's state that outlives snapshots, handed from each table to the next: an
/// upstream keeps its ``UpstreamRuntime`` (connections, ejections, running requests and
/// retries) by name, so a route change does not reset limits or ejections; a route keeps its
/// ``RouteCounter`` while its definition stays the same, so a drain counts every request on
/// the definition it retires. What a table no longer has is let go; requests still running
/// on it keep what they took.
final class RuntimeRegistry: Sendable {
    private struct Known {
        var upstreams: [String: UpstreamRuntime] = [:]
        var routes: [String: RouteCounter] = [:]
        var rateLimiters: [String: RateLimiter] = [:]
        var authorizers: [String: RouteAuthorizer] = [:]
        var keySources: [JWKSSource.Origin: JWKSSource] = [:]
    }

    private let known = Mutex(Known())
    private let unrouted: RouteCounter
    private let metrics: GatewayMetrics
    private let auth: AuthEnvironment

    init(
        metrics: GatewayMetrics = .discarding,
        auth: AuthEnvironment = AuthEnvironment(
            client: AuthHTTPClient(group: MultiThreadedEventLoopGroup.singleton), logger: Logger(label: "portico.auth"))
    ) {
        unrouted = RouteCounter(name: "no_route")
        self.metrics = metrics
        self.auth = auth
    }

    /// A snapshot of `table` with `health`, taking over the state of the tables before it.
    func snapshot(of table: RouteTable, health: UnhealthyEndpoints) -> DataPlaneSnapshot {
        known.withLock { known in
            var next = Known()
            let upstreams = table.upstreamOrder.compactMap { table.upstreams[$0] }.map { target in
                let runtime = known.upstreams[target.name] ?? UpstreamRuntime()
                next.upstreams[target.name] = runtime
                return UpstreamState(target: target, runtime: runtime, balancer: EndpointBalancer(target.definition))
            }
            let counters = table.routes.map { route in
                let kept = known.routes[route.name].flatMap { $0.definition == route.definition ? $0 : nil }
                let counter = kept ?? RouteCounter(route)
                next.routes[route.name] = counter
                return counter
            }
            // A route's buckets stay while its name and rateLimit do (SPEC §13).
            let limiters = table.routes.map { route -> RateLimiter? in
                guard let limit = route.definition.rateLimit else { return nil }
                let kept = known.rateLimiters[route.name].flatMap { $0.limit == limit ? $0 : nil }
                let limiter = kept ?? RateLimiter(limit, limited: metrics.rateLimitedCounter(route: route.name))
                next.rateLimiters[route.name] = limiter
                return limiter
            }
            // A route's auth stays while its name and auth do (its verified tokens with it);
            // a JWKS source, while any route names it.
            let authorizers = table.routes.map { route -> RouteAuthorizer? in
                guard let definition = route.definition.auth else { return nil }
                if let kept = known.authorizers[route.name], kept.definition == definition {
                    next.authorizers[route.name] = kept
                    if let source = kept.jwt?.source { next.keySources[source.origin] = source }
                    return kept
                }
                let verifier = definition.jwt.map { jwt -> JWTVerifier in
                    let origin = auth.origin(of: jwt.keys)
                    let source = next.keySources[origin] ?? known.keySources[origin] ?? {
                        let source = auth.makeSource(origin)
                        source.start()
                        return source
                    }()
                    next.keySources[origin] = source
                    return JWTVerifier(definition: jwt, source: source)
                }
                let authorizer = RouteAuthorizer(
                    definition: definition, jwt: verifier, client: auth.client, route: route.name, metrics: metrics)
                next.authorizers[route.name] = authorizer
                return authorizer
            }
            for (origin, source) in known.keySources where next.keySources[origin] == nil { source.stop() }
            known = next
            return DataPlaneSnapshot(
                table: table, health: health, upstreams: upstreams, routeCounters: counters, rateLimiters: limiters,
                authorizers: authorizers, unrouted: unrouted)
        }
    }
}

extension RuntimeRegistry {
    /// Stops every JWKS source (the gateway is shutting down).
    func stopKeySources() {
        known.withLock { known in
            known.keySources.values.forEach { $0.stop() }
        }
    }
}
