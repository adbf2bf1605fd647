import PorticoCore
import PorticoTestSupport
import Testing

/// SPEC §12's routing decisions, pure: the weighted pick, cookie and query conditions with
/// their precedence, full-path rewrites, redirect locations and what a weight change retires.
@Suite struct TrafficRoutingTests {
    static let upstreams = """
        upstreams:
          - { name: v1, endpoints: ["127.0.0.1:9001"] }
          - { name: v2, endpoints: ["127.0.0.1:9002"] }
          - { name: v3, endpoints: ["127.0.0.1:9003"] }
        """

    private func split(_ weights: [Int]) throws -> CompiledRoute {
        let backends = weights.enumerated().map { "{ upstream: v\($0.offset + 1), weight: \($0.element) }" }.joined(separator: ", ")
        let table = try TestRoutes.table(Self.upstreams + "\nroutes: [{ name: r, backends: [\(backends)] }]\n")
        return try #require(table.route(named: "r"))
    }

    /// How many of the `sum` evenly spread rolls pick each upstream.
    private func shares(of route: CompiledRoute, sum: Int, available: Set<String> = ["v1", "v2", "v3"]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for point in 0..<sum {
            let picked = route.pickBackend(roll: { bound in point % bound }, isAvailable: { available.contains($0.name) })
            counts[picked?.name ?? "none", default: 0] += 1
        }
        return counts
    }

    @Test func eachBackendGetsItsWeightsShare() throws {
        #expect(shares(of: try split([90, 10]), sum: 100) == ["v1": 90, "v2": 10])
        #expect(shares(of: try split([1, 2, 3]), sum: 600) == ["v1": 100, "v2": 200, "v3": 300])
    }

    @Test func aWeightOfZeroIsNeverPicked() throws {
        #expect(shares(of: try split([0, 5]), sum: 50) == ["v2": 50])
    }

    @Test func aBackendWithoutHealthyEndpointsGivesItsShareToTheOthers() throws {
        let route = try split([50, 30, 20])
        #expect(shares(of: route, sum: 70, available: ["v1", "v3"]) == ["v1": 50, "v3": 20])
        #expect(shares(of: route, sum: 10, available: []) == ["none": 10])
        #expect(shares(of: try split([0, 10]), sum: 10, available: ["v1"]) == ["none": 10])
    }

    @Test func anUpstreamRouteAlwaysPicksItsUpstream() throws {
        let table = try TestRoutes.table(Self.upstreams + "\nroutes: [{ name: r, upstream: v2 }]\n")
        let route = try #require(table.route(named: "r"))
        #expect(route.pickBackend(roll: { _ in 0 }, isAvailable: { _ in false })?.name == "v2")
    }

    // MARK: Conditions

    static let canary = upstreams + """

        routes:
          - { name: plain, hosts: [shop.test], upstream: v1 }
          - { name: by-cookie, hosts: [shop.test], match: { cookies: { canary: always } }, upstream: v2 }
          - { name: by-query, hosts: [shop.test], match: { query: { beta: "1" } }, upstream: v3 }
          - { name: both, hosts: [shop.test], match: { query: { beta: "1" }, cookies: { canary: always } }, upstream: v3 }
        """

    private func route(query: String = "", cookie: String? = nil) throws -> String? {
        let table = try TestRoutes.table(Self.canary)
        let request = RouteRequest(method: "GET", query: Substring(query), header: { $0 == "cookie" ? cookie : nil })
        return table.match(host: "shop.test", path: "/item", request: request)?.name
    }

    @Test func cookieAndQueryConditionsWinByTheirCount() throws {
        #expect(try route() == "plain")
        #expect(try route(cookie: "canary=always") == "by-cookie")
        #expect(try route(cookie: "a=1; canary=always; b=2") == "by-cookie")
        #expect(try route(cookie: "canary=never") == "plain")
        #expect(try route(query: "beta=1") == "by-query")
        #expect(try route(query: "x=2&beta=1", cookie: "canary=always") == "both")
        #expect(try route(query: "beta=2") == "plain")
    }

    @Test(arguments: [
        ("a=1; b=2", "b", "2"), ("a=1;b=2", "b", "2"), (" a = 1 ", "a", "1"), ("a=\"q v\"", "a", "q v"), ("a=", "a", ""),
        ("A=1", "a", nil), ("ab=1", "a", nil), ("a", "a", nil), ("a=1; a=2", "a", "1"),
    ] as [(String, String, String?)])
    func cookieValues(header: String, name: String, value: String?) {
        #expect(RouteRequest.cookie(name, in: header) == value)
    }

    @Test(arguments: [
        ("beta=1", "beta", "1"), ("a=1&beta=x%20y", "beta", "x y"), ("b%65ta=1", "beta", "1"), ("beta", "beta", ""),
        ("beta=a+b", "beta", "a+b"), ("Beta=1", "beta", nil), ("", "beta", nil), ("beta=%zz", "beta", nil),
        ("beta=1&beta=2", "beta", "1"), ("a&&beta=3", "beta", "3"),
    ] as [(String, String, String?)])
    func queryParameters(query: String, name: String, value: String?) {
        #expect(RouteRequest.parameter(name, in: Substring(query)) == value)
    }

    // MARK: Rewrites and redirects

    @Test func aFullPathRewriteReplacesTheWholePath() throws {
        let table = try TestRoutes.table(Self.upstreams + "\nroutes: [{ name: r, match: { path: { prefix: /old } }, upstream: v1, rewrite: { path: /index } }]\n")
        #expect(try #require(table.route(named: "r")).upstreamPath(for: "/old/a/b") == "/index")
    }

    private func location(
        _ redirect: RedirectDefinition, scheme: String = "http", authority: String? = "shop.test", path: String = "/item",
        query: String = "", matched: PathMatch = .prefix("/")
    ) -> String {
        let host = authority.flatMap { RequestHost.normalize(Substring($0)) }
        return RedirectLocation(redirect, requestScheme: scheme, authority: authority, host: host, path: path, query: query, matched: matched)
            .description
    }

    @Test func aRedirectKeepsWhatItDoesNotReplace() {
        #expect(location(RedirectDefinition()) == "http://shop.test/item")
        #expect(location(RedirectDefinition(), authority: "Shop.Test:8080", query: "?a=1") == "http://shop.test:8080/item?a=1")
        #expect(location(RedirectDefinition(), scheme: "https", authority: "shop.test:8443") == "https://shop.test:8443/item")
        #expect(location(RedirectDefinition(host: "new.test")) == "http://new.test/item")
        #expect(location(RedirectDefinition(host: "new.test"), authority: "shop.test:8080") == "http://new.test:8080/item")
    }

    @Test func theRedirectPortFollowsGatewayAPI() {
        // `scheme` given, no `port`: that scheme's default, left out.
        #expect(location(RedirectDefinition(scheme: "https"), authority: "shop.test:8080") == "https://shop.test/item")
        // `port` given: kept unless it is the scheme's default.
        #expect(location(RedirectDefinition(scheme: "https", port: 8443)) == "https://shop.test:8443/item")
        #expect(location(RedirectDefinition(scheme: "https", port: 443)) == "https://shop.test/item")
        #expect(location(RedirectDefinition(port: 80)) == "http://shop.test/item")
        #expect(location(RedirectDefinition(port: 9000), authority: "[::1]:8080") == "http://[::1]:9000/item")
        #expect(location(RedirectDefinition(), authority: "[::1]") == "http://[::1]/item")
        #expect(location(RedirectDefinition(), authority: nil) == "http://localhost/item")
    }

    @Test func theRedirectPathReplacesThePrefixOrTheWholePath() {
        #expect(location(RedirectDefinition(path: .prefix("/new"))) == "http://shop.test/new/item")
        #expect(location(RedirectDefinition(path: .prefix("/new")), path: "/old/item", matched: .prefix("/old")) == "http://shop.test/new/item")
        #expect(location(RedirectDefinition(path: .prefix("/new")), path: "/old", matched: .prefix("/old")) == "http://shop.test/new")
        #expect(location(RedirectDefinition(path: .full("/home")), query: "?q=1") == "http://shop.test/home?q=1")
    }

    // MARK: Table swaps

    @Test func aWeightChangeRetiresNothingAndARemovedBackendItsOwnWork() throws {
        let older = try TestRoutes.table(Self.upstreams + "\nroutes: [{ name: r, backends: [{ upstream: v1, weight: 90 }, { upstream: v2, weight: 10 }] }]\n")
        let reweighted = try TestRoutes.table(Self.upstreams + "\nroutes: [{ name: r, backends: [{ upstream: v1, weight: 0 }, { upstream: v2, weight: 100 }] }]\n")
        let route = try #require(older.route(named: "r"))
        let v1 = Endpoint(host: "127.0.0.1", port: 9001)
        let byWeight = older.retirement(by: reweighted)
        #expect(byWeight.routes.isEmpty)
        #expect(!byWeight.retires(route, endpoint: v1))
        let narrowed = try TestRoutes.table(Self.upstreams + "\nroutes: [{ name: r, backends: [{ upstream: v2, weight: 100 }] }]\n")
        #expect(older.retirement(by: narrowed).retires(route, endpoint: v1))
    }
}
