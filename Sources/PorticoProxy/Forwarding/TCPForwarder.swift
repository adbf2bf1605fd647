import Logging
import NIOCore
import NIOPosix
import PorticoCore
import Synchronization

/// Listens on one tenant port and forwards each TCP connection to a target, like a
/// Kubernetes NodePort: bytes both ways with backpressure, half-close passed through.
/// A target that cannot be reached closes the client's connection and is counted.
///
/// The target can change while it runs (SPEC §15): connections accepted afterwards go to
/// the new one, open ones go on to the old.
public final class TCPForwarder: Sendable {
    /// The port it listens on.
    public let port: Int
    private let serverChannel: Channel
    private let state: ForwarderState

    private init(port: Int, serverChannel: Channel, state: ForwarderState) {
        self.port = port
        self.serverChannel = serverChannel
        self.state = state
    }

    /// Where new connections go.
    public var target: Endpoint { state.target.withLock { $0 } }

    /// Sends connections accepted from now on to `target`.
    public func retarget(_ target: Endpoint) {
        state.target.withLock { $0 = target }
    }

    /// Connections whose target could not be reached.
    public var failedConnects: Int { state.failedConnects.load(ordering: .relaxed) }

    /// Starts listening on `host:port`.
    public static func start(
        host: String, port: Int, target: Endpoint, group: EventLoopGroup, connectTimeout: Duration = .seconds(5),
        logger: Logger
    ) async throws -> TCPForwarder {
        let state = ForwarderState(target: target)
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            // Nothing is read from the client until its target is connected and glued.
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { client in
                state.track(client)
                let target = state.target.withLock { $0 }
                let connected = ClientBootstrap(group: client.eventLoop)
                    .connectTimeout(.milliseconds(connectTimeout.wholeMilliseconds))
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .channelInitializer { upstream in
                        upstream.eventLoop.makeCompletedFuture {
                            try upstream.pipeline.syncOperations.addHandler(GlueHandler())
                        }
                    }
                    .connect(host: target.host, port: target.port)
                return connected.assumeIsolated().flatMapThrowing { upstream in
                    let upstreamGlue = try upstream.pipeline.syncOperations.handler(type: GlueHandler.self)
                    let clientGlue = GlueHandler()
                    GlueHandler.join(clientGlue, upstreamGlue)
                    try client.pipeline.syncOperations.addHandler(clientGlue)
                    client.setOption(.autoRead, value: true).whenFailure { _ in client.close(promise: nil) }
                }.flatMapError { error in
                    state.failedConnects.wrappingAdd(1, ordering: .relaxed)
                    logger.warning(
                        "tenant port target unreachable", metadata: ["port": "\(port)", "target": "\(target)", "error": "\(error)"])
                    client.close(promise: nil)
                    return client.eventLoop.makeSucceededVoidFuture()
                }.nonisolated()
            }
            .bind(host: host, port: port).get()
        return TCPForwarder(port: port, serverChannel: server, state: state)
    }

    /// Stops listening and closes every forwarded connection.
    public func stop() async {
        await stop(drainingFor: .zero)
    }

    /// Stops listening at once, lets the open connections run until they end or `timeout`
    /// has passed, then closes those left.
    public func stop(drainingFor timeout: Duration) async {
        try? await serverChannel.close()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !state.open().isEmpty {
            try? await Task.sleep(for: .milliseconds(50))
        }
        for channel in state.open() {
            try? await channel.close()
        }
    }

    /// Connections forwarded now.
    public var openConnections: Int { state.open().count }
}

/// What a forwarder shares with its connections.
private final class ForwarderState: Sendable {
    let failedConnects = Atomic<Int>(0)
    let target: Mutex<Endpoint>
    private let connections = Mutex<[ObjectIdentifier: Channel]>([:])

    init(target: Endpoint) {
        self.target = Mutex(target)
    }

    func track(_ channel: Channel) {
        let key = ObjectIdentifier(channel)
        connections.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.connections.withLock { _ = $0.removeValue(forKey: key) }
        }
    }

    func open() -> [Channel] {
        connections.withLock { Array($0.values) }
    }
}
