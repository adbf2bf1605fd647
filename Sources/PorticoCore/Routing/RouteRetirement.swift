/// What swapping in a newer table ends for the work running on older ones (SPEC §5): work
/// on a route the newer table removes or defines differently, and work sent to an endpoint
/// that the route's upstreams no longer have. Everything else runs on untouched: adding an
/// endpoint, tuning a health check or a limit of the upstream, or changing the weights of a
/// route's backends changes how new requests are sent, not the requests already there.
///
/// Work is judged by its own route definition against the newer table, by name, not by the
/// identity of the route object: a request that began two tables ago holds a route object
/// that neither the table being replaced nor the newer one has.
public struct RouteRetirement: Sendable {
    /// Routes of the table being replaced that the newer one removes or defines differently.
    public let routes: [CompiledRoute]
    /// Whether any work at all may be retired: some route was removed or changed, or some
    /// upstream lost an endpoint.
    public let isEmpty: Bool
    private let newer: [String: CompiledRoute]

    /// What `newer` retires when it replaces `older`.
    public init(from older: RouteTable, to newer: RouteTable) {
        let newerByName = Dictionary(newer.routes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.newer = newerByName
        routes = older.routes.filter { route in
            newerByName[route.name].map { !$0.definition.servesAlike(route.definition) } ?? true
        }
        let endpointRemoved = older.upstreams.contains { name, upstream in
            !Set(upstream.definition.endpoints).isSubset(of: newer.upstreams[name]?.definition.endpoints ?? [])
        }
        isEmpty = routes.isEmpty && !endpointRemoved
    }

    /// Whether work on `route`, sent to `endpoint` (`nil` before one is chosen), ends at the
    /// drain deadline.
    public func retires(_ route: CompiledRoute, endpoint: Endpoint?) -> Bool {
        guard let replacement = newer[route.name], replacement.definition.servesAlike(route.definition) else { return true }
        guard let endpoint else { return false }
        return !replacement.proxies(to: endpoint)
    }
}

extension RouteDefinition {
    /// Whether two definitions treat the requests they take alike, weights of backends aside
    /// (a weight change sends new requests elsewhere; it retires nothing).
    func servesAlike(_ other: RouteDefinition) -> Bool {
        guard case .backends(let mine) = action, case .backends(let theirs) = other.action else { return self == other }
        guard mine.map(\.upstream) == theirs.map(\.upstream) else { return false }
        var alike = other
        alike.action = action
        return self == alike
    }
}
