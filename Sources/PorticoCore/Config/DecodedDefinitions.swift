/// Routes and upstreams with the documents they were decoded from, by name.
///
/// Decoding is a pure function of a definition's document (its file only names problems),
/// so a document seen before has the definition it had then. ``RouteFileDecoder`` takes
/// such definitions from here rather than decoding their documents again.
public struct DecodedDefinitions: Sendable {
    private var routes: [String: Decoded<RouteDefinition>] = [:]
    private var upstreams: [String: Decoded<UpstreamDefinition>] = [:]

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
        routes[route.name] = Decoded(document: document, definition: route)
        return route
    }

    /// Keeps `upstream`, just decoded from `document`.
    mutating func add(_ upstream: UpstreamDefinition, decodedFrom document: ConfigValue) -> UpstreamDefinition {
        upstreams[upstream.name] = Decoded(document: document, definition: upstream)
        return upstream
    }

    private static func name(in document: ConfigValue) -> String? {
        guard case .string(let name)? = document.member("name") else { return nil }
        return name
    }
}

/// A definition with its document, in a box: a route is 360 bytes of fields, which a
/// dictionary of 10,000 would hold in each of its 16,384 slots and copy out on each lookup.
private final class Decoded<Definition: Sendable>: Sendable {
    let document: ConfigValue
    let definition: Definition

    init(document: ConfigValue, definition: Definition) {
        self.document = document
        self.definition = definition
    }
}
