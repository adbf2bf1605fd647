import Logging
import NIOCore
import NIOTLS

/// Sits after the TLS handler of an HTTPS connection and counts its handshake: completed,
/// or failed with a TLS error (a connection closed before any handshake, such as a load
/// balancer's TCP probe, is neither). A failed handshake closes the connection.
final class TLSHandshakeObserver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let metrics: GatewayMetrics
    private let logger: Logger
    private var settled = false

    init(metrics: GatewayMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if !settled, case .handshakeCompleted? = event as? TLSUserEvent {
            settled = true
            metrics.tlsHandshakesCompleted.increment()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if !settled {
            settled = true
            metrics.tlsHandshakesFailed.increment()
            logger.debug(
                "TLS handshake failed",
                metadata: ["client": "\(context.channel.remoteAddress?.ipAddress ?? "unknown")", "error": "\(error)"])
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}
