import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PorticoCore
@testable import PorticoProxy
import PorticoTestSupport
import Testing

/// The proxy handler on an `EmbeddedChannel`: request parts in, response parts out, time
/// advanced by hand. Covers what needs no upstream socket (local answers, pipelining, the
/// idle timeout, malformed input) and the drain of a tunnel.
@Suite struct HTTPProxyHandlerEmbeddedTests {
    static let routes = """
        upstreams: [{ name: app, endpoints: ["127.0.0.1:9001"] }]
        routes:
          - { name: here, match: { path: { prefix: /here } }, respond: { status: 201, body: made here } }
          - { name: ws, match: { path: { prefix: /ws } }, upstream: app }
        """

    final class Fixture {
        let loop = EmbeddedEventLoop()
        let channel: EmbeddedChannel
        let state: EventLoopState

        init(idleTimeout: Duration = .seconds(75)) throws {
            var configuration = ProxyConfiguration()
            configuration.idleTimeout = idleTimeout
            let environment = ProxyEnvironment(
                configuration: configuration, metrics: .discarding, accessLogger: Logger(label: "test"), requestIDs: RequestIDGenerator())
            let dataPlane = DataPlane(initialTable: try TestRoutes.table(HTTPProxyHandlerEmbeddedTests.routes), logger: Logger(label: "test"))
            state = EventLoopState(
                eventLoop: loop, pool: UpstreamConnectionPool(eventLoop: loop, configuration: .init()),
                metrics: RequestMetricsCache(metrics: .discarding), snapshot: dataPlane.snapshot)
            channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandler(HTTPProxyHandler(environment: environment, state: state))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        }

        func send(_ uri: String, close: Bool = false) throws {
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)
            head.headers.add(name: "host", value: "a")
            if close { head.headers.add(name: "connection", value: "close") }
            try channel.writeInbound(HTTPServerRequestPart.head(head))
            try channel.writeInbound(HTTPServerRequestPart.end(nil))
        }

        /// The response heads and bodies written so far.
        func responses() throws -> [(status: Int, body: String, headers: HTTPHeaders)] {
            var result: [(Int, String, HTTPHeaders)] = []
            while let part = try channel.readOutbound(as: HTTPServerResponsePart.self) {
                switch part {
                case .head(let head): result.append((Int(head.status.code), "", head.headers))
                case .body(.byteBuffer(let buffer)): result[result.count - 1].1 += String(buffer: buffer)
                case .body, .end: break
                }
            }
            return result
        }
    }

    @Test func pipelinedLocalAnswersComeInOrder() throws {
        let fixture = try Fixture()
        try fixture.send("/here/1")
        try fixture.send("/nothing")
        try fixture.send("/here/2", close: true)
        let responses = try fixture.responses()
        #expect(responses.map(\.status) == [201, 404, 201])
        #expect(responses[0].body == "made here")
        #expect(responses[2].headers["connection"] == ["close"])
        #expect(!fixture.channel.isActive)  // closed after the last response was written
    }

    @Test func anIdleConnectionClosesWhenTheIdleTimeoutPasses() throws {
        let fixture = try Fixture(idleTimeout: .seconds(30))
        try fixture.send("/here")
        #expect(try fixture.responses().map(\.status) == [201])
        fixture.loop.advanceTime(by: .seconds(29))
        #expect(fixture.channel.isActive)
        try fixture.send("/here")  // activity moves the deadline
        fixture.loop.advanceTime(by: .seconds(29))
        #expect(fixture.channel.isActive)
        fixture.loop.advanceTime(by: .seconds(1))
        #expect(!fixture.channel.isActive)
    }

    @Test func aMalformedRequestIs400AndCloses() throws {
        let fixture = try Fixture()
        fixture.channel.pipeline.fireErrorCaught(HTTPParserError.invalidHeaderToken)
        let responses = try fixture.responses()
        #expect(responses.map(\.status) == [400])
        #expect(responses[0].headers["connection"] == ["close"])
        #expect(!fixture.channel.isActive)
    }

    @Test func anOversizedHeaderBlockIs431() throws {
        let fixture = try Fixture()
        fixture.channel.pipeline.fireErrorCaught(HTTPParserError.headerOverflow)
        #expect(try fixture.responses().map(\.status) == [431])
    }

    @Test func aTunnelIsClosedAtTheDrainDeadlineOfItsRoute() throws {
        let fixture = try Fixture()
        let upstream = EmbeddedChannel(loop: fixture.loop)
        try upstream.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9001)).wait()
        let table = fixture.state.snapshot.table
        let route = try #require(table.routes.first { $0.name == "ws" })
        let counter = fixture.state.snapshot.counter(for: route)
        let tunnel = Tunnel(
            route: route, counter: counter, endpoint: Endpoint(host: "127.0.0.1", port: 9001), downstream: fixture.channel,
            upstream: upstream, state: fixture.state)
        tunnel.start()
        #expect(counter.inFlightRequests == 1)
        // A table that keeps the route leaves the tunnel alone.
        tunnel.drain(table.retirement(by: try TestRoutes.table(Self.routes, version: 2)), deadline: fixture.loop.now + .seconds(5))
        fixture.loop.advanceTime(by: .seconds(10))
        #expect(upstream.isActive)
        // One without it closes both sides at the deadline.
        tunnel.drain(table.retirement(by: try TestRoutes.table("routes: []", version: 3)), deadline: fixture.loop.now + .seconds(5))
        fixture.loop.advanceTime(by: .seconds(4))
        #expect(upstream.isActive)
        fixture.loop.advanceTime(by: .seconds(1))
        #expect(!upstream.isActive)
        #expect(!fixture.channel.isActive)
        #expect(counter.inFlightRequests == 0)
    }
}
