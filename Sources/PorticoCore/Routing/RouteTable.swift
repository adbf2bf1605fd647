/// One immutable, versioned snapshot of every route and upstream (SPEC §5).
///
/// Built off the hot path by ``build(version:from:)``, which validates the whole set and
/// refuses it with every problem at once; read by the data plane with ``match(method:host:path:header:)``.
/// Lookups cost one dictionary probe per host tier plus one per path segment for exact and
/// prefix routes; only regex routes are tried one by one, after them.
public final class RouteTable: Sendable {
    /// Monotonically increasing; each accepted change makes a new version.
    public let version: UInt64
    /// Routes in definition order.
    public let routes: [CompiledRoute]
    /// Upstreams by name.
    public let upstreams: [String: UpstreamTarget]
    /// Upstream names in definition order.
    public let upstreamOrder: [String]

    private let exactHosts: [String: RouteGroup]
    /// Keyed by the suffix with its leading dot (`.veni.ai`); Substring keys let a lookup
    /// probe with a slice of the request host, without allocating.
    private let wildcardHosts: [Substring: RouteGroup]
    private let anyHost: RouteGroup

    private init(
        version: UInt64, routes: [CompiledRoute], upstreams: [String: UpstreamTarget], upstreamOrder: [String],
        exactHosts: [String: RouteGroup], wildcardHosts: [Substring: RouteGroup], anyHost: RouteGroup
    ) {
        self.version = version
        self.routes = routes
        self.upstreams = upstreams
        self.upstreamOrder = upstreamOrder
        self.exactHosts = exactHosts
        self.wildcardHosts = wildcardHosts
        self.anyHost = anyHost
    }

    /// An empty table: every request is answered 404.
    public static func empty(version: UInt64 = 0) -> RouteTable {
        RouteTable(
            version: version, routes: [], upstreams: [:], upstreamOrder: [], exactHosts: [:], wildcardHosts: [:],
            anyHost: RouteGroup.Builder().freeze())
    }

    /// Finds the route for a request by SPEC §4's precedence.
    ///
    /// - Parameters:
    ///   - method: The request method, upper-case.
    ///   - host: The normalized host, or `nil` when the request has none.
    ///   - path: The normalized path, without the query.
    ///   - header: Returns the first value of a lower-cased header name.
    public func match(method: String, host: String?, path: String, header: @escaping (String) -> String?) -> CompiledRoute? {
        match(host: host, path: path, request: RouteRequest(method: method, header: header))
    }

    /// Finds the route for a request by SPEC §4's precedence: `host` normalized (`nil` when
    /// the request has none), `path` normalized and without the query, `request` for the
    /// other conditions.
    public func match(host: String?, path: String, request: RouteRequest) -> CompiledRoute? {
        if let host {
            if let group = exactHosts[host], let route = group.bestMatch(path: path, request: request) {
                return route
            }
            if !wildcardHosts.isEmpty {
                // Longest suffix first: for a.b.veni.ai try .b.veni.ai, then .veni.ai, then .ai.
                var index = host.utf8.firstIndex(of: UInt8(ascii: "."))
                while let dot = index {
                    if let group = wildcardHosts[Substring(host.utf8[dot...])],
                        let route = group.bestMatch(path: path, request: request)
                    {
                        return route
                    }
                    index = host.utf8[host.utf8.index(after: dot)...].firstIndex(of: UInt8(ascii: "."))
                }
            }
        }
        return anyHost.bestMatch(path: path, request: request)
    }

    /// What `newer` retires of this table: the work running on it that drains.
    public func retirement(by newer: RouteTable) -> RouteRetirement {
        RouteRetirement(from: self, to: newer)
    }

    /// Every endpoint some upstream of this table names.
    public var endpoints: Set<Endpoint> {
        Set(upstreams.values.flatMap(\.definition.endpoints))
    }

    /// The route with this name.
    public func route(named name: String) -> CompiledRoute? {
        routes.first { $0.name == name }
    }

    /// Validates a route set and compiles it into a table.
    ///
    /// Checks what no single file can: unique names across every source, upstream
    /// references, and that every regex compiles. Throws every problem at once.
    public static func build(version: UInt64, from set: RouteSet) throws(ConfigurationError) -> RouteTable {
        var problems: [ConfigProblem] = []
        func problem(_ source: DefinitionSource, _ path: String, _ message: String) {
            if case .file(let file) = source {
                problems.append(ConfigProblem(file: file, path: path, message: message))
            } else {
                problems.append(ConfigProblem(path: path, message: message))
            }
        }

        // An entry's index in its source's list, counted past the entries that did not decode.
        var indexInSource: [DefinitionSource: Int] = [:]
        func nextIndex(in source: DefinitionSource, skipping omitted: Set<RouteSet.Omissions.Position>) -> Int {
            var index = indexInSource[source, default: 0]
            while omitted.contains(.init(source: source, index: index)) { index += 1 }
            indexInSource[source] = index + 1
            return index
        }

        var upstreams: [String: UpstreamTarget] = [:]
        var upstreamOrder: [String] = []
        var upstreamSources: [String: DefinitionSource] = [:]
        for (definition, source) in set.upstreams {
            let index = nextIndex(in: source, skipping: set.omissions.upstreams)
            if let earlier = upstreamSources[definition.name] {
                problem(source, "upstreams[\(index)].name", "duplicate upstream name \"\(definition.name)\" (first defined in \(earlier.displayName))")
                continue
            }
            upstreamSources[definition.name] = source
            upstreams[definition.name] = UpstreamTarget(definition: definition, index: upstreamOrder.count)
            upstreamOrder.append(definition.name)
        }

        var routes: [CompiledRoute] = []
        var routeSources: [String: DefinitionSource] = [:]
        indexInSource = [:]
        for (definition, source) in set.routes {
            let index = nextIndex(in: source, skipping: set.omissions.routes)
            if let earlier = routeSources[definition.name] {
                problem(source, "routes[\(index)].name", "duplicate route name \"\(definition.name)\" (first defined in \(earlier.displayName))")
                continue
            }
            routeSources[definition.name] = source
            var backends: [CompiledRoute.Backend] = []
            var unknown = false
            for (position, name) in definition.action.upstreamNames.enumerated() {
                guard let upstream = upstreams[name] else {
                    unknown = true
                    if !set.omissions.upstreamsMayBeMissing {
                        let field = if case .backends = definition.action { "backends[\(position)].upstream" } else { "upstream" }
                        problem(source, "routes[\(index)].\(field)", "unknown upstream \"\(name)\"")
                    }
                    continue
                }
                let weight = if case .backends(let list) = definition.action { list[position].weight } else { 1 }
                backends.append(CompiledRoute.Backend(upstream: upstream, weight: weight))
            }
            if unknown { continue }
            var pathRegex: PathRegex?
            if case .regex(let pattern) = definition.match.path {
                do {
                    pathRegex = try PathRegex(pattern)
                } catch {
                    problem(source, "routes[\(index)].match.path.regex", "invalid regular expression: \(error)")
                    continue
                }
            }
            routes.append(
                CompiledRoute(
                    definition: definition, source: source, order: routes.count, backends: backends,
                    pathRegex: pathRegex))
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        guard set.omissions.isEmpty else { throw ConfigurationError(problems: []) }

        var exactHosts: [String: RouteGroup.Builder] = [:]
        var wildcardHosts: [String: RouteGroup.Builder] = [:]
        let anyHost = RouteGroup.Builder()
        for route in routes {
            if route.definition.hosts.isEmpty {
                anyHost.add(route)
            }
            for host in Set(route.definition.hosts) {
                switch host {
                case .exact(let name): builder(for: name, in: &exactHosts).add(route)
                case .wildcard(let suffix): builder(for: suffix, in: &wildcardHosts).add(route)
                }
            }
        }
        return RouteTable(
            version: version, routes: routes, upstreams: upstreams, upstreamOrder: upstreamOrder,
            exactHosts: exactHosts.mapValues { $0.freeze() },
            wildcardHosts: Dictionary(uniqueKeysWithValues: wildcardHosts.map { (Substring($0.key), $0.value.freeze()) }),
            anyHost: anyHost.freeze())
    }

    /// The problems only a whole table shows (duplicate names across sources, unknown
    /// upstreams, regexes that do not compile), for a set that may lack what did not decode.
    public static func problems(in set: RouteSet) -> [ConfigProblem] {
        do {
            _ = try build(version: 0, from: set)
            return []
        } catch {
            return error.problems
        }
    }

    private static func builder(for key: String, in builders: inout [String: RouteGroup.Builder]) -> RouteGroup.Builder {
        if let existing = builders[key] { return existing }
        let created = RouteGroup.Builder()
        builders[key] = created
        return created
    }

    /// Precedence among routes of one host group and one path kind: more conditions first,
    /// then definition order.
    static func precedes(_ lhs: CompiledRoute, _ rhs: CompiledRoute) -> Bool {
        let lhsConditions = lhs.definition.match.conditionCount
        let rhsConditions = rhs.definition.match.conditionCount
        return lhsConditions != rhsConditions ? lhsConditions > rhsConditions : lhs.order < rhs.order
    }
}

/// The routes that share one host condition, split by path kind.
struct RouteGroup: Sendable {
    let exactPaths: [String: [CompiledRoute]]
    let prefixes: PathTrie
    let regexes: [CompiledRoute]

    func bestMatch(path: String, request: RouteRequest) -> CompiledRoute? {
        if let candidates = exactPaths[path] {
            for route in candidates where route.conditionsHold(request) {
                return route
            }
        }
        if let route = prefixes.bestMatch(path: path, request: request) {
            return route
        }
        for route in regexes where route.pathRegex?.wholeMatches(path) == true && route.conditionsHold(request) {
            return route
        }
        return nil
    }

    final class Builder {
        private var exactPaths: [String: [CompiledRoute]] = [:]
        private let prefixes = PathTrie.Builder()
        private var regexes: [CompiledRoute] = []

        func add(_ route: CompiledRoute) {
            switch route.definition.match.path {
            case .exact(let path): exactPaths[path, default: []].append(route)
            case .prefix(let prefix): prefixes.insert(prefix: prefix, route: route)
            case .regex: regexes.append(route)
            }
        }

        func freeze() -> RouteGroup {
            RouteGroup(
                exactPaths: exactPaths.mapValues { $0.sorted(by: RouteTable.precedes) },
                prefixes: prefixes.freeze(),
                regexes: regexes.sorted(by: RouteTable.precedes))
        }
    }
}

extension DefinitionSource {
    /// `routes/a.yaml` or `the admin API`, for messages.
    public var displayName: String {
        switch self {
        case .file(let file): return file
        case .api: return "the admin API"
        }
    }
}
