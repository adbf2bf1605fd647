import NIOHTTP1
import PorticoProxy
import PorticoTestSupport
import Testing

/// Routes for a gateway in front of one test upstream on `port`.
func standardRoutes(_ port: Int) -> String {
    """
    upstreams:
      - name: app
        endpoints: ["127.0.0.1:\(port)"]
        connectTimeout: 5s
      - name: empty
        endpoints: []
    routes:
      - name: api
        hosts: ["api.veni.ai"]
        match: { path: { prefix: /hrm } }
        upstream: app
        rewrite: { prefix: / }
      - name: wildcard
        hosts: ["*.veni.ai"]
        upstream: app
      - name: slow
        match: { path: { prefix: /slow } }
        upstream: app
        timeout: 2s
      - name: static
        match: { path: { exact: /static } }
        respond: { status: 201, body: "made here" }
      - name: admin
        match: { path: { prefix: /admin } }
        upstream: app
      - name: nobody
        match: { path: { prefix: /nobody } }
        upstream: empty
      - name: secure
        match: { path: { prefix: /secure } }
        httpsRedirect: true
        respond: { status: 200 }
      - name: fallback
        match: { path: { prefix: / } }
        upstream: app
    """
}

@Suite struct ProxyRoutingTests {
    @Test func routesByHostAndPathAndRewritesThePrefix() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let api = try await gateway.client.send(.GET, "/hrm/users?id=7", headers: [("host", "API.veni.ai:8080")])
            #expect(api.status == 200)
            #expect(api.body.hasPrefix("GET /users?id=7\n"))

            let wildcard = try await gateway.client.send(.GET, "/hrm/users", headers: [("host", "www.veni.ai")])
            #expect(wildcard.body.hasPrefix("GET /hrm/users\n"))

            let other = try await gateway.client.send(.GET, "/x", headers: [("host", "example.com")])
            #expect(other.body.hasPrefix("GET /x\n"))
        }
    }

    @Test func forwardsTheNormalizedPath() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(.GET, "/public/../admin/%2e%2e/admin//x?q=%2e")
            #expect(response.body.hasPrefix("GET /admin/x?q=%2e\n"))
        }
    }

    @Test func addsForwardingHeadersAndDropsHopByHopOnes() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(
                .GET, "/headers",
                headers: [
                    ("host", "example.com"), ("x-forwarded-for", "203.0.113.9"), ("connection", "keep-alive, x-secret"),
                    ("x-secret", "s"), ("keep-alive", "timeout=5"), ("te", "trailers"), ("proxy-connection", "x"),
                    ("x-forwarded-proto", "spoofed"),
                ])
            let lines = Set(response.body.split(separator: "\n").map(String.init))
            #expect(lines.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1"))
            #expect(lines.contains("x-forwarded-proto: http"))
            #expect(lines.contains("x-forwarded-host: example.com"))
            #expect(lines.contains("host: example.com"))
            #expect(lines.contains { $0.hasPrefix("x-request-id: ") })
            for dropped in ["x-secret", "keep-alive", "te", "proxy-connection"] {
                #expect(!lines.contains { $0.hasPrefix(dropped + ":") }, "\(dropped) was forwarded")
            }
            // The upstream's hop-by-hop response headers do not reach the client.
            #expect(response.headers["keep-alive"].isEmpty)
        }
    }

    @Test func keepsAGivenRequestID() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(.GET, "/h", headers: [("host", "a"), ("x-request-id", "abc-123")])
            #expect(response.body.split(separator: "\n").filter { $0.hasPrefix("x-request-id:") } == ["x-request-id: abc-123"])
        }
    }

    @Test func absoluteFormAuthorityReplacesHost() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(.GET, "http://api.veni.ai/hrm/x", headers: [("host", "ignored.com")])
            #expect(response.body.hasPrefix("GET /x\n"))
            #expect(response.body.contains("\nhost: api.veni.ai\n"))
        }
    }

    @Test func answersRespondRoutesAndNoRoute() async throws {
        let fixture = try await ProxyFixture.start(
            routes: """
                routes:
                  - name: only
                    hosts: [a.example]
                    respond: { status: 201, body: "made here" }
                """)
        defer { Task { await fixture.stop() } }
        let made = try await fixture.client.send(.GET, "/", headers: [("host", "a.example")])
        #expect(made.status == 201)
        #expect(made.body == "made here")
        let missing = try await fixture.client.send(.GET, "/", headers: [("host", "b.example")])
        #expect(missing.status == 404)
        #expect(missing.body == #"{"error":"no_route"}"#)
        #expect(missing.headers["content-type"] == ["application/json"])
        await fixture.stop()
    }

    @Test func redirectsToHTTPSWith308() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(.GET, "/secure/a?b=c", headers: [("host", "Shop.example.com:8080")])
            #expect(response.status == 308)
            #expect(response.headers["location"] == ["https://shop.example.com:8443/secure/a?b=c"])
        }
    }

    @Test func aRedirectToPort443LeavesThePortOut() async throws {
        var configuration = ProxyConfiguration()
        configuration.httpsRedirectPort = 443
        try await withGateway(routes: standardRoutes, configuration: configuration) { gateway, _ in
            let response = try await gateway.client.send(.GET, "/secure/a?b=c&d", headers: [("host", "shop.example.com")])
            #expect(response.status == 308)
            #expect(response.headers["location"] == ["https://shop.example.com/secure/a?b=c&d"])
        }
    }

    @Test func noEndpointIs503NamingTheRoute() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(.GET, "/nobody")
            #expect(response.status == 503)
            #expect(response.body == #"{"error":"no_healthy_upstream","route":"nobody"}"#)
        }
    }

    @Test func closedPortIs502() async throws {
        let port = try refusingLoopbackPort()
        let fixture = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: gone, endpoints: ["127.0.0.1:\(port)"] }]
                routes: [{ name: gone, upstream: gone }]
                """)
        let response = try await fixture.client.send(.GET, "/x")
        #expect(response.status == 502)
        #expect(response.body == #"{"error":"upstream_unreachable","route":"gone"}"#)
        await fixture.stop()
    }

    @Test func upstreamClosingWithoutAnswerIs502() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(.GET, "/close")
            #expect(response.status == 502)
            #expect(response.body == #"{"error":"upstream_unreachable","route":"fallback"}"#)
        }
    }

    @Test func slowUpstreamIs504AfterTheRouteTimeout() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let started = ContinuousClock.now
            let response = try await gateway.client.send(.GET, "/slow?ms=6000")
            let elapsed = ContinuousClock.now - started
            #expect(response.status == 504)
            #expect(response.body == #"{"error":"upstream_timeout","route":"slow"}"#)
            #expect(elapsed >= .milliseconds(2000))
            #expect(elapsed < .milliseconds(5900))
            // Within the timeout the same route answers.
            let fast = try await gateway.client.send(.GET, "/slow?ms=10")
            #expect(fast.status == 200)
        }
    }

    @Test func headRequestsGetNoBody() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let responses = try await gateway.client.sendSequentially(["/download?bytes=5000", "/a"])
            #expect(responses.map(\.status) == [200, 200])
            let head = try await gateway.client.send(.HEAD, "/download?bytes=5000")
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == ["5000"])
            #expect(head.checksum.length == 0)
        }
    }
}
