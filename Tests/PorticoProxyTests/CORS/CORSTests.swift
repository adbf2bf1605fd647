import NIOHTTP1
import PorticoProxy
import PorticoTestSupport
import Testing

private func corsRoutes(_ port: Int) -> String {
    """
    upstreams: [{ name: app, endpoints: ["127.0.0.1:\(port)"] }]
    routes:
      - name: api
        upstream: app
        cors:
          allowOrigins: ["https://app.veni.ai", "https://*.veni.ai"]
          allowMethods: [GET, POST, PUT]
          allowHeaders: [Authorization, Content-Type]
          exposeHeaders: [X-Request-Id]
          allowCredentials: true
          maxAge: 600
    """
}

@Suite struct CORSTests {
    @Test func allowedPreflightIsAnsweredAtTheEdge() async throws {
        try await withGateway(routes: corsRoutes) { gateway, upstream in
            let response = try await gateway.client.send(
                .OPTIONS, "/items",
                headers: [
                    ("host", "api.veni.ai"), ("origin", "https://app.veni.ai"), ("access-control-request-method", "PUT"),
                    ("access-control-request-headers", "authorization"),
                ])
            #expect(response.status == 204)
            #expect(response.headers["access-control-allow-origin"] == ["https://app.veni.ai"])
            #expect(response.headers["access-control-allow-methods"] == ["GET, POST, PUT"])
            #expect(response.headers["access-control-allow-headers"] == ["authorization"])
            #expect(response.headers["access-control-max-age"] == ["600"])
            #expect(response.headers["access-control-allow-credentials"] == ["true"])
            #expect(response.headers["vary"] == ["Origin"])
            #expect(upstream.requestsReceived == 0)
        }
    }

    @Test func refusedPreflightIs403WithoutCORSHeaders() async throws {
        try await withGateway(routes: corsRoutes) { gateway, upstream in
            for (origin, method) in [("https://evil.com", "GET"), ("https://app.veni.ai", "DELETE")] {
                let response = try await gateway.client.send(
                    .OPTIONS, "/items",
                    headers: [("host", "a"), ("origin", origin), ("access-control-request-method", method)])
                #expect(response.status == 403)
                #expect(!response.headers.contains { $0.name.lowercased().hasPrefix("access-control-") })
            }
            #expect(upstream.requestsReceived == 0)
        }
    }

    @Test func actualRequestsGetTheGatewaysHeadersInPlaceOfTheUpstreams() async throws {
        try await withGateway(routes: corsRoutes) { gateway, _ in
            let allowed = try await gateway.client.send(
                .GET, "/items", headers: [("host", "a"), ("origin", "https://x.veni.ai"), ("x-upstream-cors", "1")])
            #expect(allowed.status == 200)
            #expect(allowed.headers["access-control-allow-origin"] == ["https://x.veni.ai"])
            #expect(allowed.headers["access-control-allow-credentials"] == ["true"])
            #expect(allowed.headers["access-control-expose-headers"] == ["X-Request-Id"])
            #expect(allowed.headers["access-control-allow-methods"].isEmpty)  // the upstream's, removed
            #expect(allowed.headers["vary"].contains("Origin"))

            let refused = try await gateway.client.send(
                .GET, "/items", headers: [("host", "a"), ("origin", "https://evil.com"), ("x-upstream-cors", "1")])
            #expect(refused.status == 200)
            #expect(!refused.headers.contains { $0.name.lowercased().hasPrefix("access-control-") })

            // No Origin: not a CORS request; the response is the upstream's, less its CORS headers.
            let plain = try await gateway.client.send(.GET, "/items", headers: [("host", "a"), ("x-upstream-cors", "1")])
            #expect(!plain.headers.contains { $0.name.lowercased().hasPrefix("access-control-") })
        }
    }

    @Test func routesWithoutAPolicyPassPreflightsThrough() async throws {
        try await withGateway(routes: standardRoutes) { gateway, upstream in
            let response = try await gateway.client.send(
                .OPTIONS, "/x", headers: [("host", "a"), ("origin", "https://a.com"), ("access-control-request-method", "GET")])
            #expect(response.status == 200)
            #expect(upstream.requestsReceived == 1)
        }
    }
}
