import FoundationEssentials
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
final class HTTPProxyHandler: ChannelDuplexHandler, DrainableConnection {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart
    typealias Exchange = ExchangeStateMachine

    let environment: ProxyEnvironment
    let state: EventLoopState
    /// An HTTP/2 stream is a request, not a connection: its connection is counted elsewhere.
    private let isHTTP2Stream: Bool
    private let router: RequestRouter
    private let recorder: ExchangeRecorder
    var pool: UpstreamConnectionPool { state.pool }
    var context: ChannelHandlerContext?
    private var clientAddress = "unknown"
    /// The peer a PROXY protocol header named, which stands for the TCP peer.
    private let headerPeer: String?
    // The state below is touched only on the channel's event loop, and every access ends
    // before the next begins (a machine returns its action before the action runs): the
    // runtime's exclusivity check on each access, a thread-local lookup, is left out.
    @exclusivity(unchecked) var connection: DownstreamConnectionStateMachine
    @exclusivity(unchecked) var exchange: ExchangeBox?
    /// The exchange's upstream and the in-flight counter of its route, from its snapshot.
    @exclusivity(unchecked) var upstream: UpstreamState?
    @exclusivity(unchecked) var routeCounter: RouteCounter?
    /// Numbers the exchanges of the connection, so that no try id repeats on it.
    private var exchangeSerial: UInt64 = 0
    /// The running exchange's serial, which its asynchronous answers carry.
    var currentSerial: UInt64 { exchangeSerial }
    @exclusivity(unchecked) var lease = UpstreamLease()
    /// Compresses the current response body when it is gzipped on its way to the client.
    var gzip: GzipStream?
    lazy var timer = ConnectionTimer { [unowned self] in self.timerFired() }

    /// `peer`: the client's address from a PROXY protocol header, in place of the TCP peer.
    init(environment: ProxyEnvironment, state: EventLoopState, isHTTP2Stream: Bool = false, peer: String? = nil) {
        self.environment = environment
        headerPeer = peer
        self.state = state
        self.isHTTP2Stream = isHTTP2Stream
        router = RequestRouter(scheme: environment.scheme, httpsRedirectPort: environment.configuration.httpsRedirectPort)
        recorder = ExchangeRecorder(
            accessLogger: environment.accessLogger, accessLog: state.accessLog, metrics: state.metrics, spans: environment.spans)
        connection = DownstreamConnectionStateMachine(
            now: state.eventLoop.now, idleTimeout: .milliseconds(environment.configuration.idleTimeout.wholeMilliseconds))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        state.register(self)
        if !isHTTP2Stream { environment.metrics.activeConnections.increment() }
        clientAddress = headerPeer ?? context.channel.remoteAddress?.ipAddress ?? "unknown"
        armIdleTimer(context: context, now: context.eventLoop.now)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        state.deregister(self)
        if !isHTTP2Stream { environment.metrics.activeConnections.decrement() }
        timer.cancel()
        self.context = nil
    }

    // MARK: Downstream events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if connection.partRead(part, exchangeTakesParts: exchangeTakesParts) == .process { process(part, context: context) }
    }

    private func process(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head): if exchange == nil { begin(head, context: context) }
        case .body(let buffer): run(exchange?.machine?.requestBodyReceived(buffer), context: context)
        case .end(let trailers): run(exchange?.machine?.requestEndReceived(trailers), context: context)
        }
    }

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        let snapshot = state.snapshot
        let routed = router.route(
            head,
            in: RequestRouter.Context(
                table: snapshot.table, health: snapshot.health, peerAddress: clientAddress,
                trustedProxies: environment.configuration.trustedProxies, makeRequestID: environment.makeRequestID,
                roll: state.rollFunction,
                rateLimiters: snapshot.rateLimiters, now: Int64(clamping: now.uptimeNanoseconds),
                traceSampleRate: environment.configuration.traceSampleRate, random: state.randomFunction))
        exchangeSerial += 1
        exchange = ExchangeBox(routed: routed, request: head, serial: exchangeSerial, now: now, isHTTP2Stream: isHTTP2Stream)
        routeCounter = snapshot.counter(for: routed.route)
        routeCounter?.started()
        var selector: EndpointSelector?
        if case .proxy(let plan) = routed.decision {
            let chosen = state.selector(for: plan.upstream) { upstream, health in
                EndpointSelector(
                    upstream: upstream, unhealthy: health, metrics: state.metrics, gatewayMetrics: environment.metrics,
                    logger: environment.accessLogger)
            }
            upstream = chosen.upstream
            selector = chosen
        }
        let authorizer = snapshot.authorizer(for: routed.route)
        run(
            exchange?.machine?.start(
                upstream: selector, authorizer: authorizer, now: now, epochSeconds: authorizer == nil ? 0 : Self.epochSeconds),
            context: context)
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
            exchange?.machine?.clientClosed()
            lease.giveUp(in: pool)
            finish(context: context)
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Shutdown (``HTTPListener/quiesce()``): close when idle, else after this response. An
        // HTTP/2 stream ends with its response anyway; its connection sends GOAWAY.
        guard event is ChannelShouldQuiesceEvent, !isHTTP2Stream else { return context.fireUserInboundEventTriggered(event) }
        if exchange == nil { return close(context) }
        exchange?.machine?.closeAfterResponse()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard let parserError = error as? HTTPParserError else { return close(context) }
        if exchange == nil {
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "")
            let routed = RoutedRequest(client: clientAddress, path: "", decision: .noRoute)
            exchange = ExchangeBox(
                routed: routed, request: head, serial: 0, now: context.eventLoop.now, isHTTP2Stream: isHTTP2Stream)
        }
        lease.giveUp(in: pool)
        let code: GatewayErrorCode = parserError == .headerOverflow ? .headersTooLarge : .badRequest
        run(exchange?.machine?.malformedRequest(code, description: "\(parserError)"), context: context)
    }

    // MARK: Actions

    func run(_ action: Exchange.Action?, context: ChannelHandlerContext) {
        switch action {
        case nil, .none?, .giveBack?: break
        case .refreshKeys(let source)?: refreshKeys(source, context: context)
        case .callForwardAuth(let definition, let client)?: callForwardAuth(definition, client: client, context: context)
        case .acquireConnection(let next)?:
            armExchangeTimer(context: context)
            acquire(next, context: context)
        case .retry(let next, _)?:
            lease.giveUp(in: pool)
            armExchangeTimer(context: context)
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
            if body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
            end(nil, ending, context: context)
        case .forwardInformational(let head)?:
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        case .forwardResponseHead(let head, let compress)?:
            if compress {
                guard let stream = try? GzipStream(allocator: context.channel.allocator) else {
                    return run(exchange?.machine?.responseBodyFailed("gzip: cannot start"), context: context)
                }
                gzip = stream
            }
            context.write(wrapOutboundOut(.head(head)), promise: nil)
        case .endResponse(let trailers, let reuse, let ending)?:
            if let stream = gzip, let tail = try? stream.finish(), tail.readableBytes > 0 {
                exchange?.machine?.responseBodyWritten(bytes: tail.readableBytes)
                context.write(wrapOutboundOut(.body(.byteBuffer(tail))), promise: nil)
            }
            gzip = nil
            let maxRequests = exchange?.machine?.route?.upstream?.definition.maxRequestsPerConnection
            lease.finish(in: pool, reusable: reuse, maxRequests: maxRequests)
            end(trailers, ending, context: context)
        case .beginUpgrade(let head)?:
            context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
            // Switch once the decoders have finished this read (the 101's end is still coming).
            context.eventLoop.assumeIsolated().execute { [self] in self.becomeTunnel(context: context) }
        case .finish?: finish(context: context)
        case .close?: close(context)
        }
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
    func finish(context: ChannelHandlerContext) {
        // Moved out of its box, not copied: a call on a class's stored struct copies it first.
        guard let ended = exchange.take()?.machine.take() else { return }
        gzip = nil
        upstream = nil
        routeCounter?.ended()
        routeCounter = nil
        ended.requestEnded()
        let now = context.eventLoop.now
        connection.exchangeEnded(now: now)
        if !connection.isClosing { armIdleTimer(context: context, now: now) }
        recorder.record(ended.record, now: now)
        guard connection.startServingHeldParts() else { return }
        while let part = connection.nextHeldPart(exchangeTakesParts: exchangeTakesParts) { process(part, context: context) }
        if connection.stopServingHeldParts(exchangeHoldsReads: holdsReads) { context.read() }
    }

    func close(_ context: ChannelHandlerContext) {
        guard connection.startClosing() else { return }
        timer.cancel()
        lease.giveUp(in: pool)
        context.close(promise: nil)
    }

    // MARK: Read gating

    /// Whether a part read now goes to the running exchange (or starts one): not while an
    /// exchange whose request is complete still answers.
    private var exchangeTakesParts: Bool { !(exchange?.machine?.requestComplete ?? false) }

    private var holdsReads: Bool {
        switch exchange?.machine?.readGate {
        case nil, .open?: return false
        case .held?: return true
        case .whileUpstreamBusy?: return lease.connection.map { !$0.channel.isWritable } ?? false
        }
    }

    func resumeReadsIfPossible(context: ChannelHandlerContext) {
        if connection.resumeReading(exchangeHoldsReads: holdsReads) { context.read() }
    }
}

/// The running exchange's machine in a box of its own: an idle connection then holds one
/// reference rather than the machine's 600 bytes. (Only its connection's event loop touches
/// it, one access at a time, as the handler's own state.)
final class ExchangeBox {
    /// Nil only once ``HTTPProxyHandler/finish(context:)`` has moved it out.
    @exclusivity(unchecked) var machine: ExchangeStateMachine?

    /// Makes the machine in the box: one made outside would be copied in.
    init(routed: RoutedRequest, request: HTTPRequestHead, serial: UInt64, now: NIODeadline, isHTTP2Stream: Bool) {
        machine = ExchangeStateMachine(routed: routed, request: request, serial: serial, now: now, isHTTP2Stream: isHTTP2Stream)
    }
}
