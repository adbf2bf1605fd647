import Logging
import PorticoControl
import PorticoCore
import PorticoProxy
import Synchronization
import Testing

/// A store kept in memory, which can be told to fail, and written by "another replica".
actor MemoryStore: StateStore {
    var saved: [StoredConfiguration] = []
    var failing = false

    func setFailing(_ value: Bool) { failing = value }

    func load() async throws -> StoredConfiguration { saved.last ?? StoredConfiguration() }
    func currentVersion() async throws -> UInt64 { saved.last?.version ?? 0 }

    private(set) var sources: [ChangeSource] = []

    func save(_ configuration: StoredConfiguration, history: HistoryEntry, source: ChangeSource) async throws {
        if failing { throw StateStoreError("disk full") }
        guard configuration.version > (saved.last?.version ?? 0) else { throw StateStoreError.versionTaken }
        saved.append(configuration)
        sources.append(source)
    }

    /// What another replica sharing the store records: `change` applied to the last state.
    func recordFromAnotherReplica(_ change: (inout StoredConfiguration) -> Void) {
        var next = saved.last ?? StoredConfiguration()
        next.version += 1
        change(&next)
        saved.append(next)
    }

    func snapshot(version: UInt64) async throws -> ConfigValue? { nil }
    func versions() async throws -> [VersionRecord] {
        zip(saved, sources).reversed().map { VersionRecord(version: $0.version, createdAt: "", source: $1.rawValue, routes: 0, upstreams: 0) }
    }
    func apiConfiguration(version: UInt64) async throws -> StoredConfiguration? { saved.first { $0.version == version } }
    func close() async {}
    func portAllocations() async throws -> [PortAllocation] { [] }
    func insertPortAllocation(_ allocation: PortAllocation, quota: Int?) async throws {}
    func deletePortAllocation(tenant: String, name: String) async throws -> Bool { false }
    func updatePortTarget(tenant: String, name: String, target: Endpoint) async throws -> Bool { false }
    func tenantState() async throws -> TenantState { TenantState() }
    func saveTenant(_ tenant: TenantDefinition) async throws {}
    func deleteTenant(named name: String) async throws -> Bool { false }
    func insertTenantToken(_ token: TenantToken) async throws {}
    func deleteTenantToken(tenant: String, id: String) async throws -> Bool { false }
}

func makeController(store: MemoryStore, files: RouteSet = RouteSet()) throws -> (RouteController, DataPlane) {
    let stored = StoredConfiguration()
    let table = try RouteController.initialTable(files: files, stored: stored)
    let dataPlane = DataPlane(initialTable: table, logger: Logger(label: "test"))
    let controller = RouteController(
        dataPlane: dataPlane, store: store, files: files, stored: stored, drainTimeout: .seconds(1),
        logger: Logger(label: "test"))
    return (controller, dataPlane)
}

private let respondRoute = RouteDefinition(name: "r", action: .respond(StaticResponse(status: 200)))

@Suite struct RouteControllerTests {
    @Test func everyAcceptedChangeGetsTheNextVersion() async throws {
        let store = MemoryStore()
        let (controller, dataPlane) = try makeController(store: store)
        #expect(dataPlane.routeTables.current.version == 1)
        try await controller.add(respondRoute)
        #expect(dataPlane.routeTables.current.version == 2)
        try await controller.delete(RouteDefinition.self, named: "r")
        #expect(dataPlane.routeTables.current.version == 3)
        #expect(await store.saved.map(\.version) == [2, 3])
    }

    /// Nothing the controller or the data plane keeps (the encoder's documents, the route
    /// counters, the drains) holds on to a table once a later one replaced it.
    @Test func aReplacedTableIsFreed() async throws {
        let (controller, dataPlane) = try makeController(store: MemoryStore())
        let routes = (0..<50).map { RouteDefinition(name: "r\($0)", action: .respond(StaticResponse(status: 200))) }
        weak var first: RouteTable?
        weak var firstRoute: CompiledRoute?
        for round in 0..<6 {
            var changed = routes
            changed[0] = RouteDefinition(name: "r0", action: .respond(StaticResponse(status: 200 + round % 2)))
            try await controller.replaceAPIConfiguration(upstreams: [], routes: changed, ifMatch: nil)
            if round == 0 {
                first = dataPlane.routeTables.current
                firstRoute = dataPlane.routeTables.current.routes.last
            }
        }
        #expect(first == nil)
        #expect(firstRoute == nil)
    }

    @Test func aStoreFailureLeavesTheActiveTableAnd503() async throws {
        let store = MemoryStore()
        let (controller, dataPlane) = try makeController(store: store)
        await store.setFailing(true)
        let error = await #expect(throws: ControlPlaneError.self) { try await controller.add(respondRoute) }
        #expect(error?.status == 503)
        #expect(dataPlane.routeTables.current.version == 1)
        #expect(dataPlane.routeTables.current.routes.isEmpty)
    }

    @Test func anInvalidChangeIs422WithEveryProblem() async throws {
        let (controller, dataPlane) = try makeController(store: MemoryStore())
        let error = await #expect(throws: ControlPlaneError.self) {
            try await controller.replaceAPIConfiguration(
                upstreams: [],
                routes: [
                    RouteDefinition(name: "a", action: .upstream("missing")),
                    RouteDefinition(name: "b", action: .upstream("gone")),
                ], ifMatch: nil)
        }
        #expect(error?.status == 422)
        #expect(error?.problems.count == 2)
        #expect(dataPlane.routeTables.current.version == 1)
    }

    @Test func aBrokenFolderReadingSetsLastErrorAndKeepsTheTable() async throws {
        let (controller, dataPlane) = try makeController(store: MemoryStore())
        let broken = ConfigurationError(problems: [ConfigProblem(file: "routes/a.yaml", path: "routes[0].name", message: "required")])
        #expect(await controller.applyFiles(.failure(broken)) == false)
        #expect(await controller.lastError == "routes/a.yaml: routes[0].name: required")
        #expect(dataPlane.routeTables.current.version == 1)
        let fixed = RouteSet(routes: [(respondRoute, .file("routes/a.yaml"))])
        #expect(await controller.applyFiles(.success(fixed)))
        #expect(await controller.lastError == nil)
        #expect(dataPlane.routeTables.current.version == 2)
        // The same reading again is no change.
        #expect(await controller.applyFiles(.success(fixed)))
        #expect(dataPlane.routeTables.current.version == 2)
    }

    @Test func staleIfMatchIs412() async throws {
        let (controller, _) = try makeController(store: MemoryStore())
        let error = await #expect(throws: ControlPlaneError.self) {
            try await controller.replaceAPIConfiguration(upstreams: [], routes: [], ifMatch: 7)
        }
        #expect(error?.status == 412)
        try await controller.replaceAPIConfiguration(upstreams: [], routes: [respondRoute], ifMatch: 1)
    }
}

@Suite struct RouteRetirementTests {
    @Test func anUpstreamABackendOfARouteUsesCannotBeDeleted() throws {
        let upstreams = ["a", "b"].map { (UpstreamDefinition(name: $0, endpoints: [Endpoint(host: "127.0.0.1", port: 1)]), DefinitionSource.api) }
        let split = RouteDefinition(
            name: "split", action: .backends([WeightedBackend(upstream: "a", weight: 1), WeightedBackend(upstream: "b", weight: 0)]))
        let table = try RouteTable.build(version: 1, from: RouteSet(upstreams: upstreams, routes: [(split, .api)]))
        for name in ["a", "b"] {
            #expect(throws: ControlPlaneError.self) { try UpstreamDefinition.checkDeletion(of: name, in: table) }
        }
    }

    @Test func onlyRemovedOrChangedRoutesRetire() throws {
        func table(_ routes: [RouteDefinition], upstreamPorts: [Int] = [1], healthCheck: Bool = false) throws -> RouteTable {
            var upstream = UpstreamDefinition(name: "u", endpoints: upstreamPorts.map { Endpoint(host: "127.0.0.1", port: $0) })
            if healthCheck { upstream.healthCheck = HealthCheckDefinition(path: "/health", interval: .seconds(1)) }
            return try RouteTable.build(
                version: 1, from: RouteSet(upstreams: [(upstream, .api)], routes: routes.map { ($0, .api) }))
        }
        let same = RouteDefinition(name: "same", action: .respond(StaticResponse(status: 200)))
        let proxy = RouteDefinition(name: "proxy", action: .upstream("u"))
        let old = try table([same, proxy, RouteDefinition(name: "gone", action: .respond(StaticResponse(status: 200)))])
        let oldProxy = try #require(old.route(named: "proxy"))
        let one = Endpoint(host: "127.0.0.1", port: 1)
        var changed = same
        changed.timeout = .seconds(5)
        #expect(old.retirement(by: try table([same, proxy])).routes.map(\.name) == ["gone"])
        #expect(Set(old.retirement(by: try table([changed, proxy])).routes.map(\.name)) == ["same", "gone"])

        // An endpoint added, or a health check tuned: the route routes the same way, and its
        // requests run on whatever endpoint they have.
        for newer in [try table([same, proxy], upstreamPorts: [1, 2]), try table([same, proxy], healthCheck: true)] {
            let retirement = old.retirement(by: newer)
            #expect(retirement.routes.map(\.name) == ["gone"])
            #expect(!retirement.retires(oldProxy, endpoint: one))
            #expect(!retirement.retires(oldProxy, endpoint: nil))
        }
        // An endpoint removed: only the requests sent to it drain.
        let removed = old.retirement(by: try table([same, proxy], upstreamPorts: [2]))
        #expect(removed.routes.map(\.name) == ["gone"])
        #expect(removed.retires(oldProxy, endpoint: one))
        #expect(!removed.retires(oldProxy, endpoint: Endpoint(host: "127.0.0.1", port: 2)))
        #expect(!removed.retires(oldProxy, endpoint: nil))

        // Work that began two tables ago is judged by its own definition, not by the route
        // object of the table being replaced.
        let middle = try table([same, proxy], upstreamPorts: [1, 2])
        let last = try table([same, proxy], upstreamPorts: [2])
        #expect(middle.retirement(by: last).retires(oldProxy, endpoint: one))
        #expect(!middle.retirement(by: last).retires(oldProxy, endpoint: Endpoint(host: "127.0.0.1", port: 2)))
        #expect(try middle.retirement(by: table([changed, proxy], upstreamPorts: [1, 2])).retires(try #require(old.route(named: "same")), endpoint: nil))
        #expect(middle.retirement(by: middle).isEmpty)
    }

    @Test func aChangeWhoseVersionAnotherReplicaTookIsAppliedOnTopOfTheOtherChange() async throws {
        let store = MemoryStore()
        let (controller, dataPlane) = try makeController(store: store)
        try await controller.recordInitialSnapshot()
        await store.recordFromAnotherReplica { $0.routes.append(RouteDefinition(name: "theirs", action: .respond(StaticResponse(status: 201)))) }
        // This replica has not seen version 2 yet: its change of version 2 is refused by the
        // store, then it adopts version 2 and records its change as version 3.
        try await controller.add(RouteDefinition(name: "mine", action: .respond(StaticResponse(status: 200))))
        let table = dataPlane.routeTables.current
        #expect(table.version == 3)
        #expect(table.routes.map(\.name).sorted() == ["mine", "theirs"])
        #expect(await store.saved.last?.routes.map(\.name) == ["theirs", "mine"])
        // A check that depends on the other replica's change sees it.
        await #expect(throws: ControlPlaneError.self) {
            try await controller.add(RouteDefinition(name: "theirs", action: .respond(StaticResponse(status: 200))))
        }
    }

    @Test func catchUpAdoptsANewerSharedVersionUnderItsNumber() async throws {
        let store = MemoryStore()
        let (controller, dataPlane) = try makeController(store: store)
        try await controller.recordInitialSnapshot()
        await store.recordFromAnotherReplica { $0.routes.append(RouteDefinition(name: "a", action: .respond(StaticResponse(status: 200)))) }
        await store.recordFromAnotherReplica { $0.routes.append(RouteDefinition(name: "b", action: .respond(StaticResponse(status: 200)))) }
        await controller.catchUp()
        #expect(dataPlane.routeTables.current.version == 3)
        #expect(dataPlane.routeTables.current.routes.map(\.name).sorted() == ["a", "b"])
        #expect(await controller.storeVersion == 3)
        await controller.catchUp()  // nothing newer: no new table
        #expect(dataPlane.routeTables.current.version == 3)
    }
}
