import NIOCore
import NIOHTTP1
import PorticoCore

/// One request on a downstream connection, from its routed head to the end of its response,
/// as a pure state machine in AsyncHTTPClient's style: the handler feeds it every event (with
/// the time, where time matters) and runs the ``Action`` it returns. Every try has an id
/// that is never reused on its connection: an event that names another try than the current
/// one is answered with a give-back, so a slot or connection arriving for an abandoned try
/// (or an earlier exchange) is never used.
struct ExchangeStateMachine {
    private(set) var state: State
    /// What the access log and metrics report.
    private(set) var record: ExchangeRecord
    let request: HTTPRequestHead
    let route: CompiledRoute?
    /// Whether the downstream connection may serve another request after this one.
    private(set) var keepAlive: Bool
    private(set) var requestComplete = false
    /// When a drain of the exchange's retired route ends it.
    private(set) var drainDeadline: NIODeadline?
    private let decision: RoutedRequest.Decision
    private let corsHeaders: [(String, String)]?
    private let responseEdits: ResponseHeaderEdits?
    private let isHTTP2Stream: Bool
    /// The exchange's serial on its connection, the first part of its tries' ids.
    private let serial: UInt64
    private var upstream: (any ExchangeUpstream)?
    private var requestHadBody = false
    private var bufferedParts: [HTTPClientRequestPart] = []
    /// When the route timeout expires.
    private(set) var routeDeadline: NIODeadline?
    /// Retries the route's policy counts (the keep-alive refresh is not one).
    private var retries = 0
    private var endpointsTried: [Endpoint] = []
    private var holdsRetryBudget = false
    private var upstreamKeepAlive = true
    /// The head the upstream gets: the plan's, with the headers auth sets.
    private var upstreamHead: HTTPRequestHead?
    private var authorizer: RouteAuthorizer?
    /// The upstream a request under `auth` goes to once it passes.
    private var pendingUpstream: (any ExchangeUpstream)?
    /// The JWKS was loaded again for this request's unknown `kid`: no second load.
    private var keysRefreshed = false

    init(routed: RoutedRequest, request: HTTPRequestHead, serial: UInt64, now: NIODeadline, isHTTP2Stream: Bool) {
        self.request = request
        self.serial = serial
        self.route = routed.route
        self.decision = routed.decision
        self.corsHeaders = routed.corsHeaders
        self.responseEdits = routed.responseEdits
        self.isHTTP2Stream = isHTTP2Stream
        self.record = ExchangeRecord(
            method: request.method.rawValue, path: routed.path, host: routed.host, requestID: routed.requestID,
            client: routed.client, routeName: routed.route?.name, startTime: now)
        record.trace = routed.trace
        record.tenant = routed.route?.definition.tenant
        // An HTTP/2 stream ends with its exchange; its connection stays.
        self.keepAlive = request.version.major >= 2 || request.isKeepAlive
        self.state = .routed
    }

    /// Acts on the routing decision; `upstream` is the side a proxied request uses, and
    /// `authorizer` the route's `auth`, checked first at `epochSeconds` (wall-clock time).
    mutating func start(
        upstream: (any ExchangeUpstream)?, authorizer: RouteAuthorizer? = nil, now: NIODeadline, epochSeconds: Double = 0
    ) -> Action {
        switch decision {
        case .refuse(let reason):
            record.failureReason = reason
            return answer(.error(.badRequest, route: nil), closeConnection: true)
        case .noRoute:
            return answer(.error(.noRoute, route: nil))
        case .answer(let local):
            return answer(local)
        case .proxy(let plan):
            upstreamHead = plan.head
            guard let authorizer else { return connect(upstream, now: now) }
            self.authorizer = authorizer
            pendingUpstream = upstream
            return authorize(now: now, epochSeconds: epochSeconds)
        }
    }

    /// The JWKS load that ``Action/refreshKeys(_:)`` asked for ended (or was not worth it).
    mutating func keysRefreshed(serial: UInt64, now: NIODeadline, epochSeconds: Double) -> Action {
        guard serial == self.serial, state == .authorizing(.keys) else { return .none }
        keysRefreshed = true
        return authorize(now: now, epochSeconds: epochSeconds)
    }

    /// The forward-auth call of ``Action/callForwardAuth(_:_:)`` ended.
    mutating func forwardAuthAnswered(serial: UInt64, _ outcome: ForwardAuthCall.Outcome, now: NIODeadline) -> Action {
        guard serial == self.serial, state == .authorizing(.forward) else { return .none }
        switch outcome {
        case .allowed(let remove, let set):
            for name in remove { upstreamHead?.headers.remove(name: name) }
            for (name, value) in set { upstreamHead?.headers.add(name: name, value: value) }
            authorizer?.count(.allowed)
            return connect(pendingUpstream, now: now)
        case .denied(let denial):
            authorizer?.count(.denied)
            bufferedParts.removeAll()
            return answer(denial)
        case .unavailable(let reason):
            authorizer?.count(.error)
            record.failureReason = reason
            bufferedParts.removeAll()
            return answer(.error(.authUnavailable, route: route?.name))
        }
    }

    /// Runs the route's `auth` in SPEC §13's order: `auth.jwt` (its claims set as headers),
    /// then `auth.forward`; then the request goes upstream.
    private mutating func authorize(now: NIODeadline, epochSeconds: Double) -> Action {
        guard let authorizer else { return connect(pendingUpstream, now: now) }
        if let jwt = authorizer.jwt {
            switch jwt.verify(authorization: request.headers.first(name: "authorization"), now: epochSeconds) {
            case .valid(let headers):
                for header in jwt.definition.claimsToHeaders { upstreamHead?.headers.remove(name: header.header) }
                for header in headers { upstreamHead?.headers.add(name: header.name, value: header.value) }
            case .unknownKey where !keysRefreshed:
                state = .authorizing(.keys)
                return .refreshKeys(jwt.source)
            case .unknownKey:
                return unauthorized(tokenSent: true, reason: "unknown key")
            case .invalid(let tokenSent, let reason):
                return unauthorized(tokenSent: tokenSent, reason: reason)
            }
        }
        if let forward = authorizer.definition.forward {
            state = .authorizing(.forward)
            return .callForwardAuth(forward, authorizer.client)
        }
        authorizer.count(.allowed)
        return connect(pendingUpstream, now: now)
    }

    /// 401 for `auth.jwt` (SPEC §13).
    private mutating func unauthorized(tokenSent: Bool, reason: String) -> Action {
        authorizer?.count(.denied)
        record.failureReason = "auth.jwt: " + reason
        bufferedParts.removeAll()
        var denial = LocalAnswer.error(.unauthorized, route: route?.name)
        denial.failureReason = record.failureReason
        denial.headers.add(
            name: "www-authenticate", value: tokenSent ? #"Bearer realm="portico", error="invalid_token""# : #"Bearer realm="portico""#)
        return answer(denial)
    }

    /// The first try: to an endpoint of `upstream`, or 503 when it has none.
    private mutating func connect(_ upstream: (any ExchangeUpstream)?, now: NIODeadline) -> Action {
        pendingUpstream = nil
        guard let route, let upstream, let endpoint = upstream.endpoint(excluding: nil, retrying: false) else {
            return answer(.error(.noHealthyUpstream, route: route?.name))
        }
        self.upstream = upstream
        upstream.requestMoved(from: nil, to: endpoint)
        record.endpoint = endpoint
        routeDeadline = record.startTime + .milliseconds(route.definition.timeout.wholeMilliseconds)
        let first = makeTry(TryID(exchange: serial, number: 1), to: endpoint, now: now)
        state = .connecting(first)
        return .acquireConnection(first)
    }

    mutating func requestBodyReceived(_ buffer: ByteBuffer) -> Action {
        record.bytesIn += buffer.readableBytes
        requestHadBody = true
        switch state {
        case .authorizing, .connecting:
            bufferedParts.append(.body(.byteBuffer(buffer)))
            return .none
        case .forwarding:
            return .sendRequestPart(.body(.byteBuffer(buffer)), flush: false)
        case .routed, .upgrading, .responded, .finished:
            return .none
        }
    }

    mutating func requestEndReceived(_ trailers: HTTPHeaders?) -> Action {
        requestComplete = true
        switch state {
        case .authorizing, .connecting:
            bufferedParts.append(.end(trailers))
            return .none
        case .forwarding:
            return .sendRequestPart(.end(trailers), flush: true)
        case .responded:
            state = .finished
            return keepAlive ? .finish : .close
        case .routed, .upgrading, .finished:
            return .none
        }
    }

    /// The HTTP parser refused the rest of the request.
    mutating func malformedRequest(_ code: GatewayErrorCode, description: String) -> Action {
        guard !responseStarted else { return .close }
        record.failureReason = "malformed request: \(description)"
        requestComplete = true
        return answer(.error(code, route: nil), closeConnection: true)
    }

    /// The gateway is shutting down: the connection closes after this response (which says
    /// so with `Connection: close` if its head is still to be written).
    mutating func closeAfterResponse() {
        keepAlive = false
    }

    /// The client closed the connection.
    mutating func clientClosed() {
        guard isRunning else { return }
        if !responseStarted { record.status = 499 }
        record.failureReason = record.failureReason ?? "client_closed"
        state = .finished
    }

    /// The upstream's limiter queued the try for a slot.
    mutating func connectionSlotQueued(forTry id: TryID) {
        guard case .connecting(var current) = state, current.id == id else { return }
        current.waitingForSlot = true
        state = .connecting(current)
    }

    /// A slot of the upstream's limit passed to try `id`.
    mutating func connectionSlotGranted(toTry id: TryID) -> Action {
        guard case .connecting(var current) = state, current.id == id, current.waitingForSlot else { return .giveBack }
        current.waitingForSlot = false
        state = .connecting(current)
        return .openConnection(current)
    }

    /// Every slot is in use and the queue is full; `reason` names the limits.
    mutating func connectionOverflowed(reason: String) -> Action {
        guard case .connecting = state else { return .none }
        record.failureReason = reason
        // Nothing was sent upstream: answered like a local answer, the rest of the request
        // read and dropped and the connection kept (the client may still be sending).
        bufferedParts.removeAll()
        return answer(.error(.upstreamOverflow, route: route?.name))
    }

    /// A connection (pooled or new) is ready for try `id`.
    mutating func connectionReady(forTry id: TryID) -> Action {
        guard case .connecting(let current) = state, current.id == id, !current.waitingForSlot, let upstreamHead
        else { return .giveBack }
        state = .forwarding(current, responseStarted: false)
        let parts = bufferedParts
        bufferedParts.removeAll()
        return .sendRequest(upstreamHead, parts)
    }

    /// The connect of try `id` failed.
    mutating func connectFailed(forTry id: TryID, error: String, now: NIODeadline) -> Action {
        guard case .connecting(let current) = state, current.id == id else { return .none }
        upstream?.recordError(kind: "connect")
        upstream?.recordOutcome(of: current.endpoint, failed: true)
        if let retry = retryIfAllowed(after: .connectFailure, from: current, now: now) { return retry }
        record.failureReason = "connect to \(current.endpoint): \(error)"
        return failBeforeResponse(.upstreamUnreachable)
    }

    /// The try's connection closed; `requestCount` is how many requests it carried.
    mutating func upstreamClosed(requestCount: Int, now: NIODeadline) -> Action {
        guard case .forwarding(let current, let started) = state else { return .none }
        if started {
            record.failureReason = "upstream closed the connection mid-response"
            upstream?.recordError(kind: "reset")
            return .close
        }
        // A reused keep-alive connection closed as the request went out was refused
        // (nothing processed); a fresh one was reset (an endpoint going away).
        let refused = requestCount > 1
        if !refused { upstream?.recordOutcome(of: current.endpoint, failed: true) }
        if let retry = retryIfAllowed(after: refused ? .refusedStream : .reset, from: current, now: now) { return retry }
        record.failureReason = record.failureReason ?? "upstream closed the connection before responding"
        upstream?.recordError(kind: "reset")
        return failBeforeResponse(.upstreamUnreachable)
    }

    mutating func responseHeadReceived(_ head: HTTPResponseHead, now: NIODeadline) -> Action {
        guard case .forwarding(var current, false) = state, case .proxy(let plan) = decision else { return .none }
        if head.status == .switchingProtocols {
            guard plan.isUpgrade else {
                record.failureReason = "upstream switched protocols unasked"
                return .close
            }
            record.status = 101
            record.servedBy = plan.upstream.name
            state = .upgrading
            var response = ProxyHeaders.downstreamResponseHead(for: head, close: false)
            responseEdits?.apply(to: &response.headers)
            response.headers.replaceOrAdd(name: "connection", value: "upgrade")
            if let upgrade = head.headers.first(name: "upgrade") {
                response.headers.replaceOrAdd(name: "upgrade", value: upgrade)
            }
            return .beginUpgrade(response)
        }
        if head.status.code < 200 {
            return .forwardInformational(ProxyHeaders.downstreamResponseHead(for: head, close: false))
        }
        let status = Int(head.status.code)
        current.deadline = nil
        state = .forwarding(current, responseStarted: false)
        upstream?.recordOutcome(of: current.endpoint, failed: status >= 500)
        if status >= 500, let retry = retryIfAllowed(after: .status(status), from: current, now: now) { return retry }
        record.status = status
        record.servedBy = plan.upstream.name
        upstreamKeepAlive = head.isKeepAlive
        let rewritten = ResponseHeadRewriter(request: request, route: route, corsHeaders: corsHeaders, edits: responseEdits)
            .rewrite(head, keepAlive: keepAlive)
        if rewritten.closeConnection { keepAlive = false }
        state = .forwarding(current, responseStarted: true)
        return .forwardResponseHead(rewritten.head, compress: rewritten.compress)
    }

    /// Transforming the response body (gzip) failed: the connection is cut.
    mutating func responseBodyFailed(_ reason: String) -> Action {
        record.failureReason = reason
        return .close
    }

    /// Counts response body bytes written to the client.
    mutating func responseBodyWritten(bytes: Int) {
        record.bytesOut += bytes
    }

    /// A response body part of `bytes` arrived from the upstream: returns whether it goes to
    /// the client (and counts it then).
    mutating func responseBodyForwarded(bytes: Int) -> Bool {
        guard forwardsResponseBody else { return false }
        record.bytesOut += bytes
        return true
    }

    mutating func responseEndReceived(_ trailers: HTTPHeaders?) -> Action {
        guard case .forwarding(_, true) = state else { return .none }
        let reuse = requestComplete && upstreamKeepAlive
        if !requestComplete, !isHTTP2Stream {
            // The upstream answered before the whole request arrived: do not read the rest.
            // (An HTTP/2 stream reads and drops it: a reset would fail the client's upload
            // of a request it has an answer to.)
            keepAlive = false
        }
        return .endResponse(trailers, reuseConnection: reuse, then: ending())
    }

    /// The handler is about to hand the connections to a tunnel; returns whether it still may.
    mutating func upgradeHandedOver() -> Bool {
        guard state == .upgrading else { return false }
        requestComplete = true
        state = .finished
        return true
    }

    /// The connection timer fired at `now`: ends what expired.
    mutating func timerFired(now: NIODeadline) -> Action {
        guard let current = currentTry else { return .none }
        if let drainDeadline, drainDeadline <= now {
            // Its route was removed or changed and the drain timeout has passed.
            record.failureReason = "drain timeout"
            if !responseStarted { record.status = 503 }
            return .close
        }
        if let routeDeadline, routeDeadline <= now {
            self.routeDeadline = nil
            record.failureReason = "route timeout"
            upstream?.recordError(kind: "timeout")
            if responseStarted { return .close }
            if !current.waitingForSlot { upstream?.recordOutcome(of: current.endpoint, failed: true) }
            return failBeforeResponse(.upstreamTimeout)
        }
        if let deadline = current.deadline, deadline <= now {
            // No response head within `perTryTimeout`: try again if the policy allows, else 504.
            upstream?.recordOutcome(of: current.endpoint, failed: true)
            upstream?.recordError(kind: "timeout")
            if let retry = retryIfAllowed(after: .perTryTimeout, from: current, now: now) { return retry }
            record.failureReason = "per-try timeout"
            return failBeforeResponse(.upstreamTimeout)
        }
        return .none
    }

    /// A new snapshot was published: if it retires the running exchange (its route, or its
    /// endpoint), the exchange may run until `deadline`; returns whether it now drains. A
    /// drain already under way keeps its deadline: a later swap never extends it.
    mutating func drain(_ retirement: RouteRetirement, deadline: NIODeadline) -> Bool {
        guard isRunning, drainDeadline == nil, let route, retirement.retires(route, endpoint: record.endpoint) else {
            return false
        }
        drainDeadline = deadline
        return true
    }

    /// The request ends the exchange's use of the upstream: gives back the counters.
    func requestEnded() {
        if let upstream, let endpoint = record.endpoint {
            upstream.requestEnded(on: endpoint, heldRetryBudget: holdsRetryBudget)
        }
    }

    private func makeTry(_ id: TryID, to endpoint: Endpoint, now: NIODeadline) -> Try {
        let deadline = route?.definition.retryPolicy.perTryTimeout.map { now + .milliseconds($0.wholeMilliseconds) }
        return Try(id: id, endpoint: endpoint, deadline: deadline)
    }

    /// Starts another try after `failure` if the route's retry policy, the request and the
    /// upstream's retry budget allow it. A retry goes to an endpoint not tried yet; with an
    /// explicit `attempts`, to a tried one when none is left. A reused connection closed
    /// before answering is retried once on a fresh connection to the same endpoint (the
    /// keep-alive race), not counted as an attempt.
    private mutating func retryIfAllowed(after failure: TryFailure, from failed: Try, now: NIODeadline) -> Action? {
        guard let route, let upstream else { return nil }
        let policy = route.definition.retryPolicy
        guard
            policy.retries(
                failure, idempotent: ProxyHeaders.isIdempotent(request.method),
                replayable: requestComplete && !requestHadBody)
        else { return nil }
        let next: Endpoint
        if failure == .refusedStream, failed.id.number == 1 {
            next = failed.endpoint
        } else {
            guard retries < policy.attempts ?? (upstream.endpointCount - 1) else { return nil }
            endpointsTried.append(failed.endpoint)
            guard
                let chosen = upstream.endpoint(excluding: endpointsTried, retrying: true)
                    ?? (policy.attempts == nil ? nil : upstream.endpoint(excluding: nil, retrying: true))
            else { return nil }
            // A failed connect sent nothing and costs the upstream nothing; other retries
            // repeat work, so they must fit the budget.
            if failure != .connectFailure, !holdsRetryBudget {
                guard upstream.admitRetry() else { return nil }
                holdsRetryBudget = true
            }
            retries += 1
            next = chosen
        }
        upstream.requestMoved(from: failed.endpoint, to: next)
        record.endpoint = next
        upstream.recordRetry(kind: failure.label)
        // Only a complete request without a body is sent again.
        if failure != .connectFailure { bufferedParts = [.end(nil)] }
        let retry = makeTry(TryID(exchange: serial, number: failed.id.number + 1), to: next, now: now)
        state = .connecting(retry)
        return .retry(retry, after: failure)
    }

    private mutating func failBeforeResponse(_ code: GatewayErrorCode) -> Action {
        bufferedParts.removeAll()
        // An unread rest of the request ends an HTTP/1.1 connection; an HTTP/2 stream reads
        // and drops it instead of being reset.
        return answer(.error(code, route: route?.name), closeConnection: !requestComplete && !isHTTP2Stream)
    }

    /// A complete response made by the gateway.
    private mutating func answer(_ answer: LocalAnswer, closeConnection: Bool = false) -> Action {
        if closeConnection { keepAlive = false }
        record.failureReason = record.failureReason ?? answer.failureReason
        var headers = answer.headers
        let length = answer.body.readableBytes
        headers.replaceOrAdd(name: "content-length", value: String(length))
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        responseEdits?.apply(to: &headers)
        if let corsHeaders { ProxyHeaders.applyCORS(corsHeaders, to: &headers) }
        record.status = answer.status
        record.bytesOut += length
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
        return .answer(head, body: answer.body, then: ending())
    }

    /// The response is complete: what happens to the exchange and the connection.
    private mutating func ending() -> Ending {
        routeDeadline = nil
        if !keepAlive {
            state = .finished
            return .close
        }
        if requestComplete {
            state = .finished
            return .finish
        }
        state = .responded
        return .readRest
    }
}
