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
    /// The upstream's count of open connections, which this one holds a slot of until it closes.
    let limiter: ConnectionLimiter
    /// Requests served so far; 0 for a connection that has just been opened.
    var requestCount = 0
    /// Kept in a pool's idle list (counted as idle by the limiter).
    var isIdle = false

    init(channel: Channel, handler: UpstreamHandler, endpoint: Endpoint, limiter: ConnectionLimiter) {
        self.channel = channel
        self.handler = handler
        self.endpoint = endpoint
        self.limiter = limiter
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
    /// Limiters this pool registered its idle closer with.
    private var registeredLimiters: Set<UInt64> = []

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

    /// An idle connection to `endpoint` opened for the upstream that `limiter` counts, if one
    /// is open (another upstream naming the same endpoint keeps its own connections).
    func takeIdle(for endpoint: Endpoint, limiter: ConnectionLimiter) -> UpstreamConnection? {
        guard var list = idle.removeValue(forKey: endpoint) else { return nil }
        defer { if !list.isEmpty { idle[endpoint] = list } }
        // Last in, first out; closed ones met on the way are dropped (usually the last one
        // matches, so this is not a scan of the list).
        while let index = list.lastIndex(where: { $0.limiter === limiter }) {
            let connection = list.remove(at: index)
            guard connection.channel.isActive else { continue }
            connection.isIdle = false
            limiter.idleChanged(by: -1)
            return connection
        }
        return nil
    }

    /// Opens a new connection to `endpoint` on this pool's event loop, holding a slot of
    /// `limiter` that the caller took: it is given back when the connection closes, or at
    /// once when the connect fails.
    func connect(to endpoint: Endpoint, timeout: Duration, limiter: ConnectionLimiter) -> EventLoopFuture<UpstreamConnection> {
        // This pool may keep the connection idle later: the limiter can then ask for it.
        registerIdleCloser(with: limiter)
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
        let connected = bootstrap.connect(host: endpoint.host, port: endpoint.port).assumeIsolated().flatMapThrowing {
            channel in
            let handler: UpstreamHandler
            do {
                handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            } catch {
                channel.close(promise: nil)
                throw error
            }
            let connection = UpstreamConnection(channel: channel, handler: handler, endpoint: endpoint, limiter: limiter)
            channel.closeFuture.assumeIsolated().whenComplete { _ in
                if connection.isIdle {
                    connection.isIdle = false
                    limiter.idleChanged(by: -1)
                }
                limiter.release()
            }
            return connection
        }
        connected.whenFailure { _ in limiter.release() }
        return connected.nonisolated()
    }

    /// Closes one idle connection that `limiter` counts, so that its slot passes to a
    /// request waiting for one (on any event loop).
    private func closeOneIdle(of limiter: ConnectionLimiter) {
        for (endpoint, list) in idle {
            guard let index = list.lastIndex(where: { $0.limiter === limiter && $0.channel.isActive }) else { continue }
            var list = list
            let connection = list.remove(at: index)
            idle[endpoint] = list
            connection.channel.close(promise: nil)
            return
        }
    }

    /// Ends an exchange's lease of `connection`: the connection goes back to the pool when the
    /// exchange says it may (`reusable`: the request was sent whole and the upstream keeps the
    /// connection alive) and it has served fewer than `maxRequests`; else it is closed.
    func finishLease(of connection: UpstreamConnection, reusable: Bool, maxRequests: Int?) {
        guard reusable, connection.requestCount < maxRequests ?? .max else {
            close(connection)
            return
        }
        release(connection)
    }

    /// Closes a connection an exchange gives up (it will not complete on it).
    func close(_ connection: UpstreamConnection) {
        connection.handler.delegate = nil
        connection.channel.close(promise: nil)
    }

    /// Returns a connection after a complete exchange; it is kept if it is still open and
    /// the endpoint has room, else closed.
    func release(_ connection: UpstreamConnection) {
        connection.handler.delegate = nil
        guard connection.channel.isActive else { return }
        // A request waits for the upstream's connection limit: the slot is better used there.
        guard referencedEndpoints.contains(connection.endpoint), !connection.limiter.hasWaiters else {
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
        connection.isIdle = true
        connection.limiter.idleChanged(by: 1)
        // Reading while idle notices the upstream closing the connection.
        connection.handler.resumeReads()
    }

    /// Lets `limiter` ask this pool to close an idle connection when a request waits (once
    /// per limiter, when the pool opens its first connection counted by it).
    private func registerIdleCloser(with limiter: ConnectionLimiter) {
        guard registeredLimiters.insert(limiter.id).inserted else { return }
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        let eventLoop = self.eventLoop
        limiter.registerIdleCloser(for: ObjectIdentifier(self)) { [weak limiter] in
            guard let limiter else { return }
            eventLoop.execute { pool.value.closeOneIdle(of: limiter) }
        }
    }
}
