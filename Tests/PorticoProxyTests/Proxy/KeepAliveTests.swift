import NIOHTTP1
import PorticoProxy
import PorticoTestSupport
import Testing

@Suite struct KeepAliveTests {
    /// Short, yet long enough that a loaded two-core machine (the suite starts processes and
    /// database clusters beside these tests) does not look idle to the gateway.
    static var shortIdle: ProxyConfiguration {
        var configuration = ProxyConfiguration()
        configuration.idleTimeout = .milliseconds(1200)
        return configuration
    }

    @Test func idleKeepAliveConnectionsAreClosed() async throws {
        try await withGateway(routes: standardRoutes, configuration: Self.shortIdle) { gateway, _ in
            // The idle timeout also closes a connection whose request has not come yet: when
            // this test's task stalls that long on a loaded machine between the connect and
            // the request, it is sent again (at most three times).
            var started = ContinuousClock.now
            var answered: RawSocketClient.Reply?
            for _ in 1...3 where answered?.status == nil {
                started = ContinuousClock.now
                answered = try await RawSocketClient.send(
                    "GET /static HTTP/1.1\r\nHost: a\r\n\r\n", port: gateway.port, timeout: .seconds(25))
            }
            let elapsed = ContinuousClock.now - started
            let reply = try #require(answered)
            #expect(reply.status == 201)
            #expect(reply.closed)
            #expect(elapsed >= .milliseconds(1200))
            #expect(elapsed < .seconds(20))  // closed by the idle timer, not the client's 25 s limit
        }
    }

    @Test func aRequestLongerThanTheIdleTimeoutIsNotCut() async throws {
        try await withGateway(routes: standardRoutes, configuration: Self.shortIdle) { gateway, _ in
            // The route timeout (60 s) governs a running request, not the idle timeout.
            let response = try await gateway.client.send(.GET, "/wait/slow?ms=2000")
            #expect(response.status == 200)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let reply = try await RawSocketClient.send(
                "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /static HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                port: gateway.port)
            let one = try #require(reply.text.range(of: "GET /one"))
            let made = try #require(reply.text.range(of: "made here"))
            let two = try #require(reply.text.range(of: "GET /two"))
            #expect(one.lowerBound < made.lowerBound)
            #expect(made.lowerBound < two.lowerBound)
            #expect(reply.closed)
        }
    }

    @Test func pipelinedRequestsWithBodiesKeepTheirBoundaries() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let requests =
                "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
                + "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
                + "GET /static HTTP/1.1\r\nHost: a\r\n\r\n"
                + "GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            let reply = try await RawSocketClient.send(requests, port: gateway.port)
            var hello = BodyChecksum()
            hello.update(.init(string: "hello"))
            var abc = BodyChecksum()
            abc.update(.init(string: "abc"))
            let first = try #require(reply.text.range(of: "5 \(String(hello.value, radix: 16))"))
            let second = try #require(reply.text.range(of: "3 \(String(abc.value, radix: 16))"))
            let made = try #require(reply.text.range(of: "made here"))
            let last = try #require(reply.text.range(of: "GET /last"))
            #expect(first.lowerBound < second.lowerBound)
            #expect(second.lowerBound < made.lowerBound)
            #expect(made.lowerBound < last.lowerBound)
            #expect(reply.closed)
        }
    }
}
