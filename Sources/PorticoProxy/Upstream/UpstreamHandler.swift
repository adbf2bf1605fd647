import NIOCore
import NIOHTTP1

/// Receives what happens on an upstream connection while it serves one exchange.
protocol UpstreamConnectionDelegate: AnyObject {
    /// Whether the downstream side can take more response data now; reads from the
    /// upstream are held while it cannot (backpressure).
    var canAcceptResponseData: Bool { get }
    func upstreamReceived(_ part: HTTPClientResponsePart)
    /// The end of one read burst: the moment to flush what was forwarded.
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    func upstreamClosed()
}

/// The last handler of an upstream connection's pipeline: forwards response parts to the
/// exchange using the connection and holds reads while the downstream cannot take more.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// The exchange currently using the connection; `nil` while it idles in the pool.
    weak var delegate: UpstreamConnectionDelegate?
    private var context: ChannelHandlerContext?
    private var readPending = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let delegate else {
            // An idle connection must not receive anything; a response without a request
            // means the connection cannot be trusted.
            context.close(promise: nil)
            return
        }
        delegate.upstreamReceived(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Any error ends the connection; the exchange learns of it through channelInactive.
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.canAcceptResponseData {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Issues a read held back by backpressure.
    func resumeReads() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    /// Writes a request part (flushed by ``flush()``).
    func send(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        context?.flush()
    }
}
