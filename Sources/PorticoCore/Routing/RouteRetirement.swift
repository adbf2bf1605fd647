/// What swapping in a newer table ends for the work running on an older one (SPEC §5): work
/// on a route the newer table removes or defines differently, and work sent to an endpoint
/// that the route's upstream no longer has. Everything else runs on untouched: adding an
/// endpoint, tuning a health check or a limit of the upstream changes how new requests are
/// sent, not the requests already there.
public struct RouteRetirement: Sendable {
    /// Routes the newer table removes or defines differently: all their work drains.
    public let routes: [CompiledRoute]
    private let retired: Set<ObjectIdentifier>
    /// For routes the newer table keeps as they were but whose upstream lost endpoints: the
    /// endpoints it still has.
    private let remainingEndpoints: [ObjectIdentifier: Set<Endpoint>]

    /// Retires `routes` whole, and on the routes of `remainingEndpoints` the work sent to
    /// an endpoint not in their set.
    public init(routes: [CompiledRoute], remainingEndpoints: [ObjectIdentifier: Set<Endpoint>] = [:]) {
        self.routes = routes
        self.retired = Set(routes.map(ObjectIdentifier.init))
        self.remainingEndpoints = remainingEndpoints
    }

    /// What `newer` retires of `older`.
    public init(from older: RouteTable, to newer: RouteTable) {
        let newerByName = Dictionary(newer.routes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var routes: [CompiledRoute] = []
        var remaining: [ObjectIdentifier: Set<Endpoint>] = [:]
        for route in older.routes {
            guard let replacement = newerByName[route.name], replacement.definition == route.definition else {
                routes.append(route)
                continue
            }
            guard let upstream = route.upstream else { continue }
            let kept = Set(replacement.upstream?.definition.endpoints ?? [])
            if !Set(upstream.definition.endpoints).isSubset(of: kept) {
                remaining[ObjectIdentifier(route)] = kept
            }
        }
        self.init(routes: routes, remainingEndpoints: remaining)
    }

    /// Whether nothing running is retired.
    public var isEmpty: Bool { retired.isEmpty && remainingEndpoints.isEmpty }

    /// Whether work on `route`, sent to `endpoint` (`nil` before one is chosen), ends at the
    /// drain deadline.
    public func retires(_ route: CompiledRoute, endpoint: Endpoint?) -> Bool {
        let id = ObjectIdentifier(route)
        if retired.contains(id) { return true }
        guard let endpoint, let remaining = remainingEndpoints[id] else { return false }
        return !remaining.contains(endpoint)
    }
}
