import Foundation
import Logging
import NIOCore
import PorticoCore
import PorticoProxy

/// The one writer of route tables (xDS-style): every change — a routes-folder edit or an
/// admin API call — is validated as a whole, given the next version, recorded in the state
/// store, then published to the data plane, whose retired routes drain. A refused change
/// leaves the active version serving.
public actor RouteController {
    /// A route that a newer snapshot retired while requests still ran on it.
    public struct DrainingRoute: Sendable {
        public let route: CompiledRoute
        public let deadline: Date
    }

    private let dataPlane: DataPlane
    private let store: any StateStore
    private let drainTimeout: Duration
    private let logger: Logger

    private var files: RouteSet
    private var api: StoredConfiguration
    private var draining: [DrainingRoute] = []
    /// The last refused change of the routes folder, shown in `/v1/status`.
    public private(set) var lastError: String?

    /// Builds the first table from the routes folder and the stored API definitions.
    ///
    /// - Throws: ``ConfigurationError`` when the two do not form a valid table.
    public static func initialTable(files: RouteSet, stored: StoredConfiguration) throws(ConfigurationError) -> RouteTable {
        try RouteTable.build(version: stored.version + 1, from: combine(files: files, api: stored))
    }

    /// Takes over from a data plane already serving `initialTable`, made by ``initialTable(files:stored:)``.
    public init(
        dataPlane: DataPlane, store: any StateStore, files: RouteSet, stored: StoredConfiguration, drainTimeout: Duration,
        logger: Logger
    ) {
        self.dataPlane = dataPlane
        self.store = store
        self.files = files
        self.api = stored
        self.api.version = dataPlane.routeTables.current.version
        self.drainTimeout = drainTimeout
        self.logger = logger
    }

    /// The active snapshot.
    public var table: RouteTable { dataPlane.routeTables.current }

    /// Records the first snapshot in the store's history.
    public func recordInitialSnapshot() async throws {
        try await store.save(api, snapshot: Self.document(of: table))
    }

    // MARK: Changes

    /// A new reading of the routes folder: applied whole, or refused whole with `lastError` set.
    @discardableResult
    public func applyFiles(_ result: Result<RouteSet, ConfigurationError>) async -> Bool {
        switch result {
        case .failure(let error):
            refuseFiles(error.problems)
            return false
        case .success(let set):
            guard set != files else { return true }  // nothing changed
            do {
                try await apply(files: set, api: api)
                lastError = nil
                return true
            } catch {
                refuseFiles(error.problems.isEmpty ? [ConfigProblem(path: "", message: error.message)] : error.problems)
                return false
            }
        }
    }

    /// `PUT /v1/config`: replaces every API-managed upstream and route.
    public func replaceAPIConfiguration(
        upstreams: [UpstreamDefinition], routes: [RouteDefinition], ifMatch: UInt64?
    ) async throws(ControlPlaneError) {
        if let ifMatch, ifMatch != table.version {
            throw .stale("If-Match names version \(ifMatch); the active version is \(table.version)")
        }
        for upstream in upstreams {
            try refuseFileDefined(UpstreamDefinition.self, named: upstream.name)
        }
        for route in routes {
            try refuseFileDefined(RouteDefinition.self, named: route.name)
        }
        var next = api
        next.upstreams = upstreams
        next.routes = routes
        try await applyAPI(next)
    }

    /// `POST /v1/routes`, `POST /v1/upstreams`: 409 when the name exists.
    public func add<Definition: APIManagedDefinition>(_ definition: Definition) async throws(ControlPlaneError) {
        try refuseFileDefined(Definition.self, named: definition.name)
        guard !api[keyPath: Definition.apiDefinitions].contains(where: { $0.name == definition.name }) else {
            throw .conflict("\(Definition.kindName) \"\(definition.name)\" already exists")
        }
        var next = api
        next[keyPath: Definition.apiDefinitions].append(definition)
        try await applyAPI(next)
    }

    /// `PUT /v1/routes/{name}`, `PUT /v1/upstreams/{name}`: 404 when the name does not exist.
    public func replace<Definition: APIManagedDefinition>(_ definition: Definition) async throws(ControlPlaneError) {
        try refuseFileDefined(Definition.self, named: definition.name)
        let index = try apiIndex(of: Definition.self, named: definition.name)
        var next = api
        next[keyPath: Definition.apiDefinitions][index] = definition
        try await applyAPI(next)
    }

    /// `DELETE /v1/routes/{name}` (requests running on it drain), `DELETE /v1/upstreams/{name}`.
    public func delete<Definition: APIManagedDefinition>(_ kind: Definition.Type, named name: String) async throws(ControlPlaneError) {
        try refuseFileDefined(kind, named: name)
        let index = try apiIndex(of: kind, named: name)
        try kind.checkDeletion(of: name, in: table)
        var next = api
        next[keyPath: kind.apiDefinitions].remove(at: index)
        try await applyAPI(next)
    }

    private func apiIndex<Definition: APIManagedDefinition>(of kind: Definition.Type, named name: String) throws(ControlPlaneError) -> Int {
        guard let index = api[keyPath: kind.apiDefinitions].firstIndex(where: { $0.name == name }) else {
            throw .notFound("no \(kind.kindName) \"\(name)\"")
        }
        return index
    }

    // MARK: Status

    /// Retired routes with requests still running, with their drain deadlines.
    public func drainingRoutes() -> [DrainingRoute] {
        let now = Date()
        draining.removeAll { $0.route.inFlightRequests <= 0 || $0.deadline < now.addingTimeInterval(-1) }
        return draining
    }

    /// A stored snapshot of an earlier (or the active) version.
    public func snapshot(version: UInt64) async throws -> ConfigValue? {
        if version == table.version { return Self.document(of: table) }
        return try await store.snapshot(version: version)
    }

    /// The active snapshot as `{"version", "upstreams", "routes"}`.
    public static func document(of table: RouteTable) -> ConfigValue {
        [
            "version": .integer(Int(table.version)),
            "upstreams": .array(UpstreamDefinition.all(in: table).map(\.configValue)),
            "routes": .array(RouteDefinition.all(in: table).map(\.configValue)),
        ]
    }

    // MARK: Applying

    private func applyAPI(_ next: StoredConfiguration) async throws(ControlPlaneError) {
        do {
            try await apply(files: files, api: next)
        } catch {
            dataPlane.metrics.configReloadsRejected.increment()
            throw error
        }
    }

    /// Validate and build, record, publish, drain; the order that leaves the active version
    /// serving whenever any step fails.
    private func apply(files newFiles: RouteSet, api newAPI: StoredConfiguration) async throws(ControlPlaneError) {
        let version = table.version + 1
        let newTable: RouteTable
        do {
            newTable = try RouteTable.build(version: version, from: Self.combine(files: newFiles, api: newAPI))
        } catch {
            throw .invalid(error.problems)
        }
        var recorded = newAPI
        recorded.version = version
        do {
            // Recorded before it is published: an API answer of success means the change
            // survives a restart.
            try await store.save(recorded, snapshot: Self.document(of: newTable))
        } catch {
            logger.error("state store refused version \(version): \(error)")
            throw .storeUnavailable("the state store could not record the change: \(error)")
        }
        files = newFiles
        api = recorded
        dataPlane.metrics.configReloadsAccepted.increment()
        let (retired, deadline) = await dataPlane.publish(newTable, drainTimeout: drainTimeout)
        let deadlineDate = Date(timeIntervalSinceNow: Double(deadline.uptimeNanoseconds &- NIODeadline.now().uptimeNanoseconds) / 1e9)
        for route in retired where route.inFlightRequests > 0 {
            draining.append(DrainingRoute(route: route, deadline: deadlineDate))
        }
        logger.info(
            "route table active",
            metadata: [
                "version": "\(version)", "routes": "\(newTable.routes.count)", "upstreams": "\(newTable.upstreams.count)",
                "draining": "\(retired.filter { $0.inFlightRequests > 0 }.map(\.name))",
            ])
    }

    private func refuseFiles(_ problems: [ConfigProblem]) {
        dataPlane.metrics.configReloadsRejected.increment()
        let text = problems.map(\.description).joined(separator: "; ")
        lastError = text
        for problem in problems {
            logger.error("routes folder change refused; the active table stays", metadata: ["problem": "\(problem)"])
        }
    }

    private func refuseFileDefined<Definition: APIManagedDefinition>(_ kind: Definition.Type, named name: String)
        throws(ControlPlaneError)
    {
        if let source = kind.fileSource(of: name, in: files) {
            throw .conflict("\(kind.kindName) \"\(name)\" is defined in \(source.displayName) and is read-only through the API")
        }
    }

    private static func combine(files: RouteSet, api: StoredConfiguration) -> RouteSet {
        var set = files
        set.append(RouteSet(upstreams: api.upstreams.map { ($0, .api) }, routes: api.routes.map { ($0, .api) }))
        return set
    }
}
