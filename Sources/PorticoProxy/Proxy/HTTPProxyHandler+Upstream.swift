import NIOCore
import NIOHTTP1
import PorticoCore

/// The upstream side of the proxy handler: getting a try its connection (pooled, new, or
/// after a wait for a slot), feeding what the connection receives to the exchange, and
/// handing both connections to a tunnel after a 101.
extension HTTPProxyHandler: UpstreamConnectionDelegate {
    /// Starts a try (``UpstreamLease/acquire(_:of:reusePooled:in:whenGranted:)``).
    func acquire(_ next: Exchange.Try, context: ChannelHandlerContext) {
        guard let upstream else { return }
        let limiter = upstream.runtime.connections
        let acquisition = lease.acquire(next.endpoint, of: upstream, reusePooled: next.mayReusePooledConnection, in: pool) {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            return {
                bound.eventLoop.execute {
                    let handler = bound.value
                    guard let context = handler.context, let action = handler.exchange?.machine?.connectionSlotGranted(toTry: next.id),
                        case .openConnection = action
                    else { return limiter.release() }
                    handler.run(action, context: context)
                }
            }
        }
        switch acquisition {
        case .pooled(let idle): attach(idle, to: next, context: context)
        case .open: open(next, context: context)
        case .queued: exchange?.machine?.connectionSlotQueued(forTry: next.id)
        case .overflow(let reason):
            state.metrics.recordOverflow(upstream: upstream.target.name, kind: "pending")
            run(exchange?.machine?.connectionOverflowed(reason: reason), context: context)
        }
    }

    /// Opens a new connection for the try (its slot is taken).
    func open(_ next: Exchange.Try, context: ChannelHandlerContext) {
        guard let upstream else { return }
        let pool = self.pool
        pool.connect(to: next.endpoint, timeout: upstream.target.definition.connectTimeout, limiter: upstream.runtime.connections)
            .assumeIsolated().whenComplete { [weak self] result in
                guard let self, let context = self.context else {
                    if case .success(let connection) = result { pool.release(connection) }
                    return
                }
                switch result {
                case .success(let connection): self.attach(connection, to: next, context: context)
                case .failure(let error):
                    self.run(self.exchange?.machine?.connectFailed(forTry: next.id, error: "\(error)", now: context.eventLoop.now), context: context)
                }
            }
    }

    func attach(_ upstream: UpstreamConnection, to next: Exchange.Try, context: ChannelHandlerContext) {
        guard let action = exchange?.machine?.connectionReady(forTry: next.id), case .sendRequest = action else {
            return pool.release(upstream)  // the try was abandoned while connecting: keep the connection
        }
        lease.hold(upstream, for: self)
        run(action, context: context)
    }

    var canAcceptResponseData: Bool { context?.channel.isWritable ?? false }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(let head): run(exchange?.machine?.responseHeadReceived(head, now: context.eventLoop.now), context: context)
        case .body(var buffer):
            if let gzip {
                guard exchange?.machine?.forwardsResponseBody == true else { return }
                do { buffer = try gzip.compress(buffer) } catch { return run(exchange?.machine?.responseBodyFailed("gzip: \(error)"), context: context) }
                if buffer.readableBytes == 0 { return }
            }
            guard exchange?.machine?.responseBodyForwarded(bytes: buffer.readableBytes) == true else { return }
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers): run(exchange?.machine?.responseEndReceived(trailers), context: context)
        }
    }

    func upstreamReadComplete() { context?.flush() }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable, let context { resumeReadsIfPossible(context: context) }
    }

    func upstreamClosed() {
        guard let context, let requestCount = lease.connectionClosed() else { return }
        run(exchange?.machine?.upstreamClosed(requestCount: requestCount, now: context.eventLoop.now), context: context)
    }

    /// Hands both connections to a ``Tunnel`` after a 101 (``UpgradeHandover``).
    func becomeTunnel(context: ChannelHandlerContext) {
        let drainDeadline = exchange?.machine?.drainDeadline
        guard let upstream = lease.connection, !connection.isClosing, upstream.channel.isActive,
            let route = exchange?.machine?.route, let counter = routeCounter, exchange?.machine?.upgradeHandedOver() == true
        else {
            environment.accessLogger.warning("upgrade abandoned", metadata: ["closing": "\(connection.isClosing)"])
            lease.giveUp(in: pool)
            return close(context)
        }
        _ = lease.handOver()
        _ = connection.startClosing()  // this handler is done with the connection; the pipe owns it now
        // The pipe counts on its route before the exchange stops counting, so a drain never
        // misses it; a drain that reached the exchange carries over to the pipe.
        let tunnel = Tunnel(
            route: route, counter: counter, endpoint: exchange?.machine?.record.endpoint, downstream: context.channel,
            upstream: upstream.channel, state: state)
        tunnel.start()
        if let drainDeadline { tunnel.drain(at: drainDeadline) }
        finish(context: context)
        timer.cancel()
        let idleTimeout = TimeAmount.milliseconds(environment.configuration.idleTimeout.wholeMilliseconds)
        UpgradeHandover.join(downstream: context, upstream: upstream, idleTimeout: idleTimeout, logger: environment.accessLogger)
    }
}
