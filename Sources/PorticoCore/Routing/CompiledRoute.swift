import Synchronization

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
    /// Requests running on this route definition now.
    private let inFlight = Atomic<Int>(0)

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

    /// Requests running on this definition of the route; drain reports it.
    public var inFlightRequests: Int { inFlight.load(ordering: .relaxed) }

    /// Counts a request that starts on this route (the only per-request cost of drain tracking).
    public func requestStarted() {
        inFlight.wrappingAdd(1, ordering: .relaxed)
    }

    /// Counts a request on this route that has ended, however it ended.
    public func requestEnded() {
        inFlight.wrappingSubtract(1, ordering: .relaxed)
    }

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

/// An upstream inside a snapshot with its round-robin position.
public final class UpstreamTarget: Sendable {
    /// The definition it was built from.
    public let definition: UpstreamDefinition
    /// Connections, ejections and running requests; shared with the same-named upstream of
    /// the tables before and after this one.
    public let runtime: UpstreamRuntime
    private let nextIndex = Atomic<Int>(0)
    /// Requests running per endpoint (same order as the definition's), for `least_request`.
    private let running: [RunningRequests]

    init(definition: UpstreamDefinition, runtime: UpstreamRuntime = UpstreamRuntime()) {
        self.definition = definition
        self.runtime = runtime
        running = definition.loadBalancing == .leastRequest ? definition.endpoints.map { _ in RunningRequests() } : []
    }

    /// The upstream's name.
    public var name: String { definition.name }

    /// The endpoint the upstream's policy picks among those `skip` does not exclude (out of
    /// rotation, or tried already); `nil` when no endpoint is left. A retry passes
    /// `advancing: false`, so that it takes the next endpoint without moving the rotation
    /// of the requests that follow.
    public func nextEndpoint(skipping skip: (Endpoint) -> Bool = { _ in false }, advancing: Bool = true) -> Endpoint? {
        let endpoints = definition.endpoints
        guard !endpoints.isEmpty else { return nil }
        if endpoints.count == 1 { return skip(endpoints[0]) ? nil : endpoints[0] }
        let start: Int
        switch definition.loadBalancing {
        case .roundRobin, .leastRequest:
            let index = advancing ? nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue : nextIndex.load(ordering: .relaxed)
            start = Int(UInt(bitPattern: index) % UInt(endpoints.count))
        case .random:
            start = Int.random(in: 0..<endpoints.count)
        }
        var chosen: Int?
        for offset in 0..<endpoints.count {
            let index = (start + offset) % endpoints.count
            guard !skip(endpoints[index]) else { continue }
            guard definition.loadBalancing == .leastRequest else { return endpoints[index] }
            if chosen == nil || running[index].count < running[chosen!].count { chosen = index }
        }
        return chosen.map { endpoints[$0] }
    }

    /// A request began running on `endpoint` (counted for `least_request` only).
    public func requestStarted(on endpoint: Endpoint) {
        guard !running.isEmpty, let index = definition.endpoints.firstIndex(of: endpoint) else { return }
        running[index].add(1)
    }

    /// A request that ``requestStarted(on:)`` counted ended.
    public func requestEnded(on endpoint: Endpoint) {
        guard !running.isEmpty, let index = definition.endpoints.firstIndex(of: endpoint) else { return }
        running[index].add(-1)
    }
}

/// A count of requests running on one endpoint, shared by every event loop.
final class RunningRequests: Sendable {
    private let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .relaxed) }
    func add(_ delta: Int) { value.wrappingAdd(delta, ordering: .relaxed) }
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
