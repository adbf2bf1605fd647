import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PorticoCore

/// One keep-alive connection to an upstream endpoint, owned by one event loop.
final class UpstreamConnection {
    let channel: Channel
    let handler: UpstreamHandler
    let endpoint: Endpoint
    /// Requests served so far; 0 for a connection that has just been opened.
    var requestCount = 0

    init(channel: Channel, handler: UpstreamHandler, endpoint: Endpoint) {
        self.channel = channel
        self.handler = handler
        self.endpoint = endpoint
    }
}

/// The upstream connections of one event loop: idle keep-alive connections per endpoint,
/// reused last-in first-out, and new connections opened on the same loop.
///
/// Only its own event loop touches it, so it needs no lock (Envoy's per-worker cluster,
/// AHC's event-loop preference): both ends of a proxied request share that loop.
final class UpstreamConnectionPool {
    /// How a pool behaves.
    struct Configuration: Sendable {
        /// Idle connections kept per endpoint; more are closed when released.
        var maxIdlePerEndpoint = 64
        init() {}
    }

    private let eventLoop: EventLoop
    private let configuration: Configuration
    private var idle: [Endpoint: [UpstreamConnection]] = [:]

    /// Endpoints the active snapshot names. Connections to any other endpoint are closed
    /// instead of being kept: idle ones at once, busy ones when their exchange ends.
    var referencedEndpoints: Set<Endpoint> = [] {
        didSet {
            for endpoint in idle.keys where !referencedEndpoints.contains(endpoint) {
                for connection in idle.removeValue(forKey: endpoint) ?? [] {
                    connection.channel.close(promise: nil)
                }
            }
        }
    }

    init(eventLoop: EventLoop, configuration: Configuration) {
        self.eventLoop = eventLoop
        self.configuration = configuration
    }

    /// An idle connection to `endpoint`, if one is open.
    func takeIdle(for endpoint: Endpoint) -> UpstreamConnection? {
        while let connection = idle[endpoint]?.popLast() {
            if connection.channel.isActive { return connection }
        }
        return nil
    }

    /// Opens a new connection to `endpoint` on this pool's event loop.
    func connect(to endpoint: Endpoint, timeout: Duration) -> EventLoopFuture<UpstreamConnection> {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(timeout.wholeMilliseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // The decoder sits after the encoder so that it sees each request head go
                    // out (it must know a response answers HEAD); 1xx responses are forwarded
                    // so that `Expect: 100-continue` works end to end.
                    try channel.pipeline.syncOperations.addHandlers([
                        HTTPRequestEncoder(),
                        ByteToMessageHandler(
                            HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes, informationalResponseStrategy: .forward)),
                        UpstreamHandler(),
                    ])
                }
            }
        return bootstrap.connect(host: endpoint.host, port: endpoint.port).assumeIsolated().flatMapThrowing {
            channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            return UpstreamConnection(channel: channel, handler: handler, endpoint: endpoint)
        }.nonisolated()
    }

    /// Returns a connection after a complete exchange; it is kept if it is still open and
    /// the endpoint has room, else closed.
    func release(_ connection: UpstreamConnection) {
        connection.handler.delegate = nil
        guard connection.channel.isActive else { return }
        guard referencedEndpoints.contains(connection.endpoint) else {
            connection.channel.close(promise: nil)
            return
        }
        // Taken out and put back so the list is mutated in place, not copied on every release.
        var list = idle.removeValue(forKey: connection.endpoint) ?? []
        if list.count >= configuration.maxIdlePerEndpoint {
            list.removeAll { !$0.channel.isActive }
        }
        let kept = list.count < configuration.maxIdlePerEndpoint
        if kept { list.append(connection) }
        idle[connection.endpoint] = list
        guard kept else {
            connection.channel.close(promise: nil)
            return
        }
        // Reading while idle notices the upstream closing the connection.
        connection.handler.resumeReads()
    }
}
