import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// A bound plain-HTTP listener of the data plane.
///
/// Each accepted connection gets NIO's HTTP/1.1 server pipeline (with the header-size limit
/// of SPEC §8 and without NIO's own error responder: ``HTTPProxyHandler`` answers malformed
/// requests itself) and one ``HTTPProxyHandler``, which also closes idle keep-alive connections.
public final class HTTPListener: Sendable {
    /// The listening channel.
    public let channel: Channel

    private init(channel: Channel) {
        self.channel = channel
    }

    /// The address the listener is bound to (with the real port when 0 was asked for).
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Binds a listener on `host:port` that serves requests with `dataPlane`.
    public static func bind(host: String, port: Int, group: EventLoopGroup, dataPlane: DataPlane) async throws
        -> HTTPListener
    {
        let configuration = dataPlane.environment.configuration
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = configuration.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = configuration.maxHeaderBytes
        let limits = decoderLimits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(
                        // HTTPProxyHandler orders pipelined requests itself: NIO's pipeline
                        // handler stops reading during every response, which costs two
                        // epoll_ctl calls per request.
                        withPipeliningAssistance: false,
                        withErrorHandling: false,
                        // Response heads are built from heads llhttp already parsed, and from
                        // the gateway's own constants: no CR, LF or NUL can reach them.
                        withOutboundHeaderValidation: false,
                        withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: limits)
                    try sync.addHandler(
                        HTTPProxyHandler(environment: dataPlane.environment, state: dataPlane.state(for: channel.eventLoop)))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return HTTPListener(channel: channel)
    }

    /// Stops accepting connections.
    public func close() async throws {
        try await channel.close()
    }
}
