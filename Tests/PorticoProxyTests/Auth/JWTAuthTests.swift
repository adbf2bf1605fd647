import Foundation
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// `auth.jwt` (SPEC §13) on loopback: 401s with `WWW-Authenticate`, claims as headers, and
/// JWKS rotation by a file change and by a URL serving a new `kid`.
@Suite struct JWTAuthTests {
    private func seen(_ response: TestResponse, _ name: String) -> [String] {
        response.body.split(separator: "\n").compactMap { line in
            line.hasPrefix(name + ": ") ? String(line.dropFirst(name.count + 2)) : nil
        }
    }

    private func routes(upstream: Int, keys: String) -> String {
        """
        upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream)"] }]
        routes:
          - name: api
            upstream: app
            auth:
              jwt: { issuer: "https://id.example.com", audiences: [api], \(keys), claimsToHeaders: { sub: X-User-Id } }
        """
    }

    @Test func tokensAreCheckedAndAFileRotationIsPickedUp() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let first = try await TestSigningKey.rsa(kid: "2026-11")
        let second = try await TestSigningKey.ecdsa(kid: "2026-12")
        try folder.write("keys/id.jwks", TestJWT.jwks([first]))
        var configuration = ProxyConfiguration()
        configuration.routesDirectory = folder.url.path
        try await withGateway(routes: { routes(upstream: $0, keys: "jwksFile: keys/id.jwks") }, configuration: configuration) {
            gateway, upstream in
            let none = try await gateway.client.send(.GET, "/x", headers: [("host", "a"), ("x-user-id", "forged")])
            #expect(none.status == 401)
            #expect(none.headers["www-authenticate"] == [#"Bearer realm="portico""#])
            #expect(none.body == #"{"error":"unauthorized","route":"api"}"#)
            let good = try await gateway.client.send(
                .GET, "/x", headers: [("host", "a"), ("authorization", "Bearer " + (try first.sign(TestJWT.claims()))), ("x-user-id", "forged")])
            #expect(good.status == 200)
            #expect(seen(good, "x-user-id") == ["user-1"])
            let expired = try first.sign(TestJWT.claims(now: Date().timeIntervalSince1970 - 7200))
            let refused = try await gateway.client.send(.GET, "/x", headers: [("host", "a"), ("authorization", "Bearer " + expired)])
            #expect(refused.status == 401)
            #expect(refused.headers["www-authenticate"] == [#"Bearer realm="portico", error="invalid_token""#])
            #expect(upstream.requestsReceived == 1)

            // The file gains the next key and loses the old one.
            let next = "Bearer " + (try second.sign(TestJWT.claims()))
            try folder.write("keys/id.jwks", TestJWT.jwks([second]))
            var status = 0
            for _ in 0..<50 where status != 200 {
                status = try await gateway.client.send(.GET, "/x", headers: [("host", "a"), ("authorization", next)]).status
                if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == 200)
            let old = try await gateway.client.send(
                .GET, "/x", headers: [("host", "a"), ("authorization", "Bearer " + (try first.sign(TestJWT.claims())))])
            #expect(old.status == 401)
        }
    }

    @Test func aURLIsFetchedAgainForANewKidAndKeptWhileItIsDown() async throws {
        let first = try await TestSigningKey.eddsa(kid: "a")
        let second = try await TestSigningKey.rsa(kid: "b")
        let jwks = try await TestHTTPServer.start { _ in TestHTTPServer.Answer(status: 200, body: TestJWT.jwks([first])) }
        defer { Task { await jwks.stop() } }
        try await withGateway(routes: { routes(upstream: $0, keys: "jwksUrl: \"http://127.0.0.1:\(jwks.port)/jwks.json\"") }) {
            gateway, _ in
            // The first request may arrive before the load at start: it waits for it.
            let good = try await gateway.client.send(
                .GET, "/x", headers: [("host", "a"), ("authorization", "Bearer " + (try first.sign(TestJWT.claims())))])
            #expect(good.status == 200)
            let fetches = jwks.received.count
            // The issuer rotates: a token with the new kid makes the gateway fetch again, at once.
            jwks.answer { _ in TestHTTPServer.Answer(status: 200, body: TestJWT.jwks([first, second])) }
            let rotated = try await gateway.client.send(
                .GET, "/x", headers: [("host", "a"), ("authorization", "Bearer " + (try second.sign(TestJWT.claims())))])
            #expect(rotated.status == 200)
            #expect(jwks.received.count == fetches + 1)
            #expect(jwks.received.last?.uri == "/jwks.json")
            // Another unknown kid within 10 s is not worth a fetch: 401 at once.
            let stranger = try await TestSigningKey.eddsa(kid: "c")
            let unknown = try await gateway.client.send(
                .GET, "/x", headers: [("host", "a"), ("authorization", "Bearer " + (try stranger.sign(TestJWT.claims())))])
            #expect(unknown.status == 401)
            #expect(jwks.received.count == fetches + 1)
            // The endpoint fails: the keys held stay in use.
            jwks.answer { _ in TestHTTPServer.Answer(status: 500) }
            await jwks.stop()
            let kept = try await gateway.client.send(
                .GET, "/x", headers: [("host", "a"), ("authorization", "Bearer " + (try second.sign(TestJWT.claims())))])
            #expect(kept.status == 200)
        }
    }
}
