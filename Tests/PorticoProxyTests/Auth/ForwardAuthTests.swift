import NIOHTTP1
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// `auth.forward` (SPEC §13) on loopback: what the auth service is sent, and each kind of
/// answer — allowed, denied, redirected, down, slow — with the upstream untouched unless allowed.
@Suite struct ForwardAuthTests {
    private func routes(upstream: Int, auth: Int, timeout: String) -> String {
        """
        upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream)"] }]
        routes:
          - name: api
            match: { path: { prefix: /api } }
            upstream: app
            cors: { allowOrigins: ["https://app.test"] }
            auth:
              forward: { url: "http://127.0.0.1:\(auth)/verify?from=portico", timeout: \(timeout), responseHeaders: [X-User-Id, X-Groups] }
        """
    }

    private func seen(_ response: TestResponse, _ name: String) -> [String] {
        response.body.split(separator: "\n").compactMap { line in
            line.hasPrefix(name + ": ") ? String(line.dropFirst(name.count + 2)) : nil
        }
    }

    private func withAuthGateway(
        timeout: String = "10s", _ answer: @escaping TestHTTPServer.Responder,
        _ body: (ProxyFixture, TestUpstream, TestHTTPServer) async throws -> Void
    ) async throws {
        let auth = try await TestHTTPServer.start(answer)
        do {
            try await withGateway(routes: { routes(upstream: $0, auth: auth.port, timeout: timeout) }) { gateway, upstream in
                try await body(gateway, upstream, auth)
            }
        } catch {
            await auth.stop()
            throw error
        }
        await auth.stop()
    }

    @Test func aTwoHundredLetsTheRequestOnWithTheAnswersHeaders() async throws {
        try await withAuthGateway({ head in
            TestHTTPServer.Answer(status: 200, headers: [("X-User-Id", "u-7"), ("X-Other", "kept back")])
        }) { gateway, upstream, auth in
            let response = try await gateway.client.send(
                .POST, "/api/orders?id=5",
                headers: [
                    ("host", "shop.test"), ("authorization", "Bearer abc"), ("cookie", "s=1"), ("x-user-id", "forged"),
                    ("x-groups", "admins"), ("x-secret", "no"),
                ],
                body: "{}")
            #expect(response.status == 200)
            // The client's own X-User-Id and X-Groups are gone; the answer's X-User-Id is set.
            #expect(seen(response, "x-user-id") == ["u-7"])
            #expect(seen(response, "x-groups").isEmpty)
            #expect(seen(response, "x-other").isEmpty)
            #expect(upstream.requestsReceived == 1)
            let call = try #require(auth.received.first)
            #expect(call.method == .GET)
            #expect(call.uri == "/verify?from=portico")
            #expect(call.headers["x-forwarded-method"] == ["POST"])
            #expect(call.headers["x-forwarded-proto"] == ["http"])
            #expect(call.headers["x-forwarded-host"] == ["shop.test"])
            #expect(call.headers["x-forwarded-uri"] == ["/api/orders?id=5"])
            #expect(call.headers["x-forwarded-for"] == ["127.0.0.1"])
            #expect(call.headers["authorization"] == ["Bearer abc"])
            #expect(call.headers["cookie"] == ["s=1"])
            #expect(call.headers["x-secret"].isEmpty)
            #expect(call.headers["content-length"].isEmpty || call.headers["content-length"] == ["0"])
        }
    }

    @Test func aDenialGoesToTheClientAsItIs() async throws {
        try await withAuthGateway({ head in
            if head.headers["authorization"].isEmpty {
                return TestHTTPServer.Answer(
                    status: 302, headers: [("Location", "https://login.test/?next=/api"), ("Set-Cookie", "state=xyz")])
            }
            return TestHTTPServer.Answer(
                status: 401, headers: [("WWW-Authenticate", #"Bearer realm="shop""#), ("Content-Type", "application/json"), ("X-Internal", "no")],
                body: #"{"error":"bad token"}"#)
        }) { gateway, upstream, _ in
            let denied = try await gateway.client.send(.GET, "/api/x", headers: [("host", "a"), ("authorization", "Bearer bad")])
            #expect(denied.status == 401)
            #expect(denied.headers["www-authenticate"] == [#"Bearer realm="shop""#])
            #expect(denied.headers["content-type"] == ["application/json"])
            #expect(denied.headers["x-internal"].isEmpty)
            #expect(denied.body == #"{"error":"bad token"}"#)
            let redirected = try await gateway.client.send(.GET, "/api/x", headers: [("host", "a"), ("origin", "https://app.test")])
            #expect(redirected.status == 302)
            #expect(redirected.headers["location"] == ["https://login.test/?next=/api"])
            #expect(redirected.headers["set-cookie"] == ["state=xyz"])
            // The route's CORS headers are on the gateway's answers too.
            #expect(redirected.headers["access-control-allow-origin"] == ["https://app.test"])
            // A CORS preflight never reaches the auth service.
            let preflight = try await gateway.client.send(
                .OPTIONS, "/api/x", headers: [("host", "a"), ("origin", "https://app.test"), ("access-control-request-method", "GET")])
            #expect(preflight.status == 204)
            #expect(upstream.requestsReceived == 0)
        }
    }

    @Test func aServiceThatIsDownOrSlowFailsClosed() async throws {
        try await withAuthGateway(timeout: "300ms", { head in
            TestHTTPServer.Answer(status: 200, delay: .seconds(10))
        }) { gateway, upstream, auth in
            let clock = ContinuousClock()
            let start = clock.now
            let slow = try await gateway.client.send(.GET, "/api/x")
            #expect(slow.status == 503)
            #expect(slow.body == #"{"error":"auth_unavailable","route":"api"}"#)
            #expect(clock.now - start < .seconds(5))  // 300 ms, on a loaded machine; the answer would take 10 s
            await auth.stop()
            let down = try await gateway.client.send(.GET, "/api/x")
            #expect(down.status == 503)
            #expect(down.body == #"{"error":"auth_unavailable","route":"api"}"#)
            #expect(upstream.requestsReceived == 0)
        }
    }
}
