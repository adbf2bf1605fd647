import NIOHTTP1
import PorticoCore

/// `POST /v1/explain` (SPEC §14): which route would serve a request, what its upstream would
/// receive, and why every other candidate lost — by the data plane's own ``RequestRouter``
/// over the active snapshot (no token is taken from any `rateLimit`, no auth runs).
public struct ExplainedRequest: Sendable {
    public var route: String?
    /// The upstream and the path and query it would receive; `nil` for a route that
    /// answers itself (or no route).
    public var upstream: String?
    public var path: String?
    public var explanation: RouteExplanation
}

extension DataPlane {
    /// Explains `method url` with `headers`; `url` is absolute (`https://host/path?query`).
    /// Returns why it cannot when the URL or a header is not one a client could send.
    public func explain(method: String, url: String, headers: [(String, String)]) -> Result<ExplainedRequest, ExplainError> {
        let lower = url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"),
            case .success(let target) = RequestTarget.parse(url, method: method), target.authority != nil
        else { return .failure(ExplainError("url: expected an absolute http or https URL, found \"\(url)\"")) }
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(ExplainError("method: expected an HTTP method, found \"\(method)\""))
        }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method.uppercased()), uri: url)
        for (name, value) in headers where name.lowercased() != "host" { head.headers.add(name: name, value: value) }
        let snapshot = self.snapshot
        let routed = RequestRouter(scheme: lower.hasPrefix("https://") ? "https" : "http", httpsRedirectPort: environment.configuration.httpsRedirectPort)
            .route(head, in: RequestRouter.Context(table: snapshot.table, health: snapshot.health, peerAddress: "127.0.0.1", makeRequestID: { "explain" }, roll: { _ in 0 }))
        if case .refuse(let reason) = routed.decision { return .failure(ExplainError(reason)) }
        let explanation = snapshot.table.explain(
            host: routed.host, path: routed.path, request: RequestRouter.conditions(of: head, query: target.query))
        var answer = ExplainedRequest(route: routed.route?.name, explanation: explanation)
        if case .proxy(let plan) = routed.decision {
            answer.upstream = plan.upstream.name
            answer.path = plan.head.uri
        } else if let route = routed.route, route.definition.action.upstreamNames.isEmpty == false {
            // Refused before the upstream (an IP rule, httpsRedirect) or no endpoint: where it would go.
            answer.upstream = route.pickBackend(roll: { _ in 0 }, isAvailable: { _ in true })?.name
            answer.path = route.upstreamPath(for: target.path) + target.query
        }
        return .success(answer)
    }
}

/// Why a request cannot be explained.
public struct ExplainError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
