import PorticoCore
import PorticoTestSupport
import Testing

/// `auth` (SPEC §13) through the strict decoder: the spec's example, defaults, a round trip
/// through the stored form, and every invalid field named by its path.
@Suite struct AuthDecoderTests {
    private func decode(_ yaml: String) throws -> [RouteDefinition] { try TestRoutes.definitions(yaml) }

    private func problems(_ yaml: String) -> [String] { TestRoutes.problems(yaml) }

    @Test func decodesTheSpecExampleAndDefaults() throws {
        let routes = try decode("""
            upstreams: [{ name: a, endpoints: ["127.0.0.1:1"] }]
            routes:
              - name: api
                upstream: a
                auth:
                  forward: { url: "http://127.0.0.1:9000/verify", timeout: 2s,
                             requestHeaders: [Authorization, Cookie], responseHeaders: [X-User-Id] }
                  jwt: { issuer: "https://id.example.com", audiences: [api],
                         jwksFile: keys/id.jwks,
                         claimsToHeaders: { sub: X-User-Id } }
              - { name: url, upstream: a, auth: { jwt: { jwksUrl: "https://id.example.com/.well-known/jwks.json" } } }
              - { name: fwd, upstream: a, auth: { forward: { url: "https://auth.example.com:8443/check?x=1" } } }
            """)
        #expect(
            routes[0].auth
                == AuthDefinition(
                    jwt: JWTAuthDefinition(
                        issuer: "https://id.example.com", audiences: ["api"], keys: .file("keys/id.jwks"),
                        claimsToHeaders: [.init(claim: "sub", header: "X-User-Id")]),
                    forward: ForwardAuthDefinition(
                        url: "http://127.0.0.1:9000/verify", timeout: .seconds(2), requestHeaders: ["Authorization", "Cookie"],
                        responseHeaders: ["X-User-Id"])))
        #expect(routes[1].auth == AuthDefinition(jwt: JWTAuthDefinition(keys: .url("https://id.example.com/.well-known/jwks.json"))))
        #expect(
            routes[2].auth?.forward
                == ForwardAuthDefinition(
                    url: "https://auth.example.com:8443/check?x=1", timeout: .seconds(2), requestHeaders: ["Authorization", "Cookie"],
                    responseHeaders: []))
        for route in routes { #expect(try RouteFileDecoder.decodeRoute(route.configValue) == route) }
    }

    @Test(arguments: [
        ("upstream: a, auth: {}", "routes[0].auth: expected forward, jwt or both"),
        ("upstream: a, auth: { basic: {} }", "routes[0].auth.basic: unknown field (expected one of forward, jwt)"),
        ("respond: { status: 200 }, auth: { forward: { url: \"http://127.0.0.1:1/\" } }", "routes[0].auth: applies to routes with upstream or backends"),
        ("upstream: a, auth: { forward: {} }", "routes[0].auth.forward.url: required"),
        ("upstream: a, auth: { forward: { url: \"ftp://x/\" } }", "routes[0].auth.forward.url: expected an http or https URL such as http://127.0.0.1:9000/verify, found \"ftp://x/\""),
        ("upstream: a, auth: { forward: { url: \"http:///verify\" } }", "routes[0].auth.forward.url: expected an http or https URL such as http://127.0.0.1:9000/verify, found \"http:///verify\""),
        ("upstream: a, auth: { forward: { url: \"/verify\" } }", "routes[0].auth.forward.url: expected an http or https URL such as http://127.0.0.1:9000/verify, found \"/verify\""),
        ("upstream: a, auth: { forward: { url: \"http://a/\", timeout: 0s } }", "routes[0].auth.forward.timeout: expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero"),
        ("upstream: a, auth: { forward: { url: \"http://a/\", requestHeaders: [\"bad header\"] } }", "routes[0].auth.forward.requestHeaders[0]: expected a header name, found \"bad header\""),
        ("upstream: a, auth: { forward: { url: \"http://a/\", responseHeaders: X-User } }", "routes[0].auth.forward.responseHeaders: expected a list, found a string"),
        ("upstream: a, auth: { forward: { url: \"http://a/\", retries: 1 } }", "routes[0].auth.forward.retries: unknown field (expected one of requestHeaders, responseHeaders, timeout, url)"),
        ("upstream: a, auth: { jwt: {} }", "routes[0].auth.jwt: one of jwksFile, jwksUrl is required"),
        ("upstream: a, auth: { jwt: { jwksFile: a.jwks, jwksUrl: \"http://a/\" } }", "routes[0].auth.jwt: jwksFile and jwksUrl exclude each other"),
        ("upstream: a, auth: { jwt: { jwksFile: /etc/keys.jwks } }", "routes[0].auth.jwt.jwksFile: expected a path inside the routes folder, found \"/etc/keys.jwks\""),
        ("upstream: a, auth: { jwt: { jwksFile: ../keys.jwks } }", "routes[0].auth.jwt.jwksFile: expected a path inside the routes folder, found \"../keys.jwks\""),
        ("upstream: a, auth: { jwt: { jwksUrl: \"file:///k\" } }", "routes[0].auth.jwt.jwksUrl: expected an http or https URL such as http://127.0.0.1:9000/verify, found \"file:///k\""),
        ("upstream: a, auth: { jwt: { jwksFile: k, issuer: 5 } }", "routes[0].auth.jwt.issuer: expected a string, found a number"),
        ("upstream: a, auth: { jwt: { jwksFile: k, audiences: api } }", "routes[0].auth.jwt.audiences: expected a list, found a string"),
        ("upstream: a, auth: { jwt: { jwksFile: k, claimsToHeaders: [sub] } }", "routes[0].auth.jwt.claimsToHeaders: expected a mapping of claim to header, found a list"),
        ("upstream: a, auth: { jwt: { jwksFile: k, claimsToHeaders: { sub: \"X User\" } } }", "routes[0].auth.jwt.claimsToHeaders.sub: expected a header name, found \"X User\""),
        ("upstream: a, auth: { jwt: { jwksFile: k, claimsToHeaders: { sub: Connection } } }", "routes[0].auth.jwt.claimsToHeaders.sub: Connection cannot be set from a claim"),
    ])
    func everyInvalidFieldIsNamed(route: String, expected: String) {
        let yaml = "upstreams: [{ name: a, endpoints: [\"127.0.0.1:1\"] }]\nroutes: [{ name: r, \(route) }]\n"
        #expect(problems(yaml) == [expected])
    }
}
