import Logging
import NIOCore
import NIOHTTP1
import PorticoCore

/// Serves one downstream HTTP/1.1 connection, or one HTTP/2 stream that NIOHTTP2's codec
/// presents as HTTP/1 parts: routes each request by the active snapshot,
/// answers locally or streams it to a pooled upstream connection, and streams the response
/// back, with backpressure both ways (reads on one side wait while the other side is not
/// writable, as in swift-nio-examples' connect-proxy `GlueHandler`).
final class HTTPProxyHandler: ChannelDuplexHandler, UpstreamConnectionDelegate, DrainableConnection {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let environment: ProxyEnvironment
    private let state: EventLoopState
    /// An HTTP/2 stream is a request, not a connection: its connection is counted elsewhere.
    private let isHTTP2Stream: Bool
    private var pool: UpstreamConnectionPool { state.pool }
    private var context: ChannelHandlerContext?
    private var exchange: ProxyExchange?
    private var clientAddress = "unknown"
    /// A read the downstream asked for while the upstream side could not take more.
    private var readPending = false
    /// Set once the connection is being closed; later input is ignored.
    private var closing = false
    /// Parts of pipelined requests that arrived while an earlier response was still running.
    /// Reads stop while any wait, so at most one read's worth is held.
    private var pendingParts = CircularBuffer<HTTPServerRequestPart>()
    private var servingPendingParts = false
    /// When the connection last read anything or finished an exchange (idle timeout).
    private var lastActivity = NIODeadline.now()
    private lazy var timer = ConnectionTimer { [unowned self] in self.timerFired() }

    init(environment: ProxyEnvironment, state: EventLoopState, isHTTP2Stream: Bool = false) {
        self.environment = environment
        self.state = state
        self.isHTTP2Stream = isHTTP2Stream
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        state.register(self)
        if !isHTTP2Stream { environment.metrics.activeConnections.increment() }
        if let address = context.channel.remoteAddress?.ipAddress {
            clientAddress = address
        }
        armIdleTimer(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.deregister(self)
        if !isHTTP2Stream { environment.metrics.activeConnections.decrement() }
        timer.cancel()
        self.context = nil
    }

    /// Whether a request is being served on this connection.
    var hasActiveExchange: Bool { exchange != nil }

    // MARK: Downstream events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let part = unwrapInboundIn(data)
        if !pendingParts.isEmpty || exchange?.requestComplete == true {
            // A pipelined request arrived before the current response ended: keep it, and
            // read no more until it is served (see `read`).
            pendingParts.append(part)
            return
        }
        process(part, context: context)
    }

    /// Handles one part of the current request, or the head of the next one.
    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            guard exchange == nil else { return }  // unreachable: heads wait in pendingParts
            begin(head, context: context)
        case .body(let buffer):
            guard let exchange else { return }
            exchange.bytesIn += buffer.readableBytes
            exchange.requestHadBody = true
            switch exchange.phase {
            case .answeringLocally, .tunneling: break
            case .connecting: exchange.bufferedParts.append(.body(.byteBuffer(buffer)))
            case .forwarding: exchange.upstream?.handler.send(.body(.byteBuffer(buffer)))
            }
        case .end(let trailers):
            guard let exchange else { return }
            exchange.requestComplete = true
            switch exchange.phase {
            case .tunneling: break
            case .answeringLocally:
                if exchange.responseComplete { finish(exchange, context: context) }
            case .connecting:
                exchange.bufferedParts.append(.end(trailers))
            case .forwarding:
                if let upstream = exchange.upstream {
                    upstream.handler.send(.end(trailers))
                    upstream.handler.flush()
                } else if exchange.responseComplete {
                    finish(exchange, context: context)
                }
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        lastActivity = .now()
        exchange?.upstream?.handler.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if !pendingParts.isEmpty {
            readPending = true
        } else if let exchange, holdsDownstreamReads(exchange) {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            exchange?.upstream?.handler.resumeReads()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closing = true
        if let exchange {
            if !exchange.responseComplete {
                exchange.status = exchange.responseStarted ? exchange.status : 499
                exchange.failureReason = exchange.failureReason ?? "client_closed"
            }
            abandonUpstream(of: exchange)
            finish(exchange, context: context, closeConnection: false)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else {
            close(context)
            return
        }
        let code: GatewayErrorCode = parserError == .headerOverflow ? .headersTooLarge : .badRequest
        if let exchange {
            abandonUpstream(of: exchange)
            if exchange.responseStarted {
                close(context)
                return
            }
            exchange.failureReason = "malformed request: \(parserError)"
            exchange.requestComplete = true
            answerError(code, route: nil, exchange: exchange, context: context, closeConnection: true)
        } else {
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "")
            let exchange = ProxyExchange(
                requestHead: head, requestID: nil, host: nil, path: "", route: nil, startTime: .now())
            exchange.requestComplete = true
            exchange.failureReason = "malformed request: \(parserError)"
            self.exchange = exchange
            answerError(code, route: nil, exchange: exchange, context: context, closeConnection: true)
        }
    }

    // MARK: Routing

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        // Kept if the client sent one, else made here, so every access-log line has one.
        let clientRequestID = head.headers.first(name: ProxyHeaderRules.Forwarded.requestID)
        let requestID = clientRequestID ?? environment.requestIDs.next()
        let refuse = { (reason: String) in
            let exchange = ProxyExchange(
                requestHead: head, requestID: requestID, host: nil, path: head.uri, route: nil, startTime: .now())
            exchange.failureReason = reason
            self.exchange = exchange
            self.answerError(.badRequest, route: nil, exchange: exchange, context: context, closeConnection: true)
        }
        if let problem = ProxyHeaders.framingProblem(in: head) {
            return refuse(problem)
        }
        let target: RequestTarget
        switch RequestTarget.parse(head.uri, method: head.method.rawValue) {
        case .success(let parsed): target = parsed
        case .failure(let failure): return refuse("request target: \(failure)")
        }
        let hostHeaders = head.headers["host"]
        guard hostHeaders.count <= 1 else { return refuse("more than one Host header") }
        let authority = target.authority ?? hostHeaders.first
        var host: String?
        if let authority {
            guard let normalized = RequestHost.normalize(Substring(authority)) else {
                return refuse("invalid host")
            }
            host = normalized
        } else if head.version != .http1_0 {  // HTTP/1.1 needs Host; HTTP/2 has :authority
            return refuse("missing Host header")
        }

        let table = environment.routeTables.current
        let route = table.match(method: head.method.rawValue, host: host, path: target.path) {
            head.headers.first(name: $0)
        }
        let exchange = ProxyExchange(
            requestHead: head, requestID: requestID, host: host, path: target.path, route: route, startTime: .now())
        self.exchange = exchange
        route?.requestStarted()
        guard let route else {
            return answerError(.noRoute, route: nil, exchange: exchange, context: context)
        }
        if let cors = route.cors, let origin = head.headers.first(name: "origin") {
            if head.method == .OPTIONS, let requestMethod = head.headers.first(name: "access-control-request-method") {
                // A preflight is answered here, never forwarded.
                switch cors.preflight(
                    origin: origin, requestMethod: requestMethod,
                    requestHeaders: head.headers[canonicalForm: "access-control-request-headers"].joined(separator: ","))
                {
                case .allowed(let headers):
                    return answer(exchange, status: 204, headers: HTTPHeaders(headers), body: "", context: context)
                case .refused:
                    exchange.failureReason = "CORS preflight refused"
                    return answer(exchange, status: 403, headers: HTTPHeaders(), body: "", context: context)
                }
            }
            exchange.corsHeaders = cors.responseHeaders(origin: origin)
        }
        if route.definition.httpsRedirect, environment.scheme == "http" {
            return answerRedirect(exchange, host: host ?? "localhost", target: target, context: context)
        }
        switch route.definition.action {
        case .respond(let response):
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/plain; charset=utf-8")
            answer(
                exchange, status: response.status, headers: headers, body: response.body, context: context)
        case .upstream:
            guard let upstream = route.upstream, let endpoint = nextEndpoint(of: upstream, for: exchange, retrying: false) else {
                return answerError(.noHealthyUpstream, route: route.name, exchange: exchange, context: context)
            }
            let chunked = head.headers.contains(name: "transfer-encoding")
            exchange.upstreamHead = ProxyHeaders.upstreamRequestHead(
                for: head, uri: route.upstreamPath(for: target.path) + target.query,
                absoluteFormAuthority: target.authority, forwardedHost: authority, clientAddress: clientAddress,
                scheme: environment.scheme,
                requestID: clientRequestID == nil ? requestID : nil, chunked: chunked)
            if ProxyHeaders.isUpgradeRequest(head), var upstreamHead = exchange.upstreamHead {
                // Upgrade and Connection are hop-by-hop; an upgrade passes them on explicitly.
                exchange.isUpgrade = true
                upstreamHead.headers.replaceOrAdd(name: "connection", value: "upgrade")
                upstreamHead.headers.replaceOrAdd(name: "upgrade", value: head.headers["upgrade"].joined(separator: ", "))
                exchange.upstreamHead = upstreamHead
            }
            upstream.runtime.requestStarted()
            select(endpoint, for: exchange)
            exchange.phase = .connecting
            let deadline = exchange.startTime + .milliseconds(route.definition.timeout.wholeMilliseconds)
            exchange.deadline = deadline
            connect(exchange, to: endpoint, context: context)
        }
    }

    /// The endpoint the upstream's policy picks for the exchange, leaving out those out of
    /// rotation (health checks, then passive ejection) and those the exchange already tried;
    /// a retry does not move the rotation of the requests that follow. An ejected endpoint
    /// is still used when nothing else is left (health checks may have taken the others).
    private func nextEndpoint(
        of upstream: UpstreamTarget, for exchange: ProxyExchange, retrying: Bool, skippingTried: Bool = true
    ) -> Endpoint? {
        let unhealthy = state.unhealthyEndpoints
        let available = { (endpoint: Endpoint) in
            !(skippingTried && exchange.endpointsTried.contains(endpoint))
                && !unhealthy.contains(upstream: upstream.name, endpoint: endpoint)
        }
        if upstream.definition.outlierDetection != nil {
            let now = ContinuousClock.now
            if let endpoint = upstream.nextEndpoint(
                skipping: { !available($0) || upstream.runtime.outliers.isEjected($0, now: now) }, advancing: !retrying)
            {
                return endpoint
            }
        }
        return upstream.nextEndpoint(skipping: { !available($0) }, advancing: !retrying)
    }

    /// Makes `endpoint` the one the exchange goes to, and counts it there (least_request).
    private func select(_ endpoint: Endpoint, for exchange: ProxyExchange) {
        guard let upstream = exchange.route?.upstream else { return }
        if let previous = exchange.endpoint { upstream.requestEnded(on: previous) }
        upstream.requestStarted(on: endpoint)
        exchange.endpoint = endpoint
    }

    /// Starts a try: an idle pooled connection if there is one (never for a retry), else a
    /// new one if the upstream's `maxConnections` has room, else a wait for a slot if
    /// `maxPendingRequests` has room, else 503 at once.
    private func connect(_ exchange: ProxyExchange, to endpoint: Endpoint, context: ChannelHandlerContext) {
        guard let upstream = exchange.route?.upstream else { return }
        exchange.attempt += 1
        exchange.tryDeadline = exchange.route?.definition.retryPolicy.perTryTimeout.map {
            .now() + .milliseconds($0.wholeMilliseconds)
        }
        armExchangeTimer(exchange, context: context)
        let limiter = upstream.runtime.connections
        if !exchange.isRetry, let connection = pool.takeIdle(for: endpoint, limiter: limiter) {
            attach(connection, to: exchange, context: context)
            return
        }
        let attempt = exchange.attempt
        let waiting = NIOLoopBound((self, exchange), eventLoop: context.eventLoop)
        let admission = limiter.acquire(
            maxConnections: upstream.definition.maxConnections,
            maxPending: upstream.definition.maxPendingRequests ?? UpstreamDefinition.defaultMaxPendingRequests
        ) {
            waiting.eventLoop.execute {
                let (handler, exchange) = waiting.value
                handler.connectionSlotGranted(to: exchange, attempt: attempt, endpoint: endpoint, limiter: limiter)
            }
        }
        switch admission {
        case .granted:
            open(exchange, to: endpoint, context: context)
        case .queued(let waiter):
            exchange.connectionWaiter = waiter
        case .overflow:
            state.metrics.recordOverflow(upstream: upstream.name, kind: "pending")
            exchange.failureReason = "upstream overflow: \(upstream.definition.maxConnections ?? 0) connections busy, "
                + "\(upstream.definition.maxPendingRequests ?? UpstreamDefinition.defaultMaxPendingRequests) requests waiting"
            // Nothing was sent upstream: answered like a local answer, the rest of the request
            // read and dropped and the connection kept (the client may still be sending).
            exchange.bufferedParts.removeAll()
            answerError(.upstreamOverflow, route: exchange.route?.name, exchange: exchange, context: context)
        }
    }

    /// A slot of the upstream's connection limit passed to a waiting request; a request that
    /// stopped waiting gives it back.
    private func connectionSlotGranted(to exchange: ProxyExchange, attempt: Int, endpoint: Endpoint, limiter: ConnectionLimiter) {
        guard let context, self.exchange === exchange, exchange.attempt == attempt, exchange.connectionWaiter != nil,
            exchange.phase == .connecting
        else {
            limiter.release()
            return
        }
        exchange.connectionWaiter = nil
        open(exchange, to: endpoint, context: context)
    }

    /// Opens a new connection for the exchange's current try (its slot is taken).
    private func open(_ exchange: ProxyExchange, to endpoint: Endpoint, context: ChannelHandlerContext) {
        guard let upstream = exchange.route?.upstream else { return }
        let pool = self.pool
        let attempt = exchange.attempt
        pool.connect(to: endpoint, timeout: upstream.definition.connectTimeout, limiter: upstream.runtime.connections)
            .assumeIsolated().whenComplete { [weak self] result in
                guard let self, self.exchange === exchange, exchange.phase == .connecting, exchange.attempt == attempt else {
                    // The try was abandoned while connecting (client gone, timeout): keep the connection.
                    if case .success(let connection) = result { pool.release(connection) }
                    return
                }
                switch result {
                case .success(let connection):
                    self.attach(connection, to: exchange, context: context)
                case .failure(let error):
                    self.recordUpstreamError(exchange, kind: "connect")
                    self.recordOutcome(of: exchange, failed: true)
                    if self.retry(exchange, after: .connectFailure, context: context) { return }
                    exchange.failureReason = "connect to \(endpoint): \(error)"
                    self.failBeforeResponse(exchange, code: .upstreamUnreachable, context: context)
                }
            }
    }

    /// Sends the request again after `failure` if the route's retry policy, the request and
    /// the upstream's retry budget allow it; returns whether it did. A retry goes to an
    /// endpoint not tried yet; with an explicit `attempts`, to a tried one when none is left.
    /// A reused connection closed before answering is retried once on a fresh connection to
    /// the same endpoint (the keep-alive race), not counted as an attempt.
    private func retry(_ exchange: ProxyExchange, after failure: TryFailure, context: ChannelHandlerContext) -> Bool {
        guard let route = exchange.route, let upstream = route.upstream, let failed = exchange.endpoint else { return false }
        let policy = route.definition.retryPolicy
        guard
            policy.retries(
                failure, idempotent: ProxyHeaders.isIdempotent(exchange.requestHead.method),
                replayable: exchange.canRetryOnFreshConnection)
        else { return false }
        let next: Endpoint
        if failure == .refusedStream, !exchange.isRetry {
            next = failed
        } else {
            guard exchange.retries < policy.attempts ?? (upstream.definition.endpoints.count - 1) else { return false }
            exchange.endpointsTried.append(failed)
            guard
                let chosen = nextEndpoint(of: upstream, for: exchange, retrying: true)
                    ?? (policy.attempts == nil ? nil : nextEndpoint(of: upstream, for: exchange, retrying: true, skippingTried: false))
            else { return false }
            // A failed connect sent nothing and costs the upstream nothing; other retries
            // repeat work, so they must fit the budget.
            if failure != .connectFailure, !exchange.holdsRetryBudget {
                guard upstream.runtime.startRetry(within: upstream.definition.retryBudget) else {
                    state.metrics.recordOverflow(upstream: upstream.name, kind: "retry_budget")
                    return false
                }
                exchange.holdsRetryBudget = true
            }
            exchange.retries += 1
            next = chosen
        }
        closeUpstreamConnection(of: exchange)
        select(next, for: exchange)
        state.metrics.recordRetry(upstream: upstream.name, kind: failure.label)
        exchange.phase = .connecting
        if failure != .connectFailure { exchange.bufferedParts = [.end(nil)] }
        connect(exchange, to: next, context: context)
        return true
    }

    /// Feeds the try's result to passive outlier ejection (when the upstream has it).
    private func recordOutcome(of exchange: ProxyExchange, failed: Bool) {
        guard let upstream = exchange.route?.upstream, let policy = upstream.definition.outlierDetection,
            let endpoint = exchange.endpoint
        else { return }
        let outliers = upstream.runtime.outliers
        guard failed else {
            outliers.recordSuccess(endpoint, now: .now)
            return
        }
        guard let ejection = outliers.recordFailure(endpoint, policy: policy, endpoints: upstream.definition.endpoints, now: .now)
        else { return }
        environment.metrics.recordEjection(upstream: upstream.name, endpoint: endpoint.description)
        environment.accessLogger.warning(
            "endpoint ejected",
            metadata: [
                "upstream": .string(upstream.name), "endpoint": .string(endpoint.description),
                "seconds": .string(String(ejection.duration.components.seconds)), "ejections": .string(String(ejection.count)),
            ])
    }

    private func attach(_ connection: UpstreamConnection, to exchange: ProxyExchange, context: ChannelHandlerContext) {
        guard let head = exchange.upstreamHead else { return }
        exchange.upstream = connection
        exchange.phase = .forwarding
        connection.requestCount += 1
        connection.handler.delegate = self
        connection.handler.send(.head(head))
        for part in exchange.bufferedParts {
            connection.handler.send(part)
        }
        exchange.bufferedParts.removeAll()
        connection.handler.flush()
        connection.handler.resumeReads()
        resumeDownstreamReadsIfPossible(context: context)
    }

    // MARK: Upstream events

    var canAcceptResponseData: Bool {
        context?.channel.isWritable ?? false
    }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let context, let exchange, exchange.phase == .forwarding else { return }
        switch part {
        case .head(let head):
            if head.status == .switchingProtocols {
                guard exchange.isUpgrade, let connection = exchange.upstream else {
                    exchange.failureReason = "upstream switched protocols unasked"
                    close(context)
                    return
                }
                exchange.responseStarted = true
                exchange.status = 101
                exchange.phase = .tunneling
                var response = ProxyHeaders.downstreamResponseHead(for: head, close: false)
                response.headers.replaceOrAdd(name: "connection", value: "upgrade")
                if let upgrade = head.headers.first(name: "upgrade") {
                    response.headers.replaceOrAdd(name: "upgrade", value: upgrade)
                }
                context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
                // Switch once the decoders have finished this read (the 101's end is still coming).
                context.eventLoop.assumeIsolated().execute { [self] in
                    self.becomeTunnel(exchange, connection: connection, context: context)
                }
                return
            }
            if head.status.code < 200 {
                context.writeAndFlush(wrapOutboundOut(.head(ProxyHeaders.downstreamResponseHead(for: head, close: false))), promise: nil)
                return
            }
            let status = Int(head.status.code)
            exchange.tryDeadline = nil
            recordOutcome(of: exchange, failed: status >= 500)
            if status >= 500, retry(exchange, after: .status(status), context: context) { return }
            exchange.responseStarted = true
            exchange.status = status
            exchange.upstreamKeepAlive = head.isKeepAlive
            var downstreamHead = ProxyHeaders.downstreamResponseHead(for: head, close: !exchange.keepAlive)
            if exchange.route?.cors != nil {
                ProxyHeaders.applyCORS(exchange.corsHeaders, to: &downstreamHead.headers)
            }
            if exchange.route?.definition.compression == true {
                startGzipIfWanted(exchange, head: &downstreamHead, context: context)
            }
            // An HTTP/1.0 client learns where a body of unknown length ends only from the close.
            if exchange.requestHead.version == .http1_0, exchange.keepAlive,
                !downstreamHead.headers.contains(name: "content-length")
            {
                exchange.keepAlive = false
                downstreamHead.headers.replaceOrAdd(name: "connection", value: "close")
            }
            context.write(wrapOutboundOut(.head(downstreamHead)), promise: nil)
        case .body(let buffer):
            var out = buffer
            if let gzip = exchange.gzip {
                do {
                    out = try gzip.compress(buffer)
                } catch {
                    exchange.failureReason = "gzip: \(error)"
                    close(context)
                    return
                }
                if out.readableBytes == 0 { return }
            }
            exchange.bytesOut += out.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(out))), promise: nil)
        case .end(let trailers):
            if let gzip = exchange.gzip {
                exchange.gzip = nil
                if let tail = try? gzip.finish(), tail.readableBytes > 0 {
                    exchange.bytesOut += tail.readableBytes
                    context.write(wrapOutboundOut(.body(.byteBuffer(tail))), promise: nil)
                }
            }
            exchange.responseComplete = true
            if let connection = exchange.upstream {
                exchange.upstream = nil
                let limit = exchange.route?.upstream?.definition.maxRequestsPerConnection ?? .max
                if exchange.requestComplete, exchange.upstreamKeepAlive, connection.requestCount < limit {
                    pool.release(connection)
                } else {
                    connection.handler.delegate = nil
                    connection.channel.close(promise: nil)
                }
            }
            if !exchange.requestComplete, !isHTTP2Stream {
                // The upstream answered before the whole request arrived: do not read the rest.
                // (An HTTP/2 stream reads and drops it: a reset would fail the client's upload
                // of a request it has an answer to.)
                exchange.keepAlive = false
            }
            writeEnd(trailers, for: exchange, context: context)
        }
    }

    /// Gzips the response when SPEC §8 says so; an eligible response gets
    /// `Vary: Accept-Encoding` whether or not this client accepts gzip, for caches.
    private func startGzipIfWanted(_ exchange: ProxyExchange, head: inout HTTPResponseHead, context: ChannelHandlerContext) {
        let headers = head.headers
        guard
            CompressionPolicy.isEligible(
                requestMethod: exchange.requestHead.method.rawValue, status: Int(head.status.code),
                contentType: headers.first(name: "content-type"), contentEncoding: headers.first(name: "content-encoding"),
                contentLength: headers.first(name: "content-length").flatMap { Int($0) })
        else { return }
        if !headers[canonicalForm: "vary"].contains(where: { $0.lowercased() == "accept-encoding" || $0 == "*" }) {
            head.headers.add(name: "vary", value: "Accept-Encoding")
        }
        guard CompressionPolicy.acceptsGzip(exchange.requestHead.headers["accept-encoding"]),
            let gzip = try? GzipStream(allocator: context.channel.allocator)
        else { return }
        exchange.gzip = gzip
        head.headers.remove(name: "content-length")
        head.headers.replaceOrAdd(name: "content-encoding", value: "gzip")
        // A strong validator names the identity body; the gzipped one is a different entity.
        if let etag = head.headers.first(name: "etag"), !etag.hasPrefix("W/") {
            head.headers.replaceOrAdd(name: "etag", value: "W/" + etag)
        }
    }

    /// Turns the downstream and upstream connections into one byte pipe after a 101: the
    /// HTTP handlers leave both pipelines and glue handlers join them, with backpressure.
    /// Bytes either decoder had read past the handshake are passed on, not lost.
    private func becomeTunnel(_ exchange: ProxyExchange, connection: UpstreamConnection, context: ChannelHandlerContext) {
        guard self.exchange === exchange, !closing, connection.channel.isActive else {
            environment.accessLogger.warning(
                "upgrade abandoned",
                metadata: ["same": "\(self.exchange === exchange)", "closing": "\(closing)", "upstreamActive": "\(connection.channel.isActive)"])
            connection.channel.close(promise: nil)
            close(context)
            return
        }
        exchange.upstream = nil
        exchange.requestComplete = true
        exchange.responseComplete = true
        connection.handler.delegate = nil
        closing = true  // this handler is done with the connection; the pipe owns it now
        let downstream = context.channel
        let upstream = connection.channel
        // The pipe counts on its route before the exchange stops counting, so a drain never
        // misses it; a drain that reached the exchange carries over to the pipe.
        if let route = exchange.route {
            let tunnel = Tunnel(route: route, endpoint: exchange.endpoint, downstream: downstream, upstream: upstream, state: state)
            tunnel.start()
            if let drainDeadline = exchange.drainDeadline {
                tunnel.drain(at: drainDeadline)
            }
        }
        finish(exchange, context: context)
        timer.cancel()
        do {
            let downstreamSync = downstream.pipeline.syncOperations
            let upstreamSync = upstream.pipeline.syncOperations
            let requestDecoder = try downstreamSync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let responseDecoder = try upstreamSync.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
            let clientGlue = GlueHandler()
            let upstreamGlue = GlueHandler()
            GlueHandler.join(clientGlue, upstreamGlue)
            try downstreamSync.addHandler(clientGlue, position: .after(requestDecoder))
            try upstreamSync.addHandler(upstreamGlue, position: .after(responseDecoder))
            // The pipe keeps the idle timeout, and the drain of its route.
            let idle = TimeAmount.milliseconds(environment.configuration.idleTimeout.wholeMilliseconds)
            try downstreamSync.addHandler(IdleStateHandler(allTimeout: idle), position: .before(clientGlue))
            // Encoders and HTTP handlers first, so nothing writes through them; then the
            // decoders, which hand their leftover bytes to the glue.
            upstreamSync.removeHandler(try upstreamSync.handler(type: HTTPRequestEncoder.self), promise: nil)
            upstreamSync.removeHandler(connection.handler, promise: nil)
            downstreamSync.removeHandler(try downstreamSync.handler(type: HTTPResponseEncoder.self), promise: nil)
            downstreamSync.removeHandler(context: context, promise: nil)
            upstreamSync.removeHandler(responseDecoder, promise: nil)
            downstreamSync.removeHandler(requestDecoder, promise: nil)
            downstream.read()
            upstream.read()
        } catch {
            environment.accessLogger.warning("upgrade failed", metadata: ["error": "\(error)"])
            upstream.close(promise: nil)
            downstream.close(promise: nil)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable, let context {
            resumeDownstreamReadsIfPossible(context: context)
        }
    }

    func upstreamClosed() {
        guard let context, let exchange, exchange.phase == .forwarding, !exchange.responseComplete else { return }
        let connection = exchange.upstream
        exchange.upstream = nil
        if !exchange.responseStarted {
            // A reused keep-alive connection closed as the request went out was refused
            // (nothing processed); a fresh one was reset (an endpoint going away).
            let refused = (connection?.requestCount ?? 0) > 1
            if !refused { recordOutcome(of: exchange, failed: true) }
            if retry(exchange, after: refused ? .refusedStream : .reset, context: context) { return }
            exchange.failureReason = exchange.failureReason ?? "upstream closed the connection before responding"
            recordUpstreamError(exchange, kind: "reset")
            failBeforeResponse(exchange, code: .upstreamUnreachable, context: context)
        } else {
            exchange.failureReason = "upstream closed the connection mid-response"
            recordUpstreamError(exchange, kind: "reset")
            close(context)
        }
    }

    // MARK: Answers and endings

    /// The connection timer fired: end what expired, then re-arm for what comes next.
    private func timerFired() {
        guard let context, !closing else { return }
        let now = NIODeadline.now()
        if let exchange, !exchange.responseComplete, exchange.deadline != nil || exchange.drainDeadline != nil {
            if let drainDeadline = exchange.drainDeadline, drainDeadline <= now {
                // Its route was removed or changed and the drain timeout has passed.
                exchange.failureReason = "drain timeout"
                if !exchange.responseStarted { exchange.status = 503 }
                close(context)
            } else if let deadline = exchange.deadline, deadline <= now {
                routeTimeoutExpired(exchange)
            } else if let tryDeadline = exchange.tryDeadline, tryDeadline <= now {
                perTryTimeoutExpired(exchange, context: context)
            } else {
                armExchangeTimer(exchange, context: context)
            }
        } else {
            // Between requests, or while a request body trickles in for a local answer.
            armIdleTimer(context: context, now: now)
        }
    }

    /// Arms the connection timer for the exchange's earliest deadline (route timeout, drain,
    /// per-try timeout).
    private func armExchangeTimer(_ exchange: ProxyExchange, context: ChannelHandlerContext) {
        if let next = [exchange.deadline, exchange.drainDeadline, exchange.tryDeadline].compactMap({ $0 }).min() {
            timer.arm(at: next, on: context.eventLoop)
        }
    }

    /// The current try got no response head within `perTryTimeout`: it is abandoned, and
    /// tried again if the policy allows, else answered 504.
    private func perTryTimeoutExpired(_ exchange: ProxyExchange, context: ChannelHandlerContext) {
        exchange.tryDeadline = nil
        recordOutcome(of: exchange, failed: true)
        recordUpstreamError(exchange, kind: "timeout")
        cancelConnectionWait(of: exchange)
        if retry(exchange, after: .perTryTimeout, context: context) { return }
        exchange.failureReason = "per-try timeout"
        failBeforeResponse(exchange, code: .upstreamTimeout, context: context)
    }

    /// Stops the exchange waiting for a connection slot; a slot already on its way is given
    /// back when it arrives.
    private func cancelConnectionWait(of exchange: ProxyExchange) {
        guard let waiter = exchange.connectionWaiter, let upstream = exchange.route?.upstream else { return }
        exchange.connectionWaiter = nil
        _ = upstream.runtime.connections.cancel(waiter)
    }

    /// A new snapshot was published: if it retires the running exchange (its route, or its
    /// endpoint), the exchange may run until `deadline` on its old definition, then it is ended.
    func drain(_ retirement: RouteRetirement, deadline: NIODeadline) {
        // A drain already under way keeps its deadline: a later swap never extends it.
        guard let context, let exchange, let route = exchange.route, !exchange.responseComplete,
            exchange.drainDeadline == nil, retirement.retires(route, endpoint: exchange.endpoint)
        else { return }
        exchange.drainDeadline = deadline
        timer.arm(at: deadline, on: context.eventLoop)
    }

    /// Closes the connection if nothing was read for the idle timeout, else makes sure the
    /// timer fires when that would be.
    private func armIdleTimer(context: ChannelHandlerContext, now: NIODeadline = .now()) {
        let idleDeadline = lastActivity + .milliseconds(environment.configuration.idleTimeout.wholeMilliseconds)
        if idleDeadline <= now {
            close(context)
        } else {
            timer.arm(at: idleDeadline, on: context.eventLoop)
        }
    }

    private func routeTimeoutExpired(_ exchange: ProxyExchange) {
        guard let context, self.exchange === exchange, !exchange.responseComplete else { return }
        exchange.deadline = nil
        exchange.failureReason = "route timeout"
        recordUpstreamError(exchange, kind: "timeout")
        if !exchange.responseStarted, exchange.connectionWaiter == nil { recordOutcome(of: exchange, failed: true) }
        abandonUpstream(of: exchange)
        if exchange.responseStarted {
            close(context)
        } else {
            failBeforeResponse(exchange, code: .upstreamTimeout, context: context)
        }
    }

    private func recordUpstreamError(_ exchange: ProxyExchange, kind: String) {
        if let upstream = exchange.route?.upstream?.name {
            state.metrics.recordUpstreamError(upstream: upstream, kind: kind)
        }
    }

    private func failBeforeResponse(_ exchange: ProxyExchange, code: GatewayErrorCode, context: ChannelHandlerContext) {
        abandonUpstream(of: exchange)
        exchange.phase = .answeringLocally
        exchange.bufferedParts.removeAll()
        // An unread rest of the request ends an HTTP/1.1 connection; an HTTP/2 stream reads
        // and drops it instead of being reset.
        answerError(code, route: exchange.route?.name, exchange: exchange, context: context,
                    closeConnection: !exchange.requestComplete && !isHTTP2Stream)
    }

    private func answerError(
        _ code: GatewayErrorCode, route: String?, exchange: ProxyExchange, context: ChannelHandlerContext,
        closeConnection: Bool = false
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        if exchange.failureReason == nil, code != .noRoute { exchange.failureReason = code.description }
        answer(exchange, status: code.status, headers: headers, body: code.jsonBody(route: route), context: context,
               closeConnection: closeConnection)
    }

    private func answerRedirect(_ exchange: ProxyExchange, host: String, target: RequestTarget, context: ChannelHandlerContext) {
        let port = environment.configuration.httpsRedirectPort
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let location = "https://" + hostPart + (port == 443 ? "" : ":\(port)") + target.path + target.query
        var headers = HTTPHeaders()
        headers.add(name: "location", value: location)
        answer(exchange, status: 308, headers: headers, body: "", context: context)
    }

    /// Writes a complete response made by the gateway.
    private func answer(
        _ exchange: ProxyExchange, status: Int, headers: HTTPHeaders, body: String, context: ChannelHandlerContext,
        closeConnection: Bool = false
    ) {
        exchange.phase = .answeringLocally
        if closeConnection { exchange.keepAlive = false }
        var headers = headers
        let bodyBuffer = context.channel.allocator.buffer(string: body)
        headers.replaceOrAdd(name: "content-length", value: String(bodyBuffer.readableBytes))
        if !exchange.keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        if let corsHeaders = exchange.corsHeaders {
            ProxyHeaders.applyCORS(corsHeaders, to: &headers)
        }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        exchange.status = status
        exchange.responseStarted = true
        exchange.responseComplete = true
        exchange.bytesOut += bodyBuffer.readableBytes
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if bodyBuffer.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(bodyBuffer))), promise: nil)
        }
        writeEnd(nil, for: exchange, context: context)
    }

    /// Writes the end of the response; ends the exchange once the request is complete too,
    /// closing the connection after the write when it cannot be kept alive.
    private func writeEnd(_ trailers: HTTPHeaders?, for exchange: ProxyExchange, context: ChannelHandlerContext) {
        if exchange.keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            if exchange.requestComplete {
                finish(exchange, context: context)
            } else {
                resumeDownstreamReadsIfPossible(context: context)  // to read and drop the rest
            }
        } else {
            let written = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
            closing = true
            finish(exchange, context: context, closeConnection: false)
            written.assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    /// Ends the exchange: logs it and, when the connection stays open, reads the next request.
    private func finish(_ exchange: ProxyExchange, context: ChannelHandlerContext, closeConnection: Bool = false) {
        guard self.exchange === exchange else { return }
        self.exchange = nil
        exchange.route?.requestEnded()
        if let upstream = exchange.route?.upstream, let endpoint = exchange.endpoint {
            upstream.requestEnded(on: endpoint)
            upstream.runtime.requestEnded()
            if exchange.holdsRetryBudget { upstream.runtime.retryEnded() }
        }
        exchange.deadline = nil
        exchange.drainDeadline = nil
        lastActivity = .now()
        if !closing { armIdleTimer(context: context, now: lastActivity) }
        state.metrics.recordRequest(
            route: exchange.route?.name ?? "no_route", status: exchange.status,
            nanoseconds: (lastActivity - exchange.startTime).nanoseconds)
        logAccess(exchange)
        if closeConnection {
            close(context)
        } else {
            servePendingParts(context: context)
        }
    }

    /// Serves pipelined requests that waited for the previous response, then resumes reading.
    private func servePendingParts(context: ChannelHandlerContext) {
        // Serving a part can end an exchange at once (a local answer), which calls back here:
        // the outer call keeps looping instead of recursing.
        guard !servingPendingParts else { return }
        servingPendingParts = true
        defer { servingPendingParts = false }
        while !closing, !pendingParts.isEmpty, exchange?.requestComplete != true {
            process(pendingParts.removeFirst(), context: context)
        }
        if pendingParts.isEmpty, readPending, !closing, !(exchange.map(holdsDownstreamReads) ?? false) {
            readPending = false
            context.read()
        }
    }

    /// Detaches and closes the upstream connection of an exchange that will not complete.
    private func abandonUpstream(of exchange: ProxyExchange) {
        exchange.deadline = nil
        exchange.tryDeadline = nil
        cancelConnectionWait(of: exchange)
        closeUpstreamConnection(of: exchange)
    }

    /// Detaches and closes the exchange's upstream connection, if it has one.
    private func closeUpstreamConnection(of exchange: ProxyExchange) {
        guard let connection = exchange.upstream else { return }
        exchange.upstream = nil
        connection.handler.delegate = nil
        connection.channel.close(promise: nil)
    }

    private func close(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        timer.cancel()
        if let exchange {
            abandonUpstream(of: exchange)
        }
        context.close(promise: nil)
    }

    private func holdsDownstreamReads(_ exchange: ProxyExchange) -> Bool {
        switch exchange.phase {
        case .answeringLocally: return false
        case .connecting, .tunneling: return true
        case .forwarding:
            guard let upstream = exchange.upstream else { return false }
            return !upstream.channel.isWritable
        }
    }

    private func resumeDownstreamReadsIfPossible(context: ChannelHandlerContext) {
        guard readPending, let exchange, !holdsDownstreamReads(exchange) else { return }
        readPending = false
        context.read()
    }

    private func logAccess(_ exchange: ProxyExchange) {
        let logger = environment.accessLogger
        guard logger.logLevel <= .info else { return }
        let elapsed = NIODeadline.now() - exchange.startTime
        var metadata: Logger.Metadata = [
            "method": .string(exchange.requestHead.method.rawValue),
            "path": .string(exchange.path),
            "status": .string(String(exchange.status)),
            "route": .string(exchange.route?.name ?? "no_route"),
            "bytes_in": .string(String(exchange.bytesIn)),
            "bytes_out": .string(String(exchange.bytesOut)),
            "duration_ms": .string(String(Double(elapsed.nanoseconds) / 1_000_000)),
            "client": .string(clientAddress),
        ]
        if let host = exchange.host { metadata["host"] = .string(host) }
        if let id = exchange.requestID { metadata["request.id"] = .string(id) }
        if let endpoint = exchange.endpoint { metadata["upstream"] = .string(endpoint.description) }
        if let reason = exchange.failureReason { metadata["error"] = .string(reason) }
        logger.info("request", metadata: metadata)
    }
}
