import Foundation
import PorticoTestSupport
import Testing

/// SPEC §13's auth in a `portico serve` process: a JWT route whose JWKS file sits in a
/// subfolder of the routes folder, a forward-auth route, `portico_auth_total`, and
/// `portico validate` on key files.
@Suite struct EdgeAuthProcessTests {
    @Test func jwtAndForwardAuthInTheGatewayProcess() async throws {
        let upstream = try await TestUpstream.start()
        let auth = try await TestHTTPServer.start { head in
            head.headers["authorization"] == ["Bearer let-me-in"]
                ? .init(status: 204, headers: [("X-User-Id", "u-1")])
                : .init(status: 401, headers: [("WWW-Authenticate", #"Basic realm="shop""#)], body: "who are you?")
        }
        let key = try await TestSigningKey.rsa(kid: "k1")
        let folder = try TemporaryFolder()
        try folder.write("routes/keys/id.jwks", TestJWT.jwks([key]))
        try folder.write(
            "routes/app.yaml",
            """
            upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"] }]
            routes:
              - name: jwt
                match: { path: { prefix: /jwt } }
                upstream: app
                auth: { jwt: { issuer: "https://id.example.com", audiences: [api], jwksFile: keys/id.jwks, claimsToHeaders: { sub: X-User-Id } } }
              - name: forward
                match: { path: { prefix: /forward } }
                upstream: app
                auth: { forward: { url: "http://127.0.0.1:\(auth.port)/check", timeout: 10s, responseHeaders: [X-User-Id] } }
            """)
        let gateway = try await ServingGateway.start(in: folder)
        let token = "Bearer " + (try key.sign(TestJWT.claims()))
        let allowed = try await gateway.client.send(.GET, "/jwt/a", headers: [("host", "a"), ("authorization", token)])
        #expect(allowed.status == 200)
        #expect(allowed.body.contains("x-user-id: user-1"))
        #expect(try await gateway.client.send(.GET, "/jwt/a", headers: [("host", "a"), ("authorization", "Bearer x.y.z")]).status == 401)
        #expect(try await gateway.client.send(.GET, "/forward/a", headers: [("host", "a"), ("authorization", "Bearer let-me-in")]).status == 200)
        let denied = try await gateway.client.send(.GET, "/forward/a")
        #expect(denied.status == 401)
        #expect(denied.headers["www-authenticate"] == [#"Basic realm="shop""#])
        #expect(denied.body == "who are you?")
        await auth.stop()
        #expect(try await gateway.client.send(.GET, "/forward/a").status == 503)
        #expect(upstream.requestsReceived == 2)

        let metrics = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        #expect(metrics[#"portico_auth_total{route="jwt",result="allowed"}"#] == 1)
        #expect(metrics[#"portico_auth_total{route="jwt",result="denied"}"#] == 1)
        #expect(metrics[#"portico_auth_total{route="forward",result="allowed"}"#] == 1)
        #expect(metrics[#"portico_auth_total{route="forward",result="denied"}"#] == 1)
        #expect(metrics[#"portico_auth_total{route="forward",result="error"}"#] == 1)
        // The key file is no route file, and a bad one is named by `portico validate`.
        #expect(!gateway.process.log.contains("id.jwks: "))
        await gateway.stop()
        await upstream.stop()
    }

    @Test func validateChecksKeyFiles() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let route = "upstreams: [{ name: a, endpoints: [\"127.0.0.1:1\"] }]\nroutes: [{ name: r, upstream: a, auth: { jwt: { jwksFile: keys/id.jwks } } }]\n"
        try folder.write("good/a.yaml", route)
        try folder.write("good/keys/id.jwks", TestJWT.jwks([try await TestSigningKey.eddsa(kid: "k")]))
        try folder.write("bad/a.yaml", route)
        try folder.write("bad/keys/id.jwks", #"{"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0"}]}"#)
        try folder.write("missing/a.yaml", route)
        let good = try PorticoProcess.start(["validate", "good"], directory: folder.url)
        #expect(try await good.waitForExit() == 0)
        let bad = try PorticoProcess.start(["validate", "bad"], directory: folder.url)
        #expect(try await bad.waitForExit() == 1)
        #expect(bad.log.contains("route r: auth.jwt.jwksFile keys/id.jwks: no usable key"))
        #expect(bad.log.contains("warning: route r: auth.jwt.jwksFile keys/id.jwks: key skipped"))
        let missing = try PorticoProcess.start(["validate", "missing"], directory: folder.url)
        #expect(try await missing.waitForExit() == 1)
        #expect(missing.log.contains("route r: auth.jwt.jwksFile keys/id.jwks: "))
    }
}
