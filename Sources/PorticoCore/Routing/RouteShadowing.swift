/// A problem with a route that does not make a table invalid (SPEC §14).
public struct RouteWarning: Hashable, Sendable, CustomStringConvertible {
    public var route: String
    /// `shadowed`: the route can never be chosen.
    public var code: String
    /// The route that wins every request this one matches.
    public var by: String
    public var message: String

    public var description: String { "route \(route): \(message)" }
}

extension RouteTable {
    /// Every route that can never be chosen because another one matches every request it
    /// matches and wins by SPEC §4's precedence (the first such route is named).
    ///
    /// By §4, a route that wins every request of another has every one of its host patterns
    /// (none when it has none), the same path match (a longer prefix or an exact path would
    /// win instead), the same header, cookie and query conditions (an extra one on either
    /// side makes it either not match or lose), a method list that is absent on both or
    /// holds every method of the other's, and comes first in definition order.
    public var shadowedRoutes: [RouteWarning] {
        // Routes by their path match and first host, so that each route meets only the few
        // that could shadow it.
        struct Key: Hashable {
            let path: PathMatch
            let host: HostPattern?
        }
        var byKey: [Key: [CompiledRoute]] = [:]
        for route in routes {
            let hosts = route.definition.hosts
            if hosts.isEmpty {
                byKey[Key(path: route.definition.match.path, host: nil), default: []].append(route)
            }
            for host in Set(hosts) { byKey[Key(path: route.definition.match.path, host: host), default: []].append(route) }
        }
        return routes.compactMap { route in
            let definition = route.definition
            let key = Key(path: definition.match.path, host: definition.hosts.first)
            guard let winner = byKey[key]?.first(where: { $0.order < route.order && Self.winsEveryRequest(of: route, $0) }) else {
                return nil
            }
            return RouteWarning(
                route: route.name, code: "shadowed", by: winner.name,
                message: "can never be chosen: route \(winner.name) matches every request it matches and comes first "
                    + "(the same hosts, path and conditions)")
        }
    }

    /// Whether `winner`, defined earlier, wins every request `route` matches.
    private static func winsEveryRequest(of route: CompiledRoute, _ winner: CompiledRoute) -> Bool {
        let shadowed = route.definition
        let other = winner.definition
        guard shadowed.match.path == other.match.path else { return false }
        if shadowed.hosts.isEmpty != other.hosts.isEmpty { return false }
        guard Set(shadowed.hosts).isSubset(of: Set(other.hosts)) else { return false }
        let (a, b) = (shadowed.match, other.match)
        guard Set(a.headers) == Set(b.headers), Set(a.cookies) == Set(b.cookies), Set(a.query) == Set(b.query) else {
            return false
        }
        switch (a.methods, b.methods) {
        case (nil, nil): return true
        case (let mine?, let theirs?): return Set(mine).isSubset(of: Set(theirs))
        default: return false
        }
    }
}
