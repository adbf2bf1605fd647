import NIOCore
import PorticoCore

/// First on a connection when `PORTICO_PROXY_PROTOCOL=on` (SPEC §13): reads the PROXY v1 or
/// v2 header, then sets up the rest of the pipeline (TLS or HTTP) with the header's source
/// as the peer, hands on the bytes after the header and leaves. A connection without a
/// valid header within ``timeout`` is closed.
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    static let timeout: TimeAmount = .seconds(10)

    /// Sets up the pipeline after this handler for a connection from `peer`: the header's
    /// source, `nil` when it names none (the TCP peer then stands).
    private let configure: (Channel, String?) throws -> Void
    private var received: ByteBuffer?
    private var deadline: Scheduled<Void>?

    init(configure: @escaping (Channel, String?) throws -> Void) {
        self.configure = configure
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: Self.timeout) { channel.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if var earlier = received {
            earlier.writeBuffer(&buffer)
            buffer = earlier
        }
        switch ProxyProtocolHeader.parse(buffer.readableBytesView) {
        case .incomplete:
            received = buffer
        case .invalid:
            received = nil
            context.close(promise: nil)
        case .header(let source, let length):
            received = nil
            buffer.moveReaderIndex(forwardBy: length)
            do {
                try configure(context.channel, source)
            } catch {
                context.close(promise: nil)
                return
            }
            if buffer.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(buffer)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }
}
