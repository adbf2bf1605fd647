import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// A bound listener of the data plane: plain HTTP/1.1, or HTTPS with the certificate chosen
/// by SNI and HTTP/2 or HTTP/1.1 chosen by ALPN (SPEC §9).
///
/// Every request — HTTP/1.1 on a connection, or one HTTP/2 stream translated to HTTP/1
/// parts by NIOHTTP2's codec — is served by one ``HTTPProxyHandler``: one routing and
/// proxying path for both protocols.
public final class HTTPListener: Sendable {
    /// The listening channel.
    public let channel: Channel
    /// Let go once used: its deinit completes a promise on an event loop, which must still run.
    private let quiescing: Mutex<ServerQuiescingHelper?>

    private init(channel: Channel, quiescing: ServerQuiescingHelper) {
        self.channel = channel
        self.quiescing = Mutex(quiescing)
    }

    /// The address the listener is bound to (with the real port when 0 was asked for).
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Binds a listener on `host:port` that serves requests with `dataPlane`; with
    /// `certificates`, it terminates TLS with the set active when each connection arrives.
    public static func bind(
        host: String, port: Int, group: EventLoopGroup, dataPlane: DataPlane, certificates: CertificateStore? = nil
    ) async throws -> HTTPListener {
        let pipelines = PipelineFactory(dataPlane: dataPlane, tls: certificates != nil)
        let quiescing = ServerQuiescingHelper(group: group)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let configure = { (channel: Channel, peer: String?) throws in
                    if let certificates {
                        try pipelines.configureTLS(channel, certificates: certificates, peer: peer)
                    } else {
                        try pipelines.configureHTTP1(channel, peer: peer)
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try setConnectionOptions(channel)
                    if pipelines.environment.configuration.proxyProtocol {
                        try channel.pipeline.syncOperations.addHandler(ProxyProtocolHandler(configure: configure))
                    } else {
                        try configure(channel, nil)
                    }
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return HTTPListener(channel: channel, quiescing: quiescing)
    }

    /// The options of an accepted connection, set in place. Set through the bootstrap, each
    /// was a chain of futures and closures per connection. TCP_NODELAY needs no call at all:
    /// an accepted socket inherits it from the listening one, where NIO sets it.
    private static func setConnectionOptions(_ channel: Channel) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(.maxMessagesPerRead, value: 16)
        // Each connection keeps its receive buffer while idle: start at 1 KiB, as nginx's
        // client_header_buffer_size, rather than NIO's 2 KiB; it grows when reads fill it.
        try options.setOption(
            .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 65536))
    }

    /// Stops accepting connections.
    public func close() async throws {
        try await channel.close()
    }

    /// Stops accepting connections and asks every open one to close after its current
    /// response (NIO's `ServerQuiescingHelper`): an idle HTTP/1.1 connection closes at once, a
    /// busy one answers with `Connection: close`; an HTTP/2 connection gets GOAWAY and closes
    /// when its streams are done.
    public func quiesce() {
        let helper = quiescing.withLock { helper in
            defer { helper = nil }
            return helper
        }
        helper?.initiateShutdown(promise: nil)
    }
}

/// Builds the pipelines of accepted connections.
private struct PipelineFactory: Sendable {
    let dataPlane: DataPlane
    let environment: ProxyEnvironment
    let decoderLimits: NIOHTTPDecoderLimitConfiguration

    init(dataPlane: DataPlane, tls: Bool) {
        self.dataPlane = dataPlane
        environment = dataPlane.environment.serving(scheme: tls ? "https" : "http")
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = environment.configuration.maxHeaderBytes
        limits.maxHeaderFieldSize = environment.configuration.maxHeaderBytes
        decoderLimits = limits
    }

    /// NIO's HTTP/1.1 server pipeline (with the header-size limit of SPEC §8 and without
    /// NIO's own error responder: ``HTTPProxyHandler`` answers malformed requests itself).
    /// `peer`: the client's address from a PROXY protocol header, in place of the TCP peer.
    func configureHTTP1(_ channel: Channel, peer: String?) throws {
        let sync = channel.pipeline.syncOperations
        try sync.configureHTTPServerPipeline(
            // HTTPProxyHandler orders pipelined requests itself: NIO's pipeline handler stops
            // reading during every response, which costs two epoll_ctl calls per request.
            withPipeliningAssistance: false,
            withErrorHandling: false,
            // Response heads are built from heads llhttp already parsed, and from the
            // gateway's own constants: no CR, LF or NUL can reach them.
            withOutboundHeaderValidation: false,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: decoderLimits)
        try sync.addHandler(HTTPProxyHandler(environment: environment, state: dataPlane.state(for: channel.eventLoop), peer: peer))
    }

    /// Reads the ClientHello's server name, adds a TLS handler with the matching certificate's
    /// context, and after the handshake the HTTP/2 or HTTP/1.1 pipeline that ALPN chose.
    func configureTLS(_ channel: Channel, certificates: CertificateStore, peer: String?) throws {
        let metrics = dataPlane.metrics
        let logger = dataPlane.logger
        let sniffer = SNIHandler { result in
            let serverName: String?
            if case .hostname(let name) = result { serverName = name } else { serverName = nil }
            guard let context = certificates.current.context(serverName: serverName) else {
                // Every certificate was removed since the listener started.
                metrics.tlsHandshakesFailed.increment()
                return channel.close()
            }
            return channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                try sync.addHandler(NIOSSLServerHandler(context: context))
                try sync.addHandler(TLSHandshakeObserver(metrics: metrics, logger: logger))
                try sync.addHandler(
                    ApplicationProtocolNegotiationHandler { negotiated in
                        channel.eventLoop.makeCompletedFuture {
                            if case .negotiated("h2") = negotiated {
                                try configureHTTP2(channel, peer: peer)
                            } else {
                                try configureHTTP1(channel, peer: peer)
                            }
                        }
                    })
            }
        }
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(sniffer))
    }

    /// HTTP/2 with NIOHTTP2: each client stream becomes a child channel that NIOHTTP2's codec
    /// turns into HTTP/1 request parts for an ``HTTPProxyHandler``. Flow control is
    /// end to end: the handler stops reading a stream while its upstream cannot take more
    /// (the stream's window is then not reopened), and writes wait for the stream's window.
    func configureHTTP2(_ channel: Channel, peer: String?) throws {
        let configuration = environment.configuration
        let connection = HTTP2ConnectionHandler(metrics: dataPlane.metrics, idleTimeout: configuration.idleTimeout)
        let connectionOnLoop = NIOLoopBound(connection, eventLoop: channel.eventLoop)
        var connectionSettings = NIOHTTP2Handler.ConnectionConfiguration()
        connectionSettings.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: configuration.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: configuration.maxHeaderBytes),
        ]
        let environment = self.environment
        let dataPlane = self.dataPlane
        let sync = channel.pipeline.syncOperations
        _ = try sync.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connectionSettings, streamConfiguration: .init()
        ) { stream in
            stream.eventLoop.makeCompletedFuture {
                let connection = connectionOnLoop.value
                connection.streamOpened()
                stream.closeFuture.assumeIsolated().whenComplete { _ in connection.streamClosed() }
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try stream.pipeline.syncOperations.addHandler(
                    HTTPProxyHandler(
                        environment: environment, state: dataPlane.state(for: stream.eventLoop), isHTTP2Stream: true,
                        peer: peer))
            }
        }
        try sync.addHandler(connection)
    }
}
