import PorticoCore
import Testing

/// A document decoded with the definitions of the one before it (`PUT /v1/config` of a
/// large table) decodes to exactly what a fresh decode gives, and takes only unchanged
/// definitions from there.
@Suite struct DecodedDefinitionsTests {
    private static func route(_ index: Int, status: Int = 200, host: String? = nil) -> ConfigValue {
        var pairs: [(key: String, value: ConfigValue)] = [
            ("match", ["path": ["prefix": .string("/p\(index)")]]), ("name", .string("r\(index)")),
            ("respond", ["status": .integer(status)]),
        ]
        if let host { pairs.insert(("hosts", [.string(host)]), at: 0) }
        return .object(pairs)
    }

    private static func upstream(_ index: Int, port: Int = 9) -> ConfigValue {
        ["endpoints": [.string("127.0.0.1:\(port)")], "name": .string("u\(index)")]
    }

    private static func document(routes: [ConfigValue], upstreams: [ConfigValue] = []) -> ConfigValue {
        ["routes": .array(routes), "upstreams": .array(upstreams)]
    }

    @Test func aChangedRouteIsDecodedAgainAndTheRestAreKept() throws {
        var known = DecodedDefinitions()
        let first = Self.document(routes: (0..<50).map { Self.route($0) }, upstreams: [Self.upstream(0)])
        _ = try RouteFileDecoder.decodeDocument(first, file: nil, reusing: &known)
        #expect(known.count == 51)

        // Same names, another status and host for one route, another port for the upstream:
        // the decode must see the new documents, not the kept definitions under those names.
        var routes = (0..<50).map { Self.route($0) }
        routes[20] = Self.route(20, status: 503, host: "a.example.com")
        let second = Self.document(routes: routes, upstreams: [Self.upstream(0, port: 10)])
        let reused = try RouteFileDecoder.decodeDocument(second, file: nil, reusing: &known)
        #expect(reused == (try RouteFileDecoder.decodeDocument(second, file: nil)))
        #expect(reused.routes[20].definition.hosts.map(\.description) == ["a.example.com"])
        #expect(reused.upstreams[0].definition.endpoints.map(\.port) == [10])
    }

    @Test func aRemovedRouteIsNoLongerKept() throws {
        var known = DecodedDefinitions()
        _ = try RouteFileDecoder.decodeDocument(Self.document(routes: (0..<10).map { Self.route($0) }), file: nil, reusing: &known)
        _ = try RouteFileDecoder.decodeDocument(Self.document(routes: (0..<4).map { Self.route($0) }), file: nil, reusing: &known)
        #expect(known.count == 4)
    }

    @Test func aRefusedDocumentLeavesTheKnownDefinitionsAsTheyWere() throws {
        var known = DecodedDefinitions()
        _ = try RouteFileDecoder.decodeDocument(Self.document(routes: (0..<3).map { Self.route($0) }), file: nil, reusing: &known)
        let bad = Self.document(routes: [Self.route(0), ["name": "broken", "respond": ["status": "nope"]]])
        let error = try #require(throws: ConfigurationError.self) { try RouteFileDecoder.decodeDocument(bad, file: nil, reusing: &known) }
        // The problem is named as a fresh decode names it.
        #expect(error.problems.map(\.path) == ["routes[1].respond.status"])
        #expect(known.count == 3)
    }

    /// 40 rounds of random edits (status, host, a route added, removed or renamed, the
    /// upstream's port): every decode with the known definitions equals a fresh one.
    @Test func randomEditsDecodeAsAFreshDecoderDoes() throws {
        var state: UInt64 = 20261202
        func roll(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var known = DecodedDefinitions()
        var routes = (0..<30).map { Self.route($0) }
        var port = 9
        for _ in 0..<40 {
            for _ in 0..<(1 + roll(3)) {
                let index = roll(routes.count)
                switch roll(5) {
                case 0: routes[index] = Self.route(index, status: 200 + roll(300))
                case 1: routes[index] = Self.route(index, host: "h\(roll(4)).example.com")
                case 2: routes.append(Self.route(100 + roll(50)))
                case 3: if routes.count > 1 { routes.remove(at: index) }
                default: port = 9 + roll(3)
                }
            }
            // Names must stay unique for a table, not for a document: duplicates are kept too.
            let document = Self.document(routes: routes, upstreams: [Self.upstream(0, port: port)])
            let reused = try RouteFileDecoder.decodeDocument(document, file: nil, reusing: &known)
            #expect(reused == (try RouteFileDecoder.decodeDocument(document, file: nil)))
        }
    }
}
