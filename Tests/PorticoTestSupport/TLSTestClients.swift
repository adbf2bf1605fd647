import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import PorticoControl
import PorticoProxy

/// A certificate pair made for a test, with the PEM texts the certificates folder holds.
public struct TestCertificate: Sendable {
    public let certificatePEM: String
    public let privateKeyPEM: String

    public init(dnsNames: [String], ipAddresses: [String] = []) throws {
        let made = try SelfSignedCertificate(dnsNames: dnsNames, ipAddresses: ipAddresses)
        certificatePEM = made.certificatePEM
        privateKeyPEM = made.privateKeyPEM
    }

    /// The leaf's DER bytes, to compare with what a server presented.
    public func der() throws -> [UInt8] {
        try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem).toDERBytes()
    }

    /// The pair as the gateway loads it from `NAME.crt` and `NAME.key`.
    public func loaded(name: String) throws -> TLSCertificate {
        try CertificateFolderLoader.loadPair(name: name, certificatePEM: certificatePEM, keyPEM: privateKeyPEM).certificate
    }

    /// A certificate store serving `certificates` (name and pair).
    public static func store(_ certificates: [(String, TestCertificate)]) throws -> CertificateStore {
        CertificateStore(CertificateSet.build(try certificates.map { try $0.1.loaded(name: $0.0) }).set)
    }

    /// Writes `NAME.crt` and `NAME.key` into `folder`'s `certs/` (or another subfolder).
    public func write(to folder: TemporaryFolder, name: String, subfolder: String = "certs") throws {
        try folder.write("\(subfolder)/\(name).key", privateKeyPEM)
        try folder.write("\(subfolder)/\(name).crt", certificatePEM)
    }
}

/// How a test client speaks TLS: the server name it sends (SNI) and the versions it allows.
/// It does not verify the server's certificate; tests compare it with the one they expect.
public struct TestTLS: Sendable {
    public var serverName: String?
    public var minimumVersion: TLSVersion = .tlsv12
    public var maximumVersion: TLSVersion = .tlsv13

    public init(serverName: String?, minimumVersion: TLSVersion = .tlsv12, maximumVersion: TLSVersion = .tlsv13) {
        self.serverName = serverName
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
    }

    func makeHandler(alpn: [String]) throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.minimumTLSVersion = minimumVersion
        configuration.maximumTLSVersion = maximumVersion
        configuration.applicationProtocols = alpn
        return try NIOSSLClientHandler(context: NIOSSLContext(configuration: configuration), serverHostname: serverName)
    }

    /// What a completed handshake showed.
    public struct Handshake: Sendable {
        /// The server's leaf certificate, DER.
        public var peerCertificate: [UInt8]
        /// The protocol ALPN chose, if any.
        public var negotiatedProtocol: String?
    }

    /// Connects, completes a handshake offering `alpn`, and closes.
    public func handshake(port: Int, alpn: [String] = ["h2", "http/1.1"]) async throws -> Handshake {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try makeHandler(alpn: alpn))
                    try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: channel.eventLoop.makePromise()))
                    return channel
                }
            }
        defer { channel.close(promise: nil) }
        let waiter = try await channel.pipeline.handler(type: HandshakeWaiter.self).get()
        let negotiated = try await waiter.promise.futureResult.get()
        let peer = try await channel.nioSSL_peerCertificate().get()
        return Handshake(peerCertificate: try peer?.toDERBytes() ?? [], negotiatedProtocol: negotiated)
    }
}

/// Completes its promise with the negotiated protocol when the TLS handshake ends, or fails it.
private final class HandshakeWaiter: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    let promise: EventLoopPromise<String?>

    init(promise: EventLoopPromise<String?>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted(let negotiated)? = event as? TLSUserEvent {
            promise.succeed(negotiated)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(TestClientError.noResponse)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(TestClientError.noResponse)  // a connection that never came up
    }
}

/// One HTTP/2 connection over TLS (ALPN `h2`) on which a test sends requests, each on its
/// own stream; requests sent from several tasks at once share the connection.
public struct HTTP2TestConnection: Sendable {
    private let channel: Channel
    private let multiplexer: NIOHTTP2Handler.AsyncStreamMultiplexer<Void>

    public static func connect(port: Int, tls: TestTLS) async throws -> HTTP2TestConnection {
        let (channel, multiplexer) = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(try tls.makeHandler(alpn: ["h2"]))
                    let multiplexer = try sync.configureAsyncHTTP2Pipeline(mode: .client) { stream in
                        stream.eventLoop.makeSucceededVoidFuture()
                    }
                    return (channel, multiplexer)
                }
            }
        return HTTP2TestConnection(channel: channel, multiplexer: multiplexer)
    }

    /// Sends one request on a new stream and reads the response (after `beforeReading`).
    public func send(
        _ method: HTTPMethod = .GET, _ uri: String, authority: String = "test.local", headers: [(String, String)] = [],
        body: String? = nil, streamedBody: LoopbackHTTPClient.StreamedBody? = nil, keepBodyUpTo: Int = 1 << 20,
        beforeReading: (@Sendable () async throws -> Void)? = nil
    ) async throws -> TestResponse {
        let stream = try await multiplexer.openStream { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: stream)
            }
        }
        return try await stream.executeThenClose { inbound, outbound in
            try await LoopbackHTTPClient.exchange(
                inbound: inbound, outbound: outbound, method: method, uri: uri, headers: [("host", authority)] + headers,
                body: body, streamedBody: streamedBody, keepBodyUpTo: keepBodyUpTo, beforeReading: beforeReading)
        }
    }

    public func close() async {
        try? await channel.close()
    }
}
