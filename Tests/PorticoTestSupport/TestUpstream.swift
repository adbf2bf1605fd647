import Testing
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 that tests put behind the gateway.
///
/// Paths:
/// - `/echo…`: streams the request body back as it arrives.
/// - `/upload…`: reads the whole body, answers `<length> <fnv hex>`.
/// - `/download?bytes=N[&type=T][&encoding=E][&chunked=1]`: streams N deterministic bytes
///   (64 KiB chunks, see ``TestBody``) with that content type and encoding.
/// - `/slow?ms=N`, `/wait…?ms=N`: answers after N milliseconds.
/// - `/held…`: answers once ``releaseHeld()`` is called (or after 30 s).
/// - `/close`: closes the connection without answering.
/// - `/health`: an empty answer with the status set by ``setHealthStatus(_:)`` (200 at first).
/// - `/cors-page.html?target=URL`: a page whose script fetches `URL/allowed/…` and `URL/refused/…`.
/// - `/stall…`: waits 2 s before reading the request body, then answers like `/upload`.
/// - anything else: `200` with a body of `<method> <uri>` and one `name: value` line per header
///   (with CORS headers of its own when the request has `x-upstream-cors`).
public final class TestUpstream: Sendable {
    public let port: Int
    private let serverChannel: Channel
    private let connectionCount: Counter
    private let requestCount: Counter
    private let openCount: Counter
    private let openChannels: OpenChannels
    private let health: ServerBehaviour

    /// Connections accepted so far.
    public var connectionsAccepted: Int { connectionCount.value.load(ordering: .relaxed) }
    /// Requests received so far, health checks left out.
    public var requestsReceived: Int { requestCount.value.load(ordering: .relaxed) }

    /// Returns once the upstream has received `count` requests in all; records an issue and
    /// returns after `timeout` if it has not (an event, not a poll).
    public func waitForRequests(_ count: Int, timeout: Duration = .seconds(10)) async {
        await Self.waitForRequests([(self, count)], timeout: timeout)
    }

    /// Returns once any of `upstreams` has received its count of requests in all; records an
    /// issue and returns after `timeout` if none has.
    public static func waitForRequests(_ upstreams: [(TestUpstream, Int)], timeout: Duration = .seconds(10)) async {
        let arrived = await withTaskGroup(of: Bool.self) { group in
            for (upstream, count) in upstreams {
                let requests = upstream.requestCount
                group.addTask {
                    await requests.reaching(count)
                    return !Task.isCancelled
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !arrived { Issue.record("no upstream received its requests within \(timeout)") }
    }
    /// Connections open now.
    public var openConnections: Int { openCount.value.load(ordering: .relaxed) }

    private init(
        port: Int, serverChannel: Channel, connectionCount: Counter, requestCount: Counter, openCount: Counter,
        openChannels: OpenChannels, health: ServerBehaviour
    ) {
        self.openCount = openCount
        self.port = port
        self.serverChannel = serverChannel
        self.connectionCount = connectionCount
        self.requestCount = requestCount
        self.openChannels = openChannels
        self.health = health
    }

    /// The status `/health` answers with from now on.
    public func setHealthStatus(_ status: Int) {
        health.status.store(status, ordering: .relaxed)
    }

    /// The status every request but `/health` is answered with from now on.
    public func setAnswerStatus(_ status: Int) {
        health.answerStatus.store(status, ordering: .relaxed)
    }

    /// Lets every `/held` request, waiting or to come, be answered.
    public func releaseHeld() {
        health.released.increment()
    }

    /// The most requests that were being answered at once (from the end of the request to
    /// the end of the response).
    public var peakConcurrentRequests: Int { health.peakAnswering.load(ordering: .relaxed) }

    /// Requests for `/health` received so far.
    public var healthChecksReceived: Int { health.checks.value.load(ordering: .relaxed) }

    public static func start(group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> TestUpstream {
        let connections = Counter()
        let requests = Counter()
        let open = Counter()
        let openChannels = OpenChannels()
        let health = ServerBehaviour()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        let port = server.channel.localAddress!.port!
        // Never cancelled, and the listening socket is never closed: NIO traps when an
        // accepted connection's async channel is dropped unused, which happens to one
        // accepted just as the server closes. `stop` closes every connection instead, and
        // any accepted later at once.
        Task<Void, Never> {
            _ = try? await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        connections.increment()
                        open.increment()
                        openChannels.insert(connection.channel)
                        group.addTask {
                            try? await serve(connection, requests: requests, health: health)
                            openChannels.remove(connection.channel)
                            open.decrement()
                        }
                    }
                }
            }
        }
        return TestUpstream(
            port: port, serverChannel: server.channel, connectionCount: connections, requestCount: requests, openCount: open,
            openChannels: openChannels, health: health)
    }

    /// Closes every connection, and any accepted from now on (see ``start(group:)``).
    public func stop() async {
        openChannels.closeAll()
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, requests: Counter, health: ServerBehaviour
    ) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var checksum = BodyChecksum()
            for try await part in inbound {
                switch part {
                case .head(let requestHead):
                    if requestHead.uri != "/health" { requests.increment() }  // counted apart
                    head = requestHead
                    checksum = BodyChecksum()
                    if requestHead.uri.hasPrefix("/echo") {
                        var headers = HTTPHeaders()
                        headers.add(name: "content-type", value: "application/octet-stream")
                        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
                    } else if requestHead.uri.hasPrefix("/close") {
                        return
                    } else if requestHead.uri.hasPrefix("/stall") {
                        // Read nothing of the body for a while (tests of upload backpressure).
                        try await Task.sleep(for: .seconds(2))
                    }
                case .body(let buffer):
                    checksum.update(buffer)
                    if head?.uri.hasPrefix("/echo") == true {
                        try await outbound.write(.body(.byteBuffer(buffer)))
                    }
                case .end:
                    guard let requestHead = head else { continue }
                    head = nil
                    if requestHead.uri == "/health" {
                        health.checks.increment()
                        let status = HTTPResponseStatus(statusCode: health.status.load(ordering: .relaxed))
                        var headers = HTTPHeaders()
                        headers.add(name: "content-length", value: "0")
                        try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)))
                        try await outbound.write(.end(nil))
                    } else {
                        health.answeringStarted()
                        defer { health.answering.decrement() }
                        try await respond(
                            to: requestHead, status: health.answerStatus.load(ordering: .relaxed), checksum: checksum,
                            released: health.released, outbound: outbound)
                    }
                    if !requestHead.isKeepAlive { return }
                }
            }
        }
    }

    private static func respond(
        to head: HTTPRequestHead, status: Int, checksum: BodyChecksum, released: Counter,
        outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        let components = URLComponents(string: head.uri)
        let query = Dictionary(
            (components?.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
        let path = components?.path ?? head.uri
        if path.hasPrefix("/echo") {
            try await outbound.write(.end(nil))
            return
        }
        if path.hasPrefix("/download") {
            let total = Int(query["bytes"] ?? "0") ?? 0
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: query["type"] ?? "application/octet-stream")
            if let encoding = query["encoding"] { headers.add(name: "content-encoding", value: encoding) }
            if query["chunked"] == nil { headers.add(name: "content-length", value: String(total)) }
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
            var remaining = total
            var index = 0
            while remaining > 0 {
                let size = min(64 * 1024, remaining)
                try await outbound.write(.body(.byteBuffer(TestBody.chunk(index: index, size: size))))
                remaining -= size
                index += 1
            }
            try await outbound.write(.end(nil))
            return
        }
        if path == "/cors-page.html" {
            // A page on this server's origin that calls the gateway's routes with fetch and
            // writes what happened into the DOM, for the browser test.
            let html = """
                <!doctype html><html><body><script>
                const target = new URLSearchParams(location.search).get('target');
                async function attempt(path, options) {
                  try { const response = await fetch(target + path, options); return String(response.status); }
                  catch (error) { return 'cors-error'; }
                }
                (async () => {
                  const result = {
                    preflighted: await attempt('/allowed/x', {method: 'PUT', headers: {'Content-Type': 'application/json'}, body: '{}'}),
                    credentials: await attempt('/allowed/y', {credentials: 'include'}),
                    refused: await attempt('/refused/x', {}),
                  };
                  const out = document.createElement('pre');
                  out.id = 'result';
                  out.textContent = 'RESULT' + JSON.stringify(result) + 'END';
                  document.body.appendChild(out);
                })();
                </script></body></html>
                """
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/html; charset=utf-8")
            headers.add(name: "content-length", value: String(html.utf8.count))
            try await outbound.write(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: html))))
            try await outbound.write(.end(nil))
            return
        }
        if path.hasPrefix("/slow") || path.hasPrefix("/wait") {
            let milliseconds = Int(query["ms"] ?? "1000") ?? 1000
            try await Task.sleep(for: .milliseconds(milliseconds))
        }
        if path.hasPrefix("/held") {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await released.reaching(1) }
                group.addTask { try? await Task.sleep(for: .seconds(30)) }
                await group.next()
                group.cancelAll()
            }
        }
        var body: String
        if path.hasPrefix("/upload") || path.hasPrefix("/stall") {
            body = "\(checksum.length) \(String(checksum.value, radix: 16))"
        } else {
            body = "\(head.method.rawValue) \(head.uri)\n"
            for (name, value) in head.headers {
                body += "\(name.lowercased()): \(value)\n"
            }
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain")
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "x-upstream-port", value: "upstream")
        headers.add(name: "keep-alive", value: "timeout=5")
        if head.headers.contains(name: "x-upstream-cors") {
            // An upstream with CORS headers of its own, which the gateway's policy replaces.
            headers.add(name: "access-control-allow-origin", value: "*")
            headers.add(name: "access-control-allow-methods", value: "PATCH")
        }
        try await outbound.write(
            .head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)))
        try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
        try await outbound.write(.end(nil))
    }
}

/// A counter shared by the upstream's connection tasks.
/// What `/health` and other requests are answered with, how often `/health` was asked,
/// and the most requests answered at once.
final class ServerBehaviour: Sendable {
    let status = Atomic<Int>(200)
    let answerStatus = Atomic<Int>(200)
    let checks = Counter()
    let answering = Counter()
    /// Incremented once `/held` requests may be answered.
    let released = Counter()
    let peakAnswering = Atomic<Int>(0)

    /// Counts a request being answered, keeping the peak.
    func answeringStarted() {
        let now = answering.increment()
        var peak = peakAnswering.load(ordering: .relaxed)
        while now > peak {
            let (exchanged, current) = peakAnswering.compareExchange(expected: peak, desired: now, ordering: .relaxed)
            if exchanged { break }
            peak = current
        }
    }
}

/// The connections a test server has open, so that stopping it can close them.
final class OpenChannels: Sendable {
    private let channels = Mutex<[ObjectIdentifier: Channel]>([:])
    private let stopped = Atomic<Bool>(false)

    func insert(_ channel: Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
        if stopped.load(ordering: .relaxed) { channel.close(promise: nil) }
    }

    func remove(_ channel: Channel) {
        _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func closeAll() {
        stopped.store(true, ordering: .relaxed)
        for channel in channels.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// A count that tests can also wait on: ``reaching(_:)`` returns once it reaches a value.
final class Counter: Sendable {
    let value = Atomic<Int>(0)
    private let increments = ThresholdWaiters(0)

    @discardableResult func increment() -> Int {
        let now = value.wrappingAdd(1, ordering: .relaxed).newValue
        increments.reach(now)
        return now
    }

    func decrement() { value.wrappingSubtract(1, ordering: .relaxed) }

    /// Returns once the count has been incremented to at least `target` (or the task is cancelled).
    func reaching(_ target: Int) async {
        try? await increments.wait(for: target)
    }
}
