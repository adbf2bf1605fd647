import NIOCore
import NIOHTTP2

/// Watches one HTTP/2 client connection: counts it in `portico_active_connections` (its
/// streams are requests, not connections) and closes it when no stream has been open for
/// the idle timeout, as an HTTP/1.1 keep-alive connection is closed between requests. When
/// the gateway shuts down, it sends GOAWAY and closes once the open streams are done.
final class HTTP2ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    private let metrics: GatewayMetrics
    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    private var openStreams = 0
    /// The gateway asked connections to close after their current work.
    private var quiescing = false
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

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent, !quiescing {
            quiescing = true
            let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: .maxID, errorCode: .noError, opaqueData: nil))
            context.writeAndFlush(NIOAny(goAway), promise: nil)
            if openStreams == 0 { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A client stream ended.
    func streamClosed() {
        openStreams -= 1
        guard openStreams == 0, let context else { return }
        if quiescing { return context.close(promise: nil) }
        idleSince = context.eventLoop.now
        timer.arm(at: idleSince + idleTimeout, on: context.eventLoop)
    }

    private func timerFired() {
        guard let context, openStreams == 0 else { return }
        let deadline = idleSince + idleTimeout
        if deadline <= context.eventLoop.now {
            context.close(promise: nil)
        } else {
            timer.arm(at: deadline, on: context.eventLoop)
        }
    }
}
