import PorticoCore
import PorticoTestSupport
import Testing

/// SPEC §12's route fields through the strict decoder: the spec's example, a round trip
/// through the stored form, and every invalid field named by its path.
@Suite struct TrafficDecoderTests {
    static let specExample = """
        upstreams:
          - { name: shop-v1, endpoints: ["127.0.0.1:9001"] }
          - { name: shop-v2, endpoints: ["127.0.0.1:9002"] }
        routes:
          - name: shop
            hosts: ["shop.example.com"]
            match:
              path: { prefix: / }
              cookies: { canary: "always" }
              query: { beta: "1" }
            backends:
              - { upstream: shop-v1, weight: 90 }
              - { upstream: shop-v2, weight: 10 }
            requestHeaders:  { set: { X-Env: prod }, add: { X-Via: portico }, remove: [X-Debug] }
            responseHeaders: { set: { Cache-Control: no-store }, remove: [Server] }
            rewrite: { path: /index, host: shop.internal }
            hsts: { maxAge: 31536000, includeSubDomains: true, preload: false }
          - name: old-shop
            hosts: ["old.example.com"]
            redirect: { scheme: https, host: shop.example.com, path: { prefix: /new }, status: 301 }
        """

    /// The routes of a valid document, in order.
    private func decode(_ yaml: String) throws -> [RouteDefinition] { try TestRoutes.definitions(yaml) }

    private func problems(_ yaml: String) -> [String] { TestRoutes.problems(yaml) }

    @Test func decodesTheSpecExample() throws {
        let routes = try decode(Self.specExample)
        let shop = try #require(routes.first)
        #expect(shop.match.cookies == [ValueCondition(name: "canary", value: "always")])
        #expect(shop.match.query == [ValueCondition(name: "beta", value: "1")])
        #expect(shop.match.conditionCount == 2)
        #expect(shop.action == .backends([WeightedBackend(upstream: "shop-v1", weight: 90), WeightedBackend(upstream: "shop-v2", weight: 10)]))
        #expect(shop.requestHeaders == HeaderModifiers(set: [("X-Env", "prod")], add: [("X-Via", "portico")], remove: ["X-Debug"]))
        #expect(shop.responseHeaders == HeaderModifiers(set: [("Cache-Control", "no-store")], remove: ["Server"]))
        #expect(shop.rewritePath == "/index")
        #expect(shop.rewriteHost == "shop.internal")
        #expect(shop.hsts == HSTSDefinition(maxAge: 31_536_000, includeSubDomains: true))
        let old = try #require(routes.last)
        #expect(old.action == .redirect(RedirectDefinition(scheme: "https", host: "shop.example.com", path: .prefix("/new"), status: 301)))
        #expect(problems(Self.specExample).isEmpty)
    }

    @Test func theStoredFormReadsBackEqual() throws {
        for route in try decode(Self.specExample) {
            #expect(try RouteFileDecoder.decodeRoute(route.configValue) == route)
        }
    }

    @Test func edgeFieldsDecodeAndReadBack() throws {
        let routes = try decode("""
            upstreams: [{ name: a, endpoints: ["127.0.0.1:1"] }]
            routes:
              - { name: api, upstream: a, allowFrom: ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"], denyFrom: ["10.1.2.0/24"],
                  rateLimit: { requests: 100, per: 1s, burst: 20, key: "header:X-Api-Key" } }
              - { name: plain, upstream: a, rateLimit: { requests: 5 } }
            """)
        #expect(routes[0].allowFrom == ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"].compactMap { AddressRange($0) })
        #expect(routes[0].rateLimit == RateLimitDefinition(requests: 100, per: .seconds(1), burst: 20, key: .header("x-api-key")))
        #expect(routes[1].rateLimit == RateLimitDefinition(requests: 5, per: .seconds(1), burst: 5, key: .client))
        for route in routes { #expect(try RouteFileDecoder.decodeRoute(route.configValue) == route) }
    }

    @Test func defaults() throws {
        let routes = try decode("""
            upstreams: [{ name: a, endpoints: ["127.0.0.1:1"] }]
            routes:
              - { name: split, backends: [{ upstream: a }] }
              - { name: moved, redirect: {} }
            """)
        #expect(routes[0].action == .backends([WeightedBackend(upstream: "a", weight: 1)]))
        #expect(routes[1].action == .redirect(RedirectDefinition(status: 302)))
    }

    @Test(arguments: [
        ("backends: [{ upstream: a, weight: 10001 }]", "routes[0].backends[0].weight: expected a whole number from 0 to 10000"),
        ("backends: [{ upstream: a, weight: -1 }]", "routes[0].backends[0].weight: expected a whole number from 0 to 10000"),
        ("backends: [{ upstream: a, weight: 0 }]", "routes[0].backends: at least one backend needs a weight above 0"),
        ("backends: []", "routes[0].backends: expected 1 to 16 backends, found 0"),
        ("backends: [{ weight: 1 }]", "routes[0].backends[0].upstream: required"),
        ("backends: [{ upstream: a }, { upstream: a }]", "routes[0].backends[1].upstream: upstream \"a\" is already a backend of this route"),
        ("backends: [{ upstream: a }, { upstream: nope, weight: 5 }]", "routes[0].backends[1].upstream: unknown upstream \"nope\""),
        ("upstream: a, backends: [{ upstream: a }]", "routes[0]: exactly one of upstream, backends, respond, redirect"),
        ("redirect: { status: 300 }", "routes[0].redirect.status: expected 301, 302, 303, 307 or 308"),
        ("redirect: { scheme: ftp }", "routes[0].redirect.scheme: expected http or https, found \"ftp\""),
        ("redirect: { port: 0 }", "routes[0].redirect.port: expected a whole number from 1 to 65535"),
        ("redirect: { host: \"a b\" }", "routes[0].redirect.host: expected a DNS name, found \"a b\""),
        ("redirect: { path: { prefix: new } }", "routes[0].redirect.path.prefix: must start with /"),
        ("redirect: { path: { prefix: /a, full: /b } }", "routes[0].redirect.path: exactly one of prefix, full"),
        ("upstream: a, requestHeaders: { set: { Host: x } }", "routes[0].requestHeaders.set.Host: Host cannot be modified"),
        ("upstream: a, responseHeaders: { remove: [content-length] }", "routes[0].responseHeaders.remove[0]: content-length cannot be modified"),
        ("upstream: a, requestHeaders: { remove: [TE] }", "routes[0].requestHeaders.remove[0]: TE cannot be modified"),
        ("upstream: a, requestHeaders: { set: { X-A: 1 }, add: { x-a: 2 } }", "routes[0].requestHeaders.add.x-a: x-a is also in set; a name stands in one list"),
        ("upstream: a, responseHeaders: { set: { \"bad name\": 1 } }", "routes[0].responseHeaders.set.bad name: invalid header name"),
        ("upstream: a, cors: { allowOrigins: [\"*\"] }, responseHeaders: { set: { Access-Control-Allow-Origin: x } }",
         "routes[0].responseHeaders.set.Access-Control-Allow-Origin: Access-Control-Allow-Origin cannot be modified on a route with cors (the gateway's CORS headers win)"),
        ("upstream: a, rewrite: { prefix: /a, path: /b }", "routes[0].rewrite: exactly one of prefix, path"),
        ("upstream: a, rewrite: { path: \"/a?b\" }", "routes[0].rewrite.path: must start with / and hold no query, spaces or control characters"),
        ("upstream: a, rewrite: { host: \"a/b\" }", "routes[0].rewrite.host: expected host or host:port, found \"a/b\""),
        ("upstream: a, hsts: { maxAge: 100, includeSubDomains: true, preload: true }",
         "routes[0].hsts.preload: needs includeSubDomains and a maxAge of at least 31536000"),
        ("upstream: a, hsts: { maxAge: 31536000, preload: true }", "routes[0].hsts.preload: needs includeSubDomains and a maxAge of at least 31536000"),
        ("upstream: a, hsts: { includeSubDomains: true }", "routes[0].hsts.maxAge: required"),
        ("upstream: a, match: { cookies: [a] }", "routes[0].match.cookies: expected a mapping of cookie name to value, found a list"),
        ("upstream: a, match: { query: { \"a=b\": c } }", "routes[0].match.query.a=b: invalid query parameter name"),
        ("upstream: a, allowFrom: [\"10.0.0.0/33\"]", "routes[0].allowFrom[0]: expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8, found \"10.0.0.0/33\""),
        ("upstream: a, denyFrom: [\"127.0.0.1\", \"nope\"]", "routes[0].denyFrom[1]: expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8, found \"nope\""),
        ("upstream: a, allowFrom: 10.0.0.0/8", "routes[0].allowFrom: expected a list, found a string"),
        ("upstream: a, rateLimit: { per: 1s }", "routes[0].rateLimit.requests: required"),
        ("upstream: a, rateLimit: { requests: 0 }", "routes[0].rateLimit.requests: expected a whole number of at least 1"),
        ("upstream: a, rateLimit: { requests: 5, per: 0s }", "routes[0].rateLimit.per: expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero"),
        ("upstream: a, rateLimit: { requests: 5, burst: 0 }", "routes[0].rateLimit.burst: expected a whole number of at least 1"),
        ("upstream: a, rateLimit: { requests: 5, key: ip }", "routes[0].rateLimit.key: expected client, route or header:NAME, found \"ip\""),
        ("upstream: a, rateLimit: { requests: 5, key: \"header:\" }", "routes[0].rateLimit.key: expected client, route or header:NAME, found \"header:\""),
    ])
    func everyInvalidFieldIsNamed(route: String, expected: String) {
        let yaml = "upstreams: [{ name: a, endpoints: [\"127.0.0.1:1\"] }]\nroutes: [{ name: r, \(route) }]\n"
        #expect(problems(yaml) == [expected])
    }

    @Test func sixteenBackendsAtMost() {
        let upstreams = (0..<17).map { "{ name: u\($0), endpoints: [\"127.0.0.1:1\"] }" }.joined(separator: ", ")
        let backends = (0..<17).map { "{ upstream: u\($0) }" }.joined(separator: ", ")
        #expect(problems("upstreams: [\(upstreams)]\nroutes: [{ name: r, backends: [\(backends)] }]\n") == [
            "routes[0].backends: expected 1 to 16 backends, found 17"
        ])
    }
}
