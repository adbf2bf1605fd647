import Logging
import NIOCore
import NIOHTTP1

/// Turns a downstream and an upstream connection into one byte pipe after a 101: the HTTP
/// handlers leave both pipelines and glue handlers join them, with backpressure. Bytes either
/// decoder had read past the handshake are passed on, not lost.
enum UpgradeHandover {
    /// Rebuilds both pipelines; the handler of `context` (the downstream HTTP handler) and
    /// the upstream connection's handler leave them. The pipe keeps the idle timeout. When the
    /// pipelines cannot be rebuilt, both connections are closed and `logger` says why.
    static func join(
        downstream context: ChannelHandlerContext, upstream: UpstreamConnection, idleTimeout: TimeAmount, logger: Logger
    ) {
        do {
            try rebuild(downstream: context, upstream: upstream.channel, upstreamHandler: upstream.handler, idleTimeout: idleTimeout)
        } catch {
            logger.warning("upgrade failed", metadata: ["error": "\(error)"])
            upstream.channel.close(promise: nil)
            context.channel.close(promise: nil)
        }
    }

    private static func rebuild(
        downstream context: ChannelHandlerContext, upstream: Channel, upstreamHandler: UpstreamHandler, idleTimeout: TimeAmount
    ) throws {
        let downstream = context.channel
        let downstreamSync = downstream.pipeline.syncOperations
        let upstreamSync = upstream.pipeline.syncOperations
        let requestDecoder = try downstreamSync.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
        let responseDecoder = try upstreamSync.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)
        let clientGlue = GlueHandler()
        let upstreamGlue = GlueHandler()
        GlueHandler.join(clientGlue, upstreamGlue)
        try downstreamSync.addHandler(clientGlue, position: .after(requestDecoder))
        try upstreamSync.addHandler(upstreamGlue, position: .after(responseDecoder))
        try downstreamSync.addHandler(IdleStateHandler(allTimeout: idleTimeout), position: .before(clientGlue))
        // Encoders and HTTP handlers first, so nothing writes through them; then the
        // decoders, which hand their leftover bytes to the glue.
        upstreamSync.removeHandler(try upstreamSync.handler(type: HTTPRequestEncoder.self), promise: nil)
        upstreamSync.removeHandler(upstreamHandler, promise: nil)
        downstreamSync.removeHandler(try downstreamSync.handler(type: HTTPResponseEncoder.self), promise: nil)
        downstreamSync.removeHandler(context: context, promise: nil)
        upstreamSync.removeHandler(responseDecoder, promise: nil)
        downstreamSync.removeHandler(requestDecoder, promise: nil)
        downstream.read()
        upstream.read()
    }
}
