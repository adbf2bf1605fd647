import NIOCore

/// Watches one HTTP/2 client connection: counts it in `portico_active_connections` (its
/// streams are requests, not connections) and closes it when no stream has been open for
/// the idle timeout, as an HTTP/1.1 keep-alive connection is closed between requests.
final class HTTP2ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let metrics: GatewayMetrics
    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    private var idleSince = NIODeadline.now()
    private lazy var timer = ConnectionTimer { [unowned self] in self.timerFired() }

    init(metrics: GatewayMetrics, idleTimeout: Duration) {
        self.metrics = metrics
        self.idleTimeout = .milliseconds(idleTimeout.wholeMilliseconds)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        metrics.activeConnections.increment()
        timer.arm(at: idleSince + idleTimeout, on: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        metrics.activeConnections.decrement()
        timer.cancel()
        self.context = nil
    }

    /// A client stream began.
    func streamOpened() {
        openStreams += 1
    }

    /// A client stream ended.
    func streamClosed() {
        openStreams -= 1
        guard openStreams == 0, let context else { return }
        idleSince = .now()
        timer.arm(at: idleSince + idleTimeout, on: context.eventLoop)
    }

    private func timerFired() {
        guard let context, openStreams == 0 else { return }
        let deadline = idleSince + idleTimeout
        if deadline <= .now() {
            context.close(promise: nil)
        } else {
            timer.arm(at: deadline, on: context.eventLoop)
        }
    }
}
