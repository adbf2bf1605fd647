import PorticoCore
import Testing

/// Builds a table from (name, hosts, path, methods, headers) tuples in definition order.
private func table(_ routes: [RouteDefinition]) throws -> RouteTable {
    try RouteTable.build(version: 1, from: RouteSet(routes: routes.map { ($0, .file("routes/t.yaml")) }))
}

private func route(
    _ name: String, hosts: [String] = [], _ path: PathMatch, methods: [String]? = nil, headers: [String: String] = [:]
) -> RouteDefinition {
    RouteDefinition(
        name: name, hosts: hosts.map { HostPattern(parsing: $0)! },
        match: RouteMatch(
            path: path, methods: methods,
            headers: headers.sorted { $0.key < $1.key }.map { HeaderCondition(name: $0.key, value: $0.value) }),
        action: .respond(StaticResponse(status: 200, body: name)))
}

private func matched(
    _ table: RouteTable, _ path: String, host: String? = nil, method: String = "GET", headers: [String: String] = [:]
) -> String? {
    table.match(method: method, host: host, path: path) { headers[$0] }?.name
}

@Suite struct RouteTableTests {
    /// The path examples table of the Kubernetes Ingress documentation.
    @Test(arguments: [
        ([("a", PathMatch.prefix("/"))], "/anything/at/all", "a"),
        ([("a", .exact("/foo"))], "/foo", "a"),
        ([("a", .exact("/foo"))], "/bar", nil),
        ([("a", .exact("/foo"))], "/foo/", nil),
        ([("a", .exact("/foo/"))], "/foo", nil),
        ([("a", .prefix("/foo"))], "/foo", "a"),
        ([("a", .prefix("/foo"))], "/foo/", "a"),
        ([("a", .prefix("/foo"))], "/foobar", nil),
        ([("a", .prefix("/aaa/bb"))], "/aaa/bbb", nil),
        ([("a", .prefix("/aaa/bbb"))], "/aaa/bbb", "a"),
        ([("a", .prefix("/aaa/bbb"))], "/aaa/bbb/", "a"),
        ([("a", .prefix("/aaa/bbb"))], "/aaa/bbb/ccc", "a"),
        ([("a", .prefix("/aaa/bbb"))], "/aaa/bbbxyz", nil),
        ([("root", .prefix("/")), ("aaa", .prefix("/aaa"))], "/aaa/ccc", "aaa"),
        ([("root", .prefix("/")), ("aaa", .prefix("/aaa")), ("bbb", .prefix("/aaa/bbb"))], "/aaa/bbb", "bbb"),
        ([("root", .prefix("/")), ("aaa", .prefix("/aaa")), ("bbb", .prefix("/aaa/bbb"))], "/ccc", "root"),
        ([("aaa", .prefix("/aaa"))], "/ccc", nil),
        ([("prefix", .prefix("/foo")), ("exact", .exact("/foo"))], "/foo", "exact"),
    ] as [([(String, PathMatch)], String, String?)])
    func kubernetesIngressPathExamples(routes: [(String, PathMatch)], path: String, expected: String?) throws {
        let table = try table(routes.map { route($0.0, $0.1) })
        #expect(matched(table, path) == expected)
    }

    @Test func trailingSlashInPrefixIsIgnoredWhenDecoded() throws {
        let document: ConfigValue = [
            "routes": [["name": "a", "match": ["path": ["prefix": "/aaa/bbb/"]], "respond": ["status": 200]]]
        ]
        let table = try RouteTable.build(version: 1, from: RouteFileDecoder.decodeDocument(document, file: "t.yaml"))
        #expect(matched(table, "/aaa/bbb") == "a")
        #expect(matched(table, "/aaa/bbb/") == "a")
        #expect(matched(table, "/aaa/bbbx") == nil)
    }

    @Test func hostWildcardsFollowGatewayAPI() throws {
        let table = try table([
            route("exact", hosts: ["api.veni.ai"], .prefix("/")),
            route("wild", hosts: ["*.veni.ai"], .prefix("/")),
            route("deeper", hosts: ["*.eu.veni.ai"], .prefix("/")),
        ])
        #expect(matched(table, "/", host: "api.veni.ai") == "exact")
        #expect(matched(table, "/", host: "a.veni.ai") == "wild")
        #expect(matched(table, "/", host: "a.b.veni.ai") == "wild")
        #expect(matched(table, "/", host: "x.eu.veni.ai") == "deeper")
        #expect(matched(table, "/", host: "veni.ai") == nil)
        #expect(matched(table, "/", host: "evilveni.ai") == nil)
        #expect(matched(table, "/", host: nil) == nil)
    }

    @Test func hostTierDecidesBeforePath() throws {
        let table = try table([
            route("any-exact", .exact("/x")),
            route("wild-prefix", hosts: ["*.veni.ai"], .prefix("/")),
            route("exact-host", hosts: ["api.veni.ai"], .prefix("/only")),
        ])
        // The exact host has no route for /x, so the wildcard tier decides.
        #expect(matched(table, "/x", host: "api.veni.ai") == "wild-prefix")
        #expect(matched(table, "/only/1", host: "api.veni.ai") == "exact-host")
        #expect(matched(table, "/x", host: "other.com") == "any-exact")
    }

    @Test func precedenceExactOverPrefixOverRegex() throws {
        let table = try table([
            route("regex", .regex("/users/[0-9]+")),
            route("prefix", .prefix("/users")),
            route("exact", .exact("/users/42")),
        ])
        #expect(matched(table, "/users/42") == "exact")
        #expect(matched(table, "/users/43") == "prefix")
    }

    @Test func regexIsAnchoredAtBothEnds() throws {
        let table = try table([route("regex", .regex("/v[0-9]+/items"))])
        #expect(matched(table, "/v1/items") == "regex")
        #expect(matched(table, "/v1/items/2") == nil)
        #expect(matched(table, "/x/v1/items") == nil)
    }

    @Test func moreConditionsWinThenDefinitionOrder() throws {
        let table = try table([
            route("plain", .prefix("/api")),
            route("first-get", .prefix("/api"), methods: ["GET"]),
            route("second-get", .prefix("/api"), methods: ["GET"]),
            route("canary", .prefix("/api"), methods: ["GET"], headers: ["x-canary": "1"]),
        ])
        #expect(matched(table, "/api", method: "GET", headers: ["x-canary": "1"]) == "canary")
        #expect(matched(table, "/api", method: "GET", headers: ["x-canary": "2"]) == "first-get")
        #expect(matched(table, "/api", method: "POST") == "plain")
    }

    @Test func longerPrefixWinsOverMoreConditions() throws {
        let table = try table([
            route("short", .prefix("/a"), methods: ["GET"], headers: ["x": "1"]),
            route("long", .prefix("/a/b")),
        ])
        #expect(matched(table, "/a/b/c", headers: ["x": "1"]) == "long")
    }

    @Test func methodsAndHeadersMustHold() throws {
        let table = try table([route("post", .prefix("/"), methods: ["POST"], headers: ["x-canary": "1"])])
        #expect(matched(table, "/", method: "POST", headers: ["x-canary": "1"]) == "post")
        #expect(matched(table, "/", method: "GET", headers: ["x-canary": "1"]) == nil)
        #expect(matched(table, "/", method: "POST") == nil)
    }

    @Test func refusesDuplicatesUnknownUpstreamsAndBadRegexAllAtOnce() throws {
        var set = RouteSet()
        set.upstreams = [
            (UpstreamDefinition(name: "u", endpoints: [Endpoint(host: "127.0.0.1", port: 1)]), .file("routes/a.yaml")),
            (UpstreamDefinition(name: "u", endpoints: []), .file("routes/b.yaml")),
        ]
        set.routes = [
            (RouteDefinition(name: "r", action: .upstream("u")), .file("routes/a.yaml")),
            (RouteDefinition(name: "r", action: .upstream("u")), .file("routes/b.yaml")),
            (RouteDefinition(name: "s", action: .upstream("missing")), .file("routes/b.yaml")),
            (RouteDefinition(name: "t", match: RouteMatch(path: .regex("(unclosed")), action: .upstream("u")), .file("routes/b.yaml")),
        ]
        let error = #expect(throws: ConfigurationError.self) { try RouteTable.build(version: 1, from: set) }
        let lines = error?.problems.map(\.description) ?? []
        #expect(lines.count == 4)
        #expect(lines.contains { $0.hasPrefix("routes/b.yaml: upstreams[0].name: duplicate upstream name \"u\"") })
        #expect(lines.contains { $0.hasPrefix("routes/b.yaml: routes[0].name: duplicate route name \"r\"") })
        #expect(lines.contains("routes/b.yaml: routes[1].upstream: unknown upstream \"missing\""))
        #expect(lines.contains { $0.hasPrefix("routes/b.yaml: routes[2].match.path.regex: invalid regular expression") })
    }

    @Test func rewriteReplacesTheMatchedPrefix() throws {
        func rewritten(_ prefix: String, _ replacement: String, _ path: String) throws -> String {
            var definition = route("r", .prefix(prefix))
            definition.rewritePrefix = replacement
            return try table([definition]).routes[0].upstreamPath(for: path)
        }
        #expect(try rewritten("/hrm", "/", "/hrm/users") == "/users")
        #expect(try rewritten("/hrm", "/", "/hrm") == "/")
        #expect(try rewritten("/hrm", "/", "/hrm/") == "/")
        #expect(try rewritten("/hrm", "/v2", "/hrm/users") == "/v2/users")
        #expect(try rewritten("/hrm", "/v2/", "/hrm") == "/v2")
        #expect(try rewritten("/", "/app", "/x") == "/app/x")
    }

    /// Lookup walks one trie node per path segment: 10,000 prefix routes on distinct first
    /// segments must still resolve the right route (and the bench measures the cost).
    @Test func manyRoutesStillResolveByTrie() throws {
        let routes = (0..<10_000).map { route("r\($0)", .prefix("/svc\($0)/api")) }
        let table = try table(routes)
        #expect(matched(table, "/svc9999/api/x") == "r9999")
        #expect(matched(table, "/svc5000/api") == "r5000")
        #expect(matched(table, "/svc5000/apix") == nil)
    }
}
