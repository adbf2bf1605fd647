/// Routes and upstreams with the documents they were decoded from, by name.
///
/// Decoding is a pure function of a definition's document (its file only names problems),
/// so a document seen before has the definition it had then. ``RouteFileDecoder`` takes
/// such definitions from here rather than decoding their documents again.
public struct DecodedDefinitions: Sendable {
    private var routes: [String: (document: ConfigValue, definition: RouteDefinition)] = [:]
    private var upstreams: [String: (document: ConfigValue, definition: UpstreamDefinition)] = [:]

    public init() {}

    mutating func reserveCapacity(routes routeCount: Int = 0, upstreams upstreamCount: Int = 0) {
        routes.reserveCapacity(routeCount)
        upstreams.reserveCapacity(upstreamCount)
    }

    /// How many definitions are known.
    public var count: Int { routes.count + upstreams.count }

    /// The route `known` decoded from exactly `document`, if any, which this one then keeps.
    mutating func keepRoute(decodedFrom document: ConfigValue, in known: DecodedDefinitions) -> RouteDefinition? {
        guard let name = Self.name(in: document), let kept = known.routes[name], kept.document == document else { return nil }
        routes[name] = kept
        return kept.definition
    }

    /// The upstream `known` decoded from exactly `document`, if any, which this one then keeps.
    mutating func keepUpstream(decodedFrom document: ConfigValue, in known: DecodedDefinitions) -> UpstreamDefinition? {
        guard let name = Self.name(in: document), let kept = known.upstreams[name], kept.document == document else { return nil }
        upstreams[name] = kept
        return kept.definition
    }

    /// Keeps `route`, just decoded from `document`.
    mutating func add(_ route: RouteDefinition, decodedFrom document: ConfigValue) -> RouteDefinition {
        routes[route.name] = (document, route)
        return route
    }

    /// Keeps `upstream`, just decoded from `document`.
    mutating func add(_ upstream: UpstreamDefinition, decodedFrom document: ConfigValue) -> UpstreamDefinition {
        upstreams[upstream.name] = (document, upstream)
        return upstream
    }

    private static func name(in document: ConfigValue) -> String? {
        guard case .string(let name)? = document.member("name") else { return nil }
        return name
    }
}
