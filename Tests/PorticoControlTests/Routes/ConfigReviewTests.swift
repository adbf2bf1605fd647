import Logging
import PorticoControl
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// SPEC §14's review of a table: routes that can never be chosen, the diff between two
/// documents, and dry runs that change nothing.
@Suite struct ConfigReviewTests {
    private func warnings(_ routes: String) throws -> [String] {
        try TestRoutes.table("upstreams: [{ name: u, endpoints: [\"127.0.0.1:1\"] }]\nroutes:\n" + routes).shadowedRoutes.map {
            "\($0.route) by \($0.by)"
        }
    }

    @Test(arguments: [
        ("- { name: a, upstream: u }\n- { name: b, upstream: u }", ["b by a"]),
        ("- { name: a, hosts: [x.test, y.test], upstream: u }\n- { name: b, hosts: [x.test], upstream: u }", ["b by a"]),
        ("- { name: a, match: { path: { prefix: /api } }, upstream: u }\n- { name: b, match: { path: { prefix: /api/ } }, upstream: u }", ["b by a"]),
        ("- { name: a, match: { path: { exact: /x }, methods: [GET, POST] }, upstream: u }\n- { name: b, match: { path: { exact: /x }, methods: [GET] }, upstream: u }", ["b by a"]),
        ("- { name: a, match: { headers: { x-canary: \"1\" }, query: { v: \"2\" } }, upstream: u }\n- { name: b, match: { query: { v: \"2\" }, headers: { x-canary: \"1\" } }, upstream: u }", ["b by a"]),
        ("- { name: a, match: { path: { regex: \"/i/[0-9]+\" } }, upstream: u }\n- { name: b, match: { path: { regex: \"/i/[0-9]+\" } }, upstream: u }\n- { name: c, match: { path: { regex: \"/i/[0-9]+\" } }, upstream: u }", ["b by a", "c by a"]),
        // Must not warn:
        ("- { name: a, match: { path: { prefix: /api } }, upstream: u }\n- { name: b, match: { path: { prefix: /api/v1 } }, upstream: u }", []),
        ("- { name: a, upstream: u }\n- { name: b, match: { headers: { x-canary: \"1\" } }, upstream: u }", []),
        ("- { name: a, match: { headers: { x-canary: \"1\" } }, upstream: u }\n- { name: b, upstream: u }", []),
        ("- { name: a, match: { methods: [GET] }, upstream: u }\n- { name: b, match: { methods: [POST] }, upstream: u }", []),
        ("- { name: a, match: { methods: [GET] }, upstream: u }\n- { name: b, match: { methods: [GET, POST] }, upstream: u }", []),
        ("- { name: a, upstream: u }\n- { name: b, match: { methods: [GET] }, upstream: u }", []),
        ("- { name: a, hosts: [\"*.test\"], upstream: u }\n- { name: b, hosts: [x.test], upstream: u }", []),
        ("- { name: a, upstream: u }\n- { name: b, hosts: [x.test], upstream: u }", []),
        ("- { name: a, hosts: [x.test], upstream: u }\n- { name: b, upstream: u }", []),
        ("- { name: a, hosts: [x.test], upstream: u }\n- { name: b, hosts: [x.test, y.test], upstream: u }", []),
        ("- { name: a, match: { path: { prefix: /x } }, upstream: u }\n- { name: b, match: { path: { exact: /x } }, upstream: u }", []),
        ("- { name: a, match: { headers: { x-canary: \"1\" } }, upstream: u }\n- { name: b, match: { headers: { x-canary: \"2\" } }, upstream: u }", []),
    ])
    func shadowedRoutes(routes: String, expected: [String]) throws {
        #expect(try warnings(routes) == expected)
    }

    @Test func theShadowedRouteReallyNeverServes() throws {
        // The warning agrees with the data plane's own matching.
        let table = try TestRoutes.table("""
            upstreams: [{ name: u, endpoints: ["127.0.0.1:1"] }]
            routes:
              - { name: a, hosts: [x.test, y.test], match: { path: { prefix: /api }, methods: [GET, POST] }, upstream: u }
              - { name: b, hosts: [x.test], match: { path: { prefix: /api }, methods: [GET] }, upstream: u }
            """)
        #expect(table.shadowedRoutes.map(\.route) == ["b"])
        for path in ["/api", "/api/x", "/api/x/y"] {
            #expect(table.match(method: "GET", host: "x.test", path: path, header: { _ in nil })?.name == "a")
        }
    }

    @Test func diffByName() {
        let old: ConfigValue = [
            "routes": [["name": "a", "upstream": "u", "timeout": "30s"], ["name": "b", "respond": ["status": 200]]],
            "upstreams": [["name": "u", "endpoints": ["127.0.0.1:1"]]],
        ]
        let new: ConfigValue = [
            "routes": [["timeout": "30s", "upstream": "u", "name": "a"], ["name": "c", "respond": ["status": 200]]],
            "upstreams": [["name": "u", "endpoints": ["127.0.0.1:2"]], ["name": "v", "endpoints": ["127.0.0.1:3"]]],
        ]
        let diff = ConfigDiff(from: old, to: new)
        #expect(diff.routes == ConfigDiff.Changes(added: ["c"], removed: ["b"], changed: []))
        #expect(diff.upstreams == ConfigDiff.Changes(added: ["v"], removed: [], changed: ["u"]))
        #expect(ConfigDiff(from: new, to: new).isEmpty)
    }

    @Test func aDryRunReportsAndChangesNothing() async throws {
        let store = MemoryStore()
        let (controller, dataPlane) = try makeController(store: store)
        let first = RouteDefinition(name: "first", action: .respond(StaticResponse(status: 200)))
        try await controller.add(first)
        let version = dataPlane.routeTables.current.version
        let shadowed = RouteDefinition(name: "second", action: .respond(StaticResponse(status: 201)))
        let report = try await controller.add(shadowed, dryRun: true)
        #expect(report.version == version)
        #expect(report.diff.routes == ConfigDiff.Changes(added: ["second"]))
        #expect(report.warnings.map(\.route) == ["second"])
        #expect(dataPlane.routeTables.current.version == version)
        #expect(dataPlane.routeTables.current.route(named: "second") == nil)
        #expect(await store.saved.count == 1)
        // A dry run is refused exactly as the change would be.
        let error = await #expect(throws: ControlPlaneError.self) {
            try await controller.add(RouteDefinition(name: "bad", action: .upstream("missing")), dryRun: true)
        }
        #expect(error?.status == 422)
        await #expect(throws: ControlPlaneError.self) { try await controller.add(first, dryRun: true) }
        #expect(await store.saved.count == 1)
        // The real change reports the same.
        let accepted = try await controller.add(shadowed)
        #expect(accepted.version == version + 1)
        #expect(accepted.warnings.map(\.by) == ["first"])
    }

    @Test func rollbackRestoresTheAPIPartOfAKeptVersion() async throws {
        let store = MemoryStore()
        let files = try TestRoutes.set("routes: [{ name: from-file, match: { path: { prefix: /file } }, respond: { status: 200 } }]")
        let (controller, dataPlane) = try makeController(store: store, files: files)
        func route(_ name: String, _ prefix: String) -> RouteDefinition {
            var route = RouteDefinition(name: name, action: .respond(StaticResponse(status: 200)))
            route.match.path = .prefix(prefix)
            return route
        }
        try await controller.add(route("one", "/one"))
        let kept = dataPlane.routeTables.current.version
        try await controller.add(route("two", "/two"))
        try await controller.delete(RouteDefinition.self, named: "one")
        try await controller.add(route("three", "/three"))
        #expect(dataPlane.routeTables.current.routes.map(\.name) == ["from-file", "two", "three"])

        let dry = try await controller.rollback(to: kept, ifMatch: nil, dryRun: true)
        #expect(dry.diff.routes == ConfigDiff.Changes(added: ["one"], removed: ["two", "three"]))
        #expect(dataPlane.routeTables.current.routes.map(\.name) == ["from-file", "two", "three"])
        let stale = await #expect(throws: ControlPlaneError.self) { try await controller.rollback(to: kept, ifMatch: kept) }
        #expect(stale?.status == 412)
        let report = try await controller.rollback(to: kept, ifMatch: dataPlane.routeTables.current.version)
        #expect(dataPlane.routeTables.current.routes.map(\.name) == ["from-file", "one"])
        #expect(report.version == kept + 4)
        #expect(await store.sources.last == .rollback)
        let missing = await #expect(throws: ControlPlaneError.self) { try await controller.rollback(to: 999, ifMatch: nil) }
        #expect(missing?.status == 404)
    }

    @Test func aRollbackInvalidWithTodaysFilesIs422() async throws {
        let store = MemoryStore()
        let withUpstream = try TestRoutes.set("upstreams: [{ name: file-up, endpoints: [\"127.0.0.1:1\"] }]\nroutes: []")
        let (controller, dataPlane) = try makeController(store: store, files: withUpstream)
        try await controller.add(RouteDefinition(name: "uses-file", action: .upstream("file-up")))
        let kept = dataPlane.routeTables.current.version
        try await controller.delete(RouteDefinition.self, named: "uses-file")
        #expect(await controller.applyFiles(.success(try TestRoutes.set("routes: []"))))
        let error = await #expect(throws: ControlPlaneError.self) { try await controller.rollback(to: kept, ifMatch: nil) }
        #expect(error?.status == 422)
        #expect(error?.problems.contains { $0.message.contains("file-up") } == true)
        #expect(dataPlane.routeTables.current.route(named: "uses-file") == nil)
    }
}
