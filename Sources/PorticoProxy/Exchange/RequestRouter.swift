import NIOCore
import NIOHTTP1
import PorticoCore

/// A request head the gateway has read, and what it decided to do with it.
struct RoutedRequest {
    /// What happens next, in the order SPEC §4–§8 apply.
    enum Decision {
        /// Malformed framing, target or host: 400 and the connection closes.
        case refuse(reason: String)
        /// No route matches: 404.
        case noRoute
        /// The gateway answers itself: a CORS preflight, an HTTPS redirect or a `respond` route.
        case answer(LocalAnswer)
        /// The request goes to the route's upstream with this head.
        case proxy(ProxyPlan)
    }

    /// The request's `X-Request-Id`: the client's, or one made here (none for a request
    /// too malformed to have a head).
    var requestID: String?
    /// Who the client is (SPEC §13): the TCP peer, or what trusted proxies say it is.
    var client: String
    /// The normalized host, when the request has one.
    var host: String?
    /// The path without its query (the whole target when it could not be parsed).
    var path: String
    var route: CompiledRoute?
    /// The CORS headers the response gets (the route has a policy and the origin is allowed).
    var corsHeaders: [(String, String)]?
    /// The route's `responseHeaders` and `hsts`, for every response of the request.
    var responseEdits: ResponseHeaderEdits?
    /// The W3C Trace Context sent upstream (SPEC §16), for a request that goes there.
    var trace: RequestTrace?
    var decision: Decision
}

/// A complete response the gateway makes itself.
struct LocalAnswer {
    var status: Int
    var headers = HTTPHeaders()
    var body = ByteBuffer()
    /// Why the gateway answered instead of the upstream, for the access log.
    var failureReason: String?

    /// A JSON error answer (SPEC §9) for `code`, naming `route` when there is one; the code
    /// is the logged reason unless an earlier one is known (a missing route is no failure).
    static func error(_ code: GatewayErrorCode, route: String?) -> LocalAnswer {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        return LocalAnswer(
            status: code.status, headers: headers, body: ByteBuffer(string: code.jsonBody(route: route)),
            failureReason: code == .noRoute ? nil : code.description)
    }
}

/// How a request that goes upstream is sent there.
struct ProxyPlan {
    let upstream: UpstreamTarget
    /// The head the upstream receives (hop-by-hop headers removed, forwarding headers added).
    let head: HTTPRequestHead
    /// The request asks for an `Upgrade` (WebSocket), passed through to the upstream.
    let isUpgrade: Bool
}

/// Turns a request head into a ``RoutedRequest`` by one route table: checks the framing,
/// target and host, matches the route, then applies CORS preflights, `httpsRedirect`,
/// `respond`, `redirect`, picks the backend and builds the upstream head. Pure: the table,
/// the health view, the client's address, the request-id maker and the dice are passed in.
struct RequestRouter {
    /// `http` or `https`: how requests reach the listener.
    let scheme: String
    /// The HTTPS port that `httpsRedirect` points to (left out of the URL when 443).
    let httpsRedirectPort: Int

    /// The request's context besides its head.
    struct Context {
        var table: RouteTable
        /// Endpoints out of rotation: a backend whose upstream has none left is skipped.
        var health = UnhealthyEndpoints()
        /// The TCP peer's address.
        var peerAddress: String
        /// Whose `X-Forwarded-For` names the client.
        var trustedProxies = TrustedProxies()
        var makeRequestID: () -> String
        /// A whole number in `0..<n`, for the weighted split.
        var roll: (Int) -> Int = { Int.random(in: 0..<$0) }
        /// The snapshot's token buckets, by ``CompiledRoute/order``.
        var rateLimiters: [RateLimiter?] = []
        /// Now, in nanoseconds of a monotonic clock, for the buckets.
        var now: Int64 = 0
        /// The share of new traces sampled (`PORTICO_TRACE_SAMPLE`).
        var traceSampleRate = 1.0
        /// A uniformly random 64-bit number, for trace and span ids.
        var random: () -> UInt64 = { UInt64.random(in: .min ... .max) }
    }

    func route(_ head: HTTPRequestHead, in context: Context) -> RoutedRequest {
        let table = context.table
        let makeRequestID = context.makeRequestID
        // Kept if the client sent one, else made here, so every access-log line has one.
        let clientRequestID = head.headers.first(name: ProxyHeaderRules.Forwarded.requestID)
        let requestID = clientRequestID ?? makeRequestID()
        let client = context.trustedProxies.client(
            peer: context.peerAddress, forwardedFor: context.trustedProxies.ranges.isEmpty ? [] : head.headers["x-forwarded-for"])
        let refuse = { (reason: String) in
            RoutedRequest(requestID: requestID, client: client, path: head.uri, decision: .refuse(reason: reason))
        }
        if let problem = ProxyHeaders.framingProblem(in: head) { return refuse(problem) }
        let target: RequestTarget
        switch RequestTarget.parse(head.uri, method: head.method.rawValue) {
        case .success(let parsed): target = parsed
        case .failure(let failure): return refuse("request target: \(failure)")
        }
        let hostHeader = ProxyHeaders.soleValue(of: "host", in: head.headers)
        guard !hostHeader.repeated else { return refuse("more than one Host header") }
        let authority = target.authority ?? hostHeader.value
        var host: String?
        if let authority {
            guard let normalized = RequestHost.normalize(Substring(authority)) else { return refuse("invalid host") }
            host = normalized
        } else if head.version != .http1_0 {  // HTTP/1.1 needs Host; HTTP/2 has :authority
            return refuse("missing Host header")
        }

        let conditions = Self.conditions(of: head, query: target.query)
        let route = table.match(host: host, path: target.path, request: conditions)
        var routed = RoutedRequest(requestID: requestID, client: client, host: host, path: target.path, route: route, decision: .noRoute)
        guard let route else { return routed }
        routed.responseEdits = ResponseHeaderEdits(route: route, overTLS: scheme == "https")
        if let cors = route.cors, let origin = head.headers.first(name: "origin") {
            if head.method == .OPTIONS, let requestMethod = head.headers.first(name: "access-control-request-method") {
                // A preflight is answered here, never forwarded.
                switch cors.preflight(
                    origin: origin, requestMethod: requestMethod,
                    requestHeaders: head.headers[canonicalForm: "access-control-request-headers"].joined(separator: ","))
                {
                case .allowed(let headers):
                    routed.decision = .answer(LocalAnswer(status: 204, headers: HTTPHeaders(headers)))
                case .refused:
                    routed.decision = .answer(LocalAnswer(status: 403, failureReason: "CORS preflight refused"))
                }
                return routed
            }
            routed.corsHeaders = cors.responseHeaders(origin: origin)
        }
        guard route.definition.admits(client: client) else {
            routed.decision = .answer(.error(.forbidden, route: route.name))
            return routed
        }
        if route.definition.httpsRedirect, scheme == "http" {
            routed.decision = .answer(redirect(host: host ?? "localhost", target: target))
            return routed
        }
        if let retryAfter = rateLimited(route, head: head, client: client, in: context) {
            var answer = LocalAnswer.error(.rateLimited, route: route.name)
            answer.headers.add(name: "retry-after", value: String(retryAfter))
            routed.decision = .answer(answer)
            return routed
        }
        switch route.definition.action {
        case .respond(let response):
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
            routed.decision = .answer(LocalAnswer(status: response.status, headers: headers, body: ByteBuffer(string: response.body)))
        case .redirect(let redirect):
            let location = RedirectLocation(
                redirect, requestScheme: scheme, authority: authority, host: host, path: target.path, query: target.query,
                matched: route.definition.match.path)
            var headers = HTTPHeaders()
            headers.add(name: "location", value: location.description)
            routed.decision = .answer(LocalAnswer(status: redirect.status, headers: headers))
        case .upstream, .backends:
            let health = context.health
            let picked = route.pickBackend(roll: context.roll) { upstream in
                let endpoints = upstream.definition.endpoints
                guard !health.keys.isEmpty else { return !endpoints.isEmpty }
                return endpoints.contains { !health.contains(upstream: upstream.name, endpoint: $0) }
            }
            guard let upstream = picked else {
                routed.decision = .answer(.error(.noHealthyUpstream, route: route.name))
                return routed
            }
            var upstreamHead = ProxyHeaders.upstreamRequestHead(
                for: head, uri: route.upstreamPath(for: target.path) + target.query,
                host: route.definition.rewriteHost ?? target.authority, forwardedHost: authority,
                peer: context.peerAddress, client: client, scheme: scheme, requestID: clientRequestID == nil ? requestID : nil,
                chunked: head.headers.contains(name: "transfer-encoding"))
            ProxyHeaders.apply(route.definition.requestHeaders, to: &upstreamHead.headers)
            let trace = RequestTrace(
                traceparent: head.headers.first(name: "traceparent"),
                tracestate: head.headers["tracestate"].isEmpty ? nil : head.headers["tracestate"].joined(separator: ","),
                sampleRate: context.traceSampleRate, random: context.random)
            upstreamHead.headers.replaceOrAdd(name: "traceparent", value: trace.traceparent)
            if let state = trace.tracestate {
                upstreamHead.headers.replaceOrAdd(name: "tracestate", value: state)
            } else {
                upstreamHead.headers.remove(name: "tracestate")
            }
            routed.trace = trace
            let isUpgrade = ProxyHeaders.isUpgradeRequest(head)
            if isUpgrade {
                // Upgrade and Connection are hop-by-hop; an upgrade passes them on explicitly.
                upstreamHead.headers.replaceOrAdd(name: "connection", value: "upgrade")
                upstreamHead.headers.replaceOrAdd(name: "upgrade", value: head.headers["upgrade"].joined(separator: ", "))
            }
            routed.decision = .proxy(ProxyPlan(upstream: upstream, head: upstreamHead, isUpgrade: isUpgrade))
        }
        return routed
    }

    /// What a route's method, header, cookie and query conditions read of a request.
    static func conditions(of head: HTTPRequestHead, query: String) -> RouteRequest {
        RouteRequest(method: head.method.rawValue, query: query.dropFirst(), headers: RequestHeaders(headers: head.headers))
    }

    /// A request's header block for route conditions.
    private struct RequestHeaders: RouteRequestHeaders {
        let headers: HTTPHeaders

        func first(_ name: String) -> String? { headers.first(name: name) }

        var cookieHeader: String? {
            let cookies = headers["cookie"]
            return cookies.count > 1 ? cookies.joined(separator: "; ") : cookies.first
        }
    }

    /// The seconds until a token when the route's `rateLimit` has none for this request.
    private func rateLimited(_ route: CompiledRoute, head: HTTPRequestHead, client: String, in context: Context) -> Int? {
        guard route.order < context.rateLimiters.count, let limiter = context.rateLimiters[route.order] else { return nil }
        let key: String
        switch limiter.limit.key {
        case .client: key = client
        case .route: key = ""
        case .header(let name): key = head.headers.first(name: name) ?? ""
        }
        guard case .limited(let retryAfter) = limiter.take(key: key, now: context.now) else { return nil }
        return retryAfter
    }

    /// The `httpsRedirect` answer: 308 to the same host, path and query over HTTPS.
    private func redirect(host: String, target: RequestTarget) -> LocalAnswer {
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let port = httpsRedirectPort == 443 ? "" : ":\(httpsRedirectPort)"
        var headers = HTTPHeaders()
        headers.add(name: "location", value: "https://" + hostPart + port + target.path + target.query)
        return LocalAnswer(status: 308, headers: headers)
    }
}
