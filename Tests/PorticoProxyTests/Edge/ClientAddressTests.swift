import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// SPEC §13 on loopback: who the client is (the peer, or what trusted proxies say), what the
/// upstream is told (`X-Real-IP`, the `X-Forwarded-For` chain) and the IP rules.
@Suite struct ClientAddressTests {
    private func routes(_ port: Int) -> String {
        """
        upstreams: [{ name: app, endpoints: ["127.0.0.1:\(port)"] }]
        routes:
          - { name: open, match: { path: { prefix: /open } }, upstream: app }
          - { name: office, match: { path: { prefix: /office } }, upstream: app, allowFrom: ["203.0.113.0/24", "2001:db8::/32"] }
          - name: blocked
            match: { path: { prefix: /blocked } }
            upstream: app
            allowFrom: ["0.0.0.0/0"]
            denyFrom: ["127.0.0.1", "203.0.113.66"]
            cors: { allowOrigins: ["https://app.test"] }
        """
    }

    private func seen(_ response: TestResponse, _ name: String) -> [String] {
        response.body.split(separator: "\n").compactMap { line in
            line.hasPrefix(name + ": ") ? String(line.dropFirst(name.count + 2)) : nil
        }
    }

    @Test func withoutTrustedProxiesThePeerIsTheClient() async throws {
        try await withGateway(routes: routes) { gateway, upstream in
            let open = try await gateway.client.send(.GET, "/open", headers: [("host", "a"), ("x-forwarded-for", "203.0.113.5"), ("x-real-ip", "6.6.6.6")])
            #expect(open.status == 200)
            #expect(seen(open, "x-real-ip") == ["127.0.0.1"])
            #expect(seen(open, "x-forwarded-for") == ["203.0.113.5, 127.0.0.1"])
            // The claimed address opens nothing.
            let office = try await gateway.client.send(.GET, "/office", headers: [("host", "a"), ("x-forwarded-for", "203.0.113.5")])
            #expect(office.status == 403)
            #expect(office.body == #"{"error":"forbidden","route":"office"}"#)
            let blocked = try await gateway.client.send(.GET, "/blocked")
            #expect(blocked.status == 403)
            #expect(upstream.requestsReceived == 1)
            // A CORS preflight is answered before any IP rule.
            let preflight = try await gateway.client.send(
                .OPTIONS, "/blocked",
                headers: [("host", "a"), ("origin", "https://app.test"), ("access-control-request-method", "GET")])
            #expect(preflight.status == 204)
        }
    }

    @Test func behindATrustedProxyTheForwardedClientIsTheClient() async throws {
        var configuration = ProxyConfiguration()
        configuration.trustedProxies = try TrustedProxies.parse("127.0.0.1, 10.0.0.0/8").get()
        try await withGateway(routes: routes, configuration: configuration) { gateway, _ in
            let office = try await gateway.client.send(
                .GET, "/office", headers: [("host", "a"), ("x-forwarded-for", "198.51.100.1, 203.0.113.5, 10.1.1.1")])
            #expect(office.status == 200)
            #expect(seen(office, "x-real-ip") == ["203.0.113.5"])
            // The chain keeps every hop and gets the TCP peer.
            #expect(seen(office, "x-forwarded-for") == ["198.51.100.1, 203.0.113.5, 10.1.1.1, 127.0.0.1"])
            let v6 = try await gateway.client.send(.GET, "/office", headers: [("host", "a"), ("x-forwarded-for", "2001:db8::7")])
            #expect(v6.status == 200)
            #expect(seen(v6, "x-real-ip") == ["2001:db8::7"])
            // denyFrom wins over allowFrom, for the forwarded client too.
            let denied = try await gateway.client.send(.GET, "/blocked", headers: [("host", "a"), ("x-forwarded-for", "203.0.113.66")])
            #expect(denied.status == 403)
            let allowed = try await gateway.client.send(.GET, "/blocked", headers: [("host", "a"), ("x-forwarded-for", "203.0.113.67")])
            #expect(allowed.status == 200)
            // No X-Forwarded-For: the trusted peer itself, which blocked denies.
            #expect(try await gateway.client.send(.GET, "/blocked").status == 403)
        }
    }
}
