/// Which route serves a request, and why each other candidate lost (SPEC §14's explain).
///
/// The route is the table's own ``RouteTable/match(host:path:request:)``, the data plane's
/// lookup; the candidates are ranked by SPEC §4's precedence steps, written out so that each
/// loss can be named. Tests check that the first matched candidate of that ranking is always
/// the route the lookup picks.
public struct RouteExplanation: Sendable {
    /// A route whose hosts and path fit the request.
    public struct Candidate: Sendable, Equatable {
        public var route: String
        /// Whether its method, header, cookie and query conditions hold.
        public var matched: Bool
        public var reason: String
    }

    /// The steps of SPEC §4's precedence, as `decidedBy` names them.
    public enum Step: String, Sendable {
        case onlyMatch = "only_match"
        case exactHost = "exact_host"
        case wildcardSuffix = "wildcard_suffix"
        case pathKind = "path_kind"
        case prefixLength = "prefix_length"
        case conditions
        case definitionOrder = "definition_order"
    }

    public var route: CompiledRoute?
    /// The step that decided; `nil` when no route matched.
    public var decidedBy: Step?
    /// Every route whose hosts and path fit, the best first.
    public var candidates: [Candidate]
    /// The route the ranking puts first among the matched candidates (the same as ``route``).
    public var rankedFirst: String?
}

extension RouteTable {
    /// Explains the lookup of a request: `host` normalized (`nil` when it has none), `path`
    /// normalized without its query.
    public func explain(host: String?, path: String, request: RouteRequest) -> RouteExplanation {
        let chosen = match(host: host, path: path, request: request)
        let pathSegments = path.split(separator: "/")
        var ranked: [(route: CompiledRoute, rank: Rank, matched: Bool)] = []
        for route in routes {
            guard let hostRank = Self.hostRank(of: route, host: host),
                let pathRank = Self.pathRank(of: route, path: path, segments: pathSegments)
            else { continue }
            let rank = Rank(
                host: hostRank, pathKind: pathRank.kind, prefixLength: pathRank.length,
                conditions: route.definition.match.conditionCount, order: route.order)
            ranked.append((route, rank, route.conditionsHold(request)))
        }
        ranked.sort { $0.rank < $1.rank }
        let winners = ranked.filter(\.matched)
        let first = winners.first
        var decidedBy: RouteExplanation.Step?
        if let first {
            decidedBy = winners.count == 1 ? .onlyMatch : first.rank.step(over: winners[1].rank)
        }
        let candidates = ranked.map { candidate -> RouteExplanation.Candidate in
            let reason: String
            if !candidate.matched {
                reason = "its method, header, cookie or query conditions do not hold"
            } else if let first, first.route.order != candidate.route.order {
                reason = "lost to \(first.route.name) by \(first.rank.step(over: candidate.rank).rawValue)"
            } else {
                reason = "chosen"  // the first matched candidate
            }
            return .init(route: candidate.route.name, matched: candidate.matched, reason: reason)
        }
        return RouteExplanation(route: chosen, decidedBy: decidedBy, candidates: candidates, rankedFirst: first?.route.name)
    }

    /// Where a route's host patterns put it for `host`: 0 for an exact host, then
    /// wildcards by longer suffix, then routes without hosts; `nil` when none fits.
    private static func hostRank(of route: CompiledRoute, host: String?) -> HostRank? {
        let hosts = route.definition.hosts
        if hosts.isEmpty { return .any }
        guard let host else { return nil }
        var best: HostRank?
        for pattern in hosts where pattern.matches(host) {
            let rank: HostRank
            switch pattern {
            case .exact: rank = .exact
            case .wildcard(let suffix): rank = .wildcard(suffixLength: suffix.utf8.count)
            }
            if best.map({ rank < $0 }) ?? true { best = rank }
        }
        return best
    }

    /// The path kind (0 exact, 1 prefix, 2 regex) and, for a prefix, its segment count.
    private static func pathRank(of route: CompiledRoute, path: String, segments: [Substring]) -> (kind: Int, length: Int)? {
        switch route.definition.match.path {
        case .exact(let exact): return exact == path ? (0, 0) : nil
        case .prefix(let prefix):
            let prefixSegments = prefix.split(separator: "/")
            return segments.starts(with: prefixSegments) ? (1, prefixSegments.count) : nil
        case .regex: return route.pathRegex?.wholeMatches(path) == true ? (2, 0) : nil
        }
    }

    private enum HostRank: Comparable {
        case exact
        /// A longer suffix ranks first.
        case wildcard(suffixLength: Int)
        case any

        static func < (lhs: HostRank, rhs: HostRank) -> Bool {
            switch (lhs, rhs) {
            case (.exact, .exact), (.any, _): return false
            case (.exact, _): return true
            case (.wildcard, .exact): return false
            case (.wildcard(let a), .wildcard(let b)): return a > b
            case (.wildcard, .any): return true
            }
        }
    }

    /// SPEC §4's precedence as one ordering, best first.
    private struct Rank: Comparable {
        let host: HostRank
        let pathKind: Int
        let prefixLength: Int
        let conditions: Int
        let order: Int

        static func < (lhs: Rank, rhs: Rank) -> Bool {
            if lhs.host != rhs.host { return lhs.host < rhs.host }
            if lhs.pathKind != rhs.pathKind { return lhs.pathKind < rhs.pathKind }
            if lhs.prefixLength != rhs.prefixLength { return lhs.prefixLength > rhs.prefixLength }
            if lhs.conditions != rhs.conditions { return lhs.conditions > rhs.conditions }
            return lhs.order < rhs.order
        }

        /// The first step at which this rank beats `other`.
        func step(over other: Rank) -> RouteExplanation.Step {
            if host != other.host {
                if case .exact = host { return .exactHost }
                return .wildcardSuffix
            }
            if pathKind != other.pathKind { return .pathKind }
            if prefixLength != other.prefixLength { return .prefixLength }
            if conditions != other.conditions { return .conditions }
            return .definitionOrder
        }
    }
}
