import Logging
import NIOCore
import NIOHTTP1
import PorticoCore

/// Serves one downstream HTTP/1.1 connection, or one HTTP/2 stream that NIOHTTP2's codec
/// presents as HTTP/1 parts. A thin shell in AsyncHTTPClient's style: every callback asks
/// ``DownstreamConnectionStateMachine`` (reads, pipelining, idle time) or the request's
/// ``ExchangeStateMachine`` (routing, tries, retries, deadlines, the response) and runs the
/// action it returns. Bodies stream with backpressure both ways (reads on one side wait
/// while the other side is not writable, as in swift-nio-examples' connect-proxy).
final class HTTPProxyHandler: ChannelDuplexHandler, UpstreamConnectionDelegate, DrainableConnection {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart
    private typealias Exchange = ExchangeStateMachine<EndpointSelector>

    private let environment: ProxyEnvironment
    private let state: EventLoopState
    /// An HTTP/2 stream is a request, not a connection: its connection is counted elsewhere.
    private let isHTTP2Stream: Bool
    private let router: RequestRouter
    private let recorder: ExchangeRecorder
    private var pool: UpstreamConnectionPool { state.pool }
    private var context: ChannelHandlerContext?
    private var clientAddress = "unknown"
    private var connection: DownstreamConnectionStateMachine
    private var exchange: Exchange?
    /// Numbers the exchanges of the connection, so that no try id repeats on it.
    private var exchangeSerial: UInt64 = 0
    private var lease = UpstreamLease()
    /// Compresses the current response body when it is gzipped on its way to the client.
    private var gzip: GzipStream?
    private lazy var timer = ConnectionTimer { [unowned self] in self.timerFired() }

    init(environment: ProxyEnvironment, state: EventLoopState, isHTTP2Stream: Bool = false) {
        self.environment = environment
        self.state = state
        self.isHTTP2Stream = isHTTP2Stream
        router = RequestRouter(scheme: environment.scheme, httpsRedirectPort: environment.configuration.httpsRedirectPort)
        recorder = ExchangeRecorder(accessLogger: environment.accessLogger, metrics: state.metrics)
        connection = DownstreamConnectionStateMachine(
            now: state.eventLoop.now, idleTimeout: .milliseconds(environment.configuration.idleTimeout.wholeMilliseconds))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        state.register(self)
        if !isHTTP2Stream { environment.metrics.activeConnections.increment() }
        if let address = context.channel.remoteAddress?.ipAddress { clientAddress = address }
        armIdleTimer(context: context, now: context.eventLoop.now)
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
        let part = unwrapInboundIn(data)
        if connection.partRead(part, exchangeTakesParts: exchangeTakesParts) == .process { process(part, context: context) }
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head): if exchange == nil { begin(head, context: context) }
        case .body(let buffer): run(exchange?.requestBodyReceived(buffer), context: context)
        case .end(let trailers): run(exchange?.requestEndReceived(trailers), context: context)
        }
    }

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        let routed = router.route(
            head, table: environment.routeTables.current, clientAddress: clientAddress,
            makeRequestID: environment.requestIDs.next)
        exchangeSerial += 1
        exchange = Exchange(routed: routed, request: head, serial: exchangeSerial, now: now, isHTTP2Stream: isHTTP2Stream)
        routed.route?.requestStarted()
        var selector: EndpointSelector?
        if case .proxy(let plan) = routed.decision {
            selector = EndpointSelector(
                upstream: plan.upstream, unhealthy: state.unhealthyEndpoints, metrics: state.metrics,
                gatewayMetrics: environment.metrics, logger: environment.accessLogger)
        }
        run(exchange?.start(upstream: selector, now: now), context: context)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        connection.readCompleted(now: context.eventLoop.now)
        lease.connection?.handler.flush()
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if connection.readRequested(exchangeHoldsReads: holdsReads) { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { lease.connection?.handler.resumeReads() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        _ = connection.startClosing()
        if exchange != nil {
            exchange?.clientClosed()
            lease.giveUp(in: pool)
            finish(context: context)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else { return close(context) }
        if exchange == nil {
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "")
            let routed = RoutedRequest(path: "", decision: .noRoute)
            exchange = Exchange(routed: routed, request: head, serial: 0, now: context.eventLoop.now, isHTTP2Stream: isHTTP2Stream)
        }
        lease.giveUp(in: pool)
        let code: GatewayErrorCode = parserError == .headerOverflow ? .headersTooLarge : .badRequest
        run(exchange?.malformedRequest(code, description: "\(parserError)"), context: context)
    }

    // MARK: Actions

    private func run(_ action: Exchange.Action?, context: ChannelHandlerContext) {
        switch action {
        case nil, .none?, .giveBack?: break
        case .acquireConnection(let next)?: acquire(next, context: context)
        case .retry(let next, _)?:
            lease.giveUp(in: pool)
            acquire(next, context: context)
        case .openConnection(let next)?:
            lease.slotGranted()
            open(next, context: context)
        case .sendRequest(let head, let parts)?:
            guard let upstream = lease.connection else { break }
            upstream.handler.send(.head(head))
            for part in parts { upstream.handler.send(part) }
            upstream.handler.flush()
            upstream.handler.resumeReads()
            resumeReadsIfPossible(context: context)
        case .sendRequestPart(let part, let flush)?:
            lease.connection?.handler.send(part)
            if flush { lease.connection?.handler.flush() }
        case .answer(let head, let body, let ending)?:
            lease.giveUp(in: pool)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if !body.isEmpty { context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil) }
            end(nil, ending, context: context)
        case .forwardInformational(let head)?:
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        case .forwardResponseHead(let head, let compress)?:
            if compress {
                guard let stream = try? GzipStream(allocator: context.channel.allocator) else {
                    return run(exchange?.responseBodyFailed("gzip: cannot start"), context: context)
                }
                gzip = stream
            }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .endResponse(let trailers, let reuse, let ending)?:
            if let stream = gzip, let tail = try? stream.finish(), tail.readableBytes > 0 {
                exchange?.responseBodyWritten(bytes: tail.readableBytes)
                context.write(wrapOutboundOut(.body(.byteBuffer(tail))), promise: nil)
            }
            gzip = nil
            let maxRequests = exchange?.route?.upstream?.definition.maxRequestsPerConnection
            lease.finish(in: pool, reusable: reuse, maxRequests: maxRequests)
            end(trailers, ending, context: context)
        case .beginUpgrade(let head)?:
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            // Switch once the decoders have finished this read (the 101's end is still coming).
            context.eventLoop.assumeIsolated().execute { [self] in self.becomeTunnel(context: context) }
        case .finish?: finish(context: context)
        case .close?: close(context)
        }
        if let deadline = exchange?.nextDeadline { timer.arm(at: deadline, on: context.eventLoop) }
    }

    /// Starts a try: an idle pooled connection if it may take one, else a new one if the
    /// upstream's `maxConnections` has room, else a wait for a slot if `maxPendingRequests`
    /// has room, else 503 at once.
    private func acquire(_ next: Exchange.Try, context: ChannelHandlerContext) {
        guard let upstream = exchange?.route?.upstream else { return }
        let limiter = upstream.runtime.connections
        if next.mayReusePooledConnection, let idle = pool.takeIdle(for: next.endpoint, limiter: limiter) {
            return attach(idle, to: next, context: context)
        }
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let maxPending = upstream.definition.maxPendingRequests ?? UpstreamDefinition.defaultMaxPendingRequests
        switch limiter.acquire(maxConnections: upstream.definition.maxConnections, maxPending: maxPending, whenGranted: {
            bound.eventLoop.execute {
                let handler = bound.value
                guard let context = handler.context, let action = handler.exchange?.connectionSlotGranted(toTry: next.id),
                    case .openConnection = action
                else { return limiter.release() }
                handler.run(action, context: context)
            }
        }) {
        case .granted: open(next, context: context)
        case .queued(let waiter):
            lease.wait(for: waiter, on: limiter)
            exchange?.connectionSlotQueued(forTry: next.id)
        case .overflow:
            state.metrics.recordOverflow(upstream: upstream.name, kind: "pending")
            let reason = "upstream overflow: \(upstream.definition.maxConnections ?? 0) connections busy, \(maxPending) requests waiting"
            run(exchange?.connectionOverflowed(reason: reason), context: context)
        }
    }

    /// Opens a new connection for the try (its slot is taken).
    private func open(_ next: Exchange.Try, context: ChannelHandlerContext) {
        guard let upstream = exchange?.route?.upstream else { return }
        let pool = self.pool
        pool.connect(to: next.endpoint, timeout: upstream.definition.connectTimeout, limiter: upstream.runtime.connections)
            .assumeIsolated().whenComplete { [weak self] result in
                guard let self, let context = self.context else {
                    if case .success(let connection) = result { pool.release(connection) }
                    return
                }
                switch result {
                case .success(let connection): self.attach(connection, to: next, context: context)
                case .failure(let error):
                    self.run(self.exchange?.connectFailed(forTry: next.id, error: "\(error)", now: context.eventLoop.now), context: context)
                }
            }
    }

    private func attach(_ upstream: UpstreamConnection, to next: Exchange.Try, context: ChannelHandlerContext) {
        guard let action = exchange?.connectionReady(forTry: next.id), case .sendRequest = action else {
            return pool.release(upstream)  // the try was abandoned while connecting: keep the connection
        }
        upstream.requestCount += 1
        upstream.handler.delegate = self
        lease.hold(upstream)
        run(action, context: context)
    }

    /// Writes the end of the response, then ends the exchange or reads the rest of the request,
    /// or closes the connection once the end is written.
    private func end(_ trailers: HTTPHeaders?, _ ending: Exchange.Ending, context: ChannelHandlerContext) {
        switch ending {
        case .finish:
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            finish(context: context)
        case .readRest:
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            resumeReadsIfPossible(context: context)  // to read and drop the rest
        case .close:
            let written = context.writeAndFlush(wrapOutboundOut(.end(trailers)))
            _ = connection.startClosing()
            finish(context: context)
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// Ends the exchange: counts and logs it and, when the connection stays open, serves
    /// pipelined requests that waited for it.
    private func finish(context: ChannelHandlerContext) {
        guard let ended = exchange else { return }
        exchange = nil
        gzip = nil
        ended.route?.requestEnded()
        ended.requestEnded()
        let now = context.eventLoop.now
        connection.exchangeEnded(now: now)
        if !connection.isClosing { armIdleTimer(context: context, now: now) }
        recorder.record(ended.record, clientAddress: clientAddress, now: now)
        guard connection.startServingHeldParts() else { return }
        while let part = connection.nextHeldPart(exchangeTakesParts: exchangeTakesParts) { process(part, context: context) }
        if connection.stopServingHeldParts(exchangeHoldsReads: holdsReads) { context.read() }
    }

    private func close(_ context: ChannelHandlerContext) {
        guard connection.startClosing() else { return }
        timer.cancel()
        lease.giveUp(in: pool)
        context.close(promise: nil)
    }

    // MARK: Upstream events

    var canAcceptResponseData: Bool { context?.channel.isWritable ?? false }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(let head): run(exchange?.responseHeadReceived(head, now: context.eventLoop.now), context: context)
        case .body(var buffer):
            guard exchange?.forwardsResponseBody == true else { return }
            if let gzip {
                do { buffer = try gzip.compress(buffer) } catch { return run(exchange?.responseBodyFailed("gzip: \(error)"), context: context) }
                if buffer.readableBytes == 0 { return }
            }
            exchange?.responseBodyWritten(bytes: buffer.readableBytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers): run(exchange?.responseEndReceived(trailers), context: context)
        }
    }

    func upstreamReadComplete() { context?.flush() }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable, let context { resumeReadsIfPossible(context: context) }
    }

    func upstreamClosed() {
        guard let context, let requestCount = lease.connectionClosed() else { return }
        run(exchange?.upstreamClosed(requestCount: requestCount, now: context.eventLoop.now), context: context)
    }

    // MARK: Time, drains and the upgrade

    /// The connection timer fired: the exchange ends what expired, or the idle timeout applies.
    private func timerFired() {
        guard let context, !connection.isClosing else { return }
        let now = context.eventLoop.now
        if exchange?.nextDeadline != nil {
            run(exchange?.timerFired(now: now), context: context)
        } else {
            armIdleTimer(context: context, now: now)  // between requests, or a body trickling in after an answer
        }
    }

    private func armIdleTimer(context: ChannelHandlerContext, now: NIODeadline) {
        switch connection.idleCheck(now: now) {
        case .close: close(context)
        case .armTimer(let deadline): timer.arm(at: deadline, on: context.eventLoop)
        }
    }

    /// A new snapshot was published: if it retires the running exchange (its route, or its
    /// endpoint), the exchange may run until `deadline` on its old definition, then it is ended.
    func drain(_ retirement: RouteRetirement, deadline: NIODeadline) {
        guard let context, exchange?.drain(retirement, deadline: deadline) == true else { return }
        timer.arm(at: deadline, on: context.eventLoop)
    }

    /// Hands both connections to a ``Tunnel`` after a 101 (``UpgradeHandover``).
    private func becomeTunnel(context: ChannelHandlerContext) {
        let drainDeadline = exchange?.drainDeadline
        guard let upstream = lease.connection, !connection.isClosing, upstream.channel.isActive,
            let route = exchange?.route, exchange?.upgradeHandedOver() == true
        else {
            environment.accessLogger.warning("upgrade abandoned", metadata: ["closing": "\(connection.isClosing)"])
            lease.giveUp(in: pool)
            return close(context)
        }
        _ = lease.handOver()
        _ = connection.startClosing()  // this handler is done with the connection; the pipe owns it now
        // The pipe counts on its route before the exchange stops counting, so a drain never
        // misses it; a drain that reached the exchange carries over to the pipe.
        let tunnel = Tunnel(route: route, endpoint: exchange?.record.endpoint, downstream: context.channel, upstream: upstream.channel, state: state)
        tunnel.start()
        if let drainDeadline { tunnel.drain(at: drainDeadline) }
        finish(context: context)
        timer.cancel()
        do {
            try UpgradeHandover.join(
                downstream: context, upstream: upstream.channel, upstreamHandler: upstream.handler,
                idleTimeout: .milliseconds(environment.configuration.idleTimeout.wholeMilliseconds))
        } catch {
            environment.accessLogger.warning("upgrade failed", metadata: ["error": "\(error)"])
            upstream.channel.close(promise: nil)
            context.channel.close(promise: nil)
        }
    }

    // MARK: Read gating

    /// Whether a part read now goes to the running exchange (or starts one): not while an
    /// exchange whose request is complete still answers.
    private var exchangeTakesParts: Bool { !(exchange?.requestComplete ?? false) }

    private var holdsReads: Bool {
        guard let exchange else { return false }
        if exchange.holdsDownstreamReads { return true }
        guard case .forwarding = exchange.state, let upstream = lease.connection else { return false }
        return !upstream.channel.isWritable
    }

    private func resumeReadsIfPossible(context: ChannelHandlerContext) {
        if connection.resumeReading(exchangeHoldsReads: holdsReads) { context.read() }
    }
}
