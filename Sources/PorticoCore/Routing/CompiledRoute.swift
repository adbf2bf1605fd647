/// A route as the data plane uses it: its definition, its resolved upstream and its
/// precedence, frozen inside one ``RouteTable`` snapshot.
public final class CompiledRoute: Sendable {
    /// The definition it was built from.
    public let definition: RouteDefinition
    /// Where the definition came from.
    public let source: DefinitionSource
    /// Position in definition order; the last tie-breaker of SPEC §4.
    public let order: Int
    /// The upstream of an `upstream` route; `nil` for the others.
    public let upstream: UpstreamTarget?
    /// What a request may be proxied to: the `upstream` (weight 1) or the `backends`, in
    /// definition order; empty for `respond` and `redirect` routes.
    public let backends: [Backend]
    /// The compiled `regex` path condition.
    let pathRegex: PathRegex?
    /// The compiled CORS policy, if the route has one.
    public let cors: CORSPolicy?
    /// The `Strict-Transport-Security` value of the route's `hsts`, made once.
    public let hstsHeaderValue: String?

    /// One upstream a route proxies to, with its weight.
    public struct Backend: Sendable {
        public let upstream: UpstreamTarget
        public let weight: Int
    }

    init(definition: RouteDefinition, source: DefinitionSource, order: Int, backends: [Backend], pathRegex: PathRegex?) {
        self.definition = definition
        self.source = source
        self.order = order
        self.backends = backends
        if case .upstream = definition.action { upstream = backends.first?.upstream } else { upstream = nil }
        self.pathRegex = pathRegex
        self.cors = definition.cors.map(CORSPolicy.init)
        self.hstsHeaderValue = definition.hsts?.headerValue
    }

    /// The route's name.
    public var name: String { definition.name }

    /// Whether the method, header, cookie and query conditions hold (host and path are
    /// checked by the table).
    func conditionsHold(_ request: RouteRequest) -> Bool {
        let match = definition.match
        if let methods = match.methods, !methods.contains(request.method) { return false }
        for condition in match.headers where request.header(condition.name) != condition.value {
            return false
        }
        if !match.cookies.isEmpty {
            let cookies = request.cookieHeader()
            for condition in match.cookies where RouteRequest.cookie(condition.name, in: cookies) != condition.value {
                return false
            }
        }
        for condition in match.query where RouteRequest.parameter(condition.name, in: request.query) != condition.value {
            return false
        }
        return true
    }

    /// The upstream for one request: an `upstream` route's own; for `backends`, one picked
    /// with probability weight / sum among those `isAvailable` accepts (SPEC §12), `nil`
    /// when none with a weight above 0 is. `roll(n)` returns a whole number in `0..<n`.
    public func pickBackend(roll: (Int) -> Int, isAvailable: (UpstreamTarget) -> Bool) -> UpstreamTarget? {
        if let upstream { return upstream }
        var total = 0
        for backend in backends where backend.weight > 0 && isAvailable(backend.upstream) {
            total += backend.weight
        }
        guard total > 0 else { return nil }
        var point = roll(total)
        var last: UpstreamTarget?
        for backend in backends where backend.weight > 0 && isAvailable(backend.upstream) {
            if point < backend.weight { return backend.upstream }
            point -= backend.weight
            last = backend.upstream
        }
        return last  // only for a roll out of range
    }

    /// Whether the route proxies to `endpoint` through one of its backends.
    public func proxies(to endpoint: Endpoint) -> Bool {
        backends.contains { $0.upstream.definition.endpoints.contains(endpoint) }
    }

    /// The path the upstream receives: `rewrite.prefix` applied to the matched prefix, as
    /// Gateway API's `ReplacePrefixMatch` (`/hrm/users` → `/users`, `/hrm` → `/`).
    public func upstreamPath(for path: String) -> String {
        if let fullPath = definition.rewritePath { return fullPath }
        guard let replacement = definition.rewritePrefix else { return path }
        return Self.replacingPrefix(of: path, matched: definition.match.path, with: replacement)
    }

    /// `path` with the part `match` matched replaced by `replacement` (Gateway API's
    /// `ReplacePrefixMatch`, for `rewrite.prefix` and `redirect.path.prefix`).
    static func replacingPrefix(of path: String, matched match: PathMatch, with replacement: String) -> String {
        let matched: String
        switch match {
        case .prefix(let prefix): matched = prefix == "/" ? "" : prefix
        case .exact(let exact): matched = exact
        case .regex: return path
        }
        let remainder = path.dropFirst(matched.count)
        var base = Substring(replacement)
        if base.hasSuffix("/") { base = base.dropLast() }
        let result = base + remainder
        if result.isEmpty { return "/" }
        return result.hasPrefix("/") ? String(result) : "/" + result
    }
}

/// An upstream inside a snapshot: its definition and its place in the table. What changes
/// while it serves (connections, ejections, balancing) is the data plane's, kept beside the
/// snapshot by name.
public final class UpstreamTarget: Sendable {
    /// The definition it was built from.
    public let definition: UpstreamDefinition
    /// Position in the table's upstream order, for the data plane's per-upstream state.
    public let index: Int

    init(definition: UpstreamDefinition, index: Int) {
        self.definition = definition
        self.index = index
    }

    /// The upstream's name.
    public var name: String { definition.name }
}

/// A compiled `regex` path condition, anchored at both ends.
struct PathRegex: @unchecked Sendable {
    // Regex<AnyRegexOutput> is not marked Sendable; it is immutable once compiled and
    // matching does not mutate it, so sharing it across event loops is safe.
    let regex: Regex<AnyRegexOutput>

    init(_ pattern: String) throws {
        regex = try Regex(pattern)
    }

    func wholeMatches(_ path: String) -> Bool {
        (try? regex.wholeMatch(in: path)) != nil
    }
}
