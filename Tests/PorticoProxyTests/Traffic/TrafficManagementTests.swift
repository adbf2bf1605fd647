import NIOCore
import NIOPosix
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// SPEC §12 on loopback with real upstreams: the weighted split, weight changes under load,
/// header modifications as the upstream and the client see them, redirects and HSTS.
@Suite struct TrafficManagementTests {
    private func splitRoutes(_ first: TestUpstream, _ second: TestUpstream, weights: (Int, Int), version: UInt64 = 1) -> String {
        """
        upstreams:
          - { name: v1, endpoints: ["127.0.0.1:\(first.port)"] }
          - { name: v2, endpoints: ["127.0.0.1:\(second.port)"] }
        routes: [{ name: shop, backends: [{ upstream: v1, weight: \(weights.0) }, { upstream: v2, weight: \(weights.1) }] }]
        """
    }

    @Test func tenThousandRequestsSplit90To10LandWithinTwoPoints() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        let gateway = try await ProxyFixture.start(routes: splitRoutes(first, second, weights: (90, 10)))
        // Four keep-alive connections of 2,500 requests: the pick is per request, not per connection.
        let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
            for connection in 0..<4 {
                group.addTask {
                    try await gateway.client.sendSequentially((0..<2500).map { "/c\(connection)/\($0)" }).map(\.status)
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(statuses.count == 10_000)
        #expect(statuses.allSatisfy { $0 == 200 })
        let share = Double(first.requestsReceived) / 10_000
        #expect(abs(share - 0.9) <= 0.02, "v1 got \(first.requestsReceived) of 10000")
        #expect(first.requestsReceived + second.requestsReceived == 10_000)
        #expect(first.connectionsAccepted <= 8 && second.connectionsAccepted <= 8, "upstream connections are pooled")
        await gateway.stop()
        await first.stop()
        await second.stop()
    }

    @Test func aBackendWithoutHealthyEndpointsIsSkippedAndNoneLeftIs503() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        let gateway = try await ProxyFixture.start(routes: splitRoutes(first, second, weights: (50, 50)))
        let v1 = UnhealthyEndpoints.Key(upstream: "v1", endpoint: Endpoint(host: "127.0.0.1", port: first.port))
        let v2 = UnhealthyEndpoints.Key(upstream: "v2", endpoint: Endpoint(host: "127.0.0.1", port: second.port))
        gateway.dataPlane.publishEndpointHealth(UnhealthyEndpoints([v1]))
        for response in try await gateway.client.sendSequentially((0..<20).map { "/a\($0)" }) { #expect(response.status == 200) }
        #expect(first.requestsReceived == 0)
        #expect(second.requestsReceived == 20)
        gateway.dataPlane.publishEndpointHealth(UnhealthyEndpoints([v1, v2]))
        let refused = try await gateway.client.send(.GET, "/b")
        #expect(refused.status == 503)
        #expect(refused.body.contains("no_healthy_upstream"))
        await gateway.stop()
        await first.stop()
        await second.stop()
    }

    @Test func aWeightChangeUnderLoadDropsNoRequestAndCutsNoWebSocketOnAnUnchangedBackend() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        let echo = try await WebSocketEchoServer.start()
        func routes(_ weights: (Int, Int), ws: (Int, Int), version: UInt64) throws -> RouteTable {
            try TestRoutes.table(
                """
                upstreams:
                  - { name: v1, endpoints: ["127.0.0.1:\(first.port)"] }
                  - { name: v2, endpoints: ["127.0.0.1:\(second.port)"] }
                  - { name: ws, endpoints: ["127.0.0.1:\(echo.port)"] }
                routes:
                  - { name: shop, backends: [{ upstream: v1, weight: \(weights.0) }, { upstream: v2, weight: \(weights.1) }] }
                  - { name: chat, match: { path: { prefix: /ws } }, backends: [{ upstream: ws, weight: \(ws.0) }, { upstream: v1, weight: \(ws.1) }] }
                """, version: version)
        }
        let gateway = try await ProxyFixture.start(routes: "routes: []")
        await gateway.dataPlane.publish(try routes((90, 10), ws: (100, 0), version: 2), drainTimeout: .seconds(1))
        let socket = try await WebSocketTestClient.open(port: gateway.port, path: "/ws/chat")
        #expect(try await socket.echo("before") == "before")

        // Load on four keep-alive connections while the weights flip and the drain timeout passes.
        async let load = withThrowingTaskGroup(of: [Int].self) { group in
            for connection in 0..<4 {
                group.addTask { try await gateway.client.sendSequentially((0..<400).map { "/l\(connection)/\($0)" }).map(\.status) }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        await first.waitForRequests(100, timeout: .seconds(30))  // an event, not a sleep: room for a loaded machine
        let (retired, _) = await gateway.dataPlane.publish(try routes((10, 90), ws: (1, 99), version: 3), drainTimeout: .milliseconds(200))
        #expect(retired.isEmpty, "a weight change retires no route")
        let statuses = try await load
        #expect(statuses.count == 1600)
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(second.requestsReceived > 160, "the new weights took effect (v2 got \(second.requestsReceived))")
        // Well past the drain timeout, the WebSocket on the unchanged backend still echoes.
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await socket.echo("after") == "after")
        await socket.close()
        await gateway.stop()
        await first.stop()
        await second.stop()
        await echo.stop()
    }

    @Test func headerModificationsAndRewritesReachTheUpstreamAndTheClient() async throws {
        let closed = try refusingLoopbackPort()
        try await withGateway(routes: { port in
            """
            upstreams:
              - { name: app, endpoints: ["127.0.0.1:\(port)"] }
              - { name: gone, endpoints: ["127.0.0.1:\(closed)"] }
            routes:
              - name: shop
                match: { path: { prefix: /shop } }
                upstream: app
                rewrite: { path: /index, host: shop.internal }
                requestHeaders: { set: { X-Env: prod }, add: { X-Via: portico }, remove: [x-debug] }
                responseHeaders: { set: { Cache-Control: no-store }, add: { X-Served-By: edge }, remove: [X-Upstream-Port] }
              - name: down
                match: { path: { prefix: /down } }
                upstream: gone
                responseHeaders: { set: { X-Route: down } }
              - name: cors
                match: { path: { prefix: /cors } }
                respond: { status: 200 }
                cors: { allowOrigins: ["https://app.test"] }
                responseHeaders: { set: { Vary: Cookie } }
            """
        }) { gateway, _ in
            let response = try await gateway.client.send(
                .GET, "/shop/a?q=1",
                headers: [("host", "shop.test"), ("x-debug", "1"), ("x-env", "dev"), ("X-Env", "staging"), ("x-via", "client")])
            #expect(response.status == 200)
            let seen = response.body.split(separator: "\n").map(String.init)
            #expect(seen.first == "GET /index?q=1")
            #expect(seen.contains("host: shop.internal"))
            #expect(seen.contains("x-forwarded-host: shop.test"))
            #expect(seen.filter { $0.hasPrefix("x-env:") } == ["x-env: prod"])
            #expect(seen.filter { $0.hasPrefix("x-via:") } == ["x-via: client", "x-via: portico"])
            #expect(!seen.contains { $0.hasPrefix("x-debug") })
            // Applied after the gateway's own forwarding headers.
            #expect(seen.contains("x-forwarded-proto: http"))
            #expect(response.headers["cache-control"] == ["no-store"])
            #expect(response.headers["x-served-by"] == ["edge"])
            #expect(response.headers["x-upstream-port"].isEmpty)

            // The gateway's own answers on the route get the modifications too...
            let down = try await gateway.client.send(.GET, "/down")
            #expect(down.status == 502)
            #expect(down.headers["x-route"] == ["down"])
            // ...and CORS headers are applied after them, so the gateway's win.
            let cors = try await gateway.client.send(.GET, "/cors", headers: [("host", "a"), ("origin", "https://app.test")])
            #expect(cors.headers["access-control-allow-origin"] == ["https://app.test"])
            #expect(Set(cors.headers[canonicalForm: "vary"].map(String.init)) == ["Cookie", "Origin"])
        }
    }

    @Test func redirectsAreAnsweredWithoutReachingAnyUpstream() async throws {
        try await withGateway(routes: { port in
            """
            upstreams: [{ name: app, endpoints: ["127.0.0.1:\(port)"] }]
            routes:
              - { name: old, hosts: [old.test], match: { path: { prefix: /old } }, redirect: { scheme: https, host: shop.test, path: { prefix: /new }, status: 301 } }
              - { name: moved, hosts: [moved.test], redirect: { path: { full: /home } } }
              - { name: app, upstream: app }
            """
        }) { gateway, upstream in
            let old = try await gateway.client.send(.GET, "/old/item?x=1", headers: [("host", "old.test:8080")])
            #expect(old.status == 301)
            #expect(old.headers["location"] == ["https://shop.test/new/item?x=1"])
            #expect(old.body.isEmpty)
            let moved = try await gateway.client.send(.POST, "/a/b", headers: [("host", "moved.test:8080")], body: "x")
            #expect(moved.status == 302)
            #expect(moved.headers["location"] == ["http://moved.test:8080/home"])
            #expect(upstream.requestsReceived == 0)
        }
    }

    @Test func hstsIsSentOverHTTPSOnly() async throws {
        let certificate = try TestCertificate(dnsNames: ["shop.test"])
        let routes = """
            routes: [{ name: shop, respond: { status: 200, body: ok }, hsts: { maxAge: 31536000, includeSubDomains: true, preload: true } }]
            """
        let secure = try await ProxyFixture.start(routes: routes, certificates: try TestCertificate.store([("shop", certificate)]))
        let plain = try await ProxyFixture.start(routes: routes)
        var client = secure.client
        client.tls = TestTLS(serverName: "shop.test")
        let overTLS = try await client.send(.GET, "/", headers: [("host", "shop.test")])
        #expect(overTLS.headers["strict-transport-security"] == ["max-age=31536000; includeSubDomains; preload"])
        let overHTTP = try await plain.client.send(.GET, "/", headers: [("host", "shop.test")])
        #expect(overHTTP.status == 200)
        #expect(overHTTP.headers["strict-transport-security"].isEmpty)
        await secure.stop()
        await plain.stop()
    }
}
