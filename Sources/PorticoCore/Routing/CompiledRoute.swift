/// A route as the data plane uses it: its definition, its resolved upstream and its
/// precedence, frozen inside one ``RouteTable`` snapshot.
public final class CompiledRoute: Sendable {
    /// The definition it was built from.
    public let definition: RouteDefinition
    /// Where the definition came from.
    public let source: DefinitionSource
    /// Position in definition order; the last tie-breaker of SPEC §4.
    public let order: Int
    /// The upstream the route proxies to; `nil` for `respond` routes.
    public let upstream: UpstreamTarget?
    /// The compiled `regex` path condition.
    let pathRegex: PathRegex?
    /// The compiled CORS policy, if the route has one.
    public let cors: CORSPolicy?

    init(definition: RouteDefinition, source: DefinitionSource, order: Int, upstream: UpstreamTarget?, pathRegex: PathRegex?) {
        self.definition = definition
        self.source = source
        self.order = order
        self.upstream = upstream
        self.pathRegex = pathRegex
        self.cors = definition.cors.map(CORSPolicy.init)
    }

    /// The route's name.
    public var name: String { definition.name }

    /// Whether the method and header conditions hold (host and path are checked by the table).
    func conditionsHold(method: String, header: (String) -> String?) -> Bool {
        let match = definition.match
        if let methods = match.methods, !methods.contains(method) { return false }
        for condition in match.headers where header(condition.name) != condition.value {
            return false
        }
        return true
    }

    /// The path the upstream receives: `rewrite.prefix` applied to the matched prefix, as
    /// Gateway API's `ReplacePrefixMatch` (`/hrm/users` → `/users`, `/hrm` → `/`).
    public func upstreamPath(for path: String) -> String {
        guard let replacement = definition.rewritePrefix else { return path }
        let matched: String
        switch definition.match.path {
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
