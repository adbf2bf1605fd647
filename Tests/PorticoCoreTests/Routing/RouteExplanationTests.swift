import PorticoCore
import Testing

/// SPEC §14's explain: the ranking that names why each candidate lost always puts first the
/// route the data plane's lookup picks, over a generated table; and each precedence step is
/// named.
@Suite struct RouteExplanationTests {
    /// A small deterministic generator (splitmix64).
    struct Dice {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
        mutating func pick<T>(_ items: [T]) -> T { items[next(items.count)] }
    }

    static let hosts: [[HostPattern]] = [
        [], [.exact("a.test")], [.exact("b.a.test")], [.wildcard(suffix: ".a.test")], [.wildcard(suffix: ".test")],
        [.exact("a.test"), .wildcard(suffix: ".b.a.test")], [.wildcard(suffix: ".b.a.test")],
    ]
    static let paths: [PathMatch] = [
        .prefix("/"), .prefix("/x"), .prefix("/x/y"), .prefix("/z"), .exact("/x"), .exact("/x/y/z"), .regex("/x/[a-z]+"),
        .regex("/.*"),
    ]

    private func table(routes count: Int, dice: inout Dice) throws -> RouteTable {
        var routes: [(definition: RouteDefinition, source: DefinitionSource)] = []
        for index in 0..<count {
            var match = RouteMatch(path: dice.pick(Self.paths))
            if dice.next(3) == 0 { match.methods = dice.pick([["GET"], ["POST"], ["GET", "POST"]]) }
            if dice.next(3) == 0 { match.headers = [HeaderCondition(name: "x-canary", value: dice.pick(["1", "2"]))] }
            if dice.next(5) == 0 { match.query = [ValueCondition(name: "v", value: "1")] }
            let route = RouteDefinition(
                name: "r\(index)", hosts: dice.pick(Self.hosts), match: match, action: .respond(StaticResponse(status: 200)))
            routes.append((route, .api))
        }
        return try RouteTable.build(version: 1, from: RouteSet(routes: routes))
    }

    @Test func theRankingAgreesWithTheLookupOverAGeneratedTable() throws {
        var dice = Dice(state: 42)
        let requestHosts: [String?] = [nil, "a.test", "b.a.test", "c.b.a.test", "q.a.test", "other.test", "elsewhere.example"]
        let requestPaths = ["/", "/x", "/x/y", "/x/y/z", "/x/abc", "/z/1", "/nothing", "/x/Y"]
        var checked = 0
        for _ in 0..<10 {
            let table = try table(routes: 200, dice: &dice)
            for _ in 0..<200 {
                let host = dice.pick(requestHosts)
                let path = dice.pick(requestPaths)
                let method = dice.pick(["GET", "POST", "PUT"])
                let canary = dice.pick([nil, "1", "2"] as [String?])
                let query: Substring = dice.next(2) == 0 ? "v=1" : ""
                let request = RouteRequest(method: method, query: query, header: { $0 == "x-canary" ? canary : nil })
                let explanation = table.explain(host: host, path: path, request: request)
                let looked = table.match(host: host, path: path, request: request)
                #expect(explanation.route?.name == looked?.name)
                #expect(explanation.rankedFirst == looked?.name, "\(method) \(host ?? "-") \(path) canary \(canary ?? "-") \(query)")
                #expect((explanation.decidedBy == nil) == (looked == nil))
                checked += 1
            }
        }
        #expect(checked == 2000)
    }

    private func decided(_ routes: [RouteDefinition], host: String? = "a.test", path: String = "/x/y", method: String = "GET")
        throws -> (RouteExplanation.Step?, [RouteExplanation.Candidate])
    {
        let table = try RouteTable.build(version: 1, from: RouteSet(routes: routes.map { ($0, .api) }))
        let explanation = table.explain(host: host, path: path, request: RouteRequest(method: method, header: { _ in nil }))
        return (explanation.decidedBy, explanation.candidates)
    }

    private func route(_ name: String, hosts: [HostPattern] = [], path: PathMatch = .prefix("/"), methods: [String]? = nil) -> RouteDefinition {
        RouteDefinition(name: name, hosts: hosts, match: RouteMatch(path: path, methods: methods), action: .respond(StaticResponse(status: 200)))
    }

    @Test func eachStepIsNamed() throws {
        #expect(try decided([route("a")]).0 == .onlyMatch)
        #expect(try decided([route("any"), route("exact", hosts: [.exact("a.test")])]).0 == .exactHost)
        #expect(try decided([route("short", hosts: [.wildcard(suffix: ".test")]), route("long", hosts: [.wildcard(suffix: ".a.test")])], host: "b.a.test").0 == .wildcardSuffix)
        #expect(try decided([route("prefix", path: .prefix("/x/y")), route("exact", path: .exact("/x/y"))]).0 == .pathKind)
        #expect(try decided([route("short", path: .prefix("/x")), route("long", path: .prefix("/x/y"))]).0 == .prefixLength)
        #expect(try decided([route("plain"), route("get", methods: ["GET"])]).0 == .conditions)
        let (step, candidates) = try decided([route("first"), route("second"), route("post", methods: ["POST"])])
        #expect(step == .definitionOrder)
        #expect(candidates.map(\.route) == ["post", "first", "second"])
        #expect(candidates.map(\.matched) == [false, true, true])
        #expect(candidates[1].reason == "chosen")
        #expect(candidates[2].reason == "lost to first by definition_order")
        #expect(try decided([route("x", path: .exact("/other"))]).0 == nil)
    }
}
