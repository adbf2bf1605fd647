import Foundation
import Logging
import NIOCore
import PorticoCore
import PorticoProxy

/// The one writer of route tables (xDS-style): every change — a routes-folder edit or an
/// admin API call — is validated as a whole, given the next version, recorded in the state
/// store, then published to the data plane, whose retired routes drain. A refused change
/// leaves the active version serving.
///
/// With a store shared by several replicas, the store decides the order: a change whose
/// version another replica recorded first is tried again on top of that replica's change
/// (``catchUp()`` adopts it), and changes made elsewhere are adopted by ``catchUp()``.
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
    /// Set while ``apply(files:api:)`` waits for the store.
    private var recording = false
    /// The last refused change of the routes folder, shown in `/v1/status`.
    public private(set) var lastError: String?

    /// Builds the first table from the routes folder and the stored API definitions.
    ///
    /// - Throws: ``ConfigurationError`` when the two do not form a valid table.
    ///
    /// - Parameter previous: The table it replaces, if any (its upstreams' runtime state carries over).
    public static func initialTable(
        files: RouteSet, stored: StoredConfiguration, previous: RouteTable? = nil
    ) throws(ConfigurationError) -> RouteTable {
        try RouteTable.build(version: stored.version + 1, from: combine(files: files, api: stored), previous: previous)
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

    /// The last version this controller recorded or adopted from the store.
    public var storeVersion: UInt64 { api.version }

    /// Records the first snapshot in the store's history. When a replica sharing the store
    /// recorded that version meanwhile, adopts its state and records the next one.
    public func recordInitialSnapshot() async throws {
        for _ in 0..<Self.maxAttempts {
            do {
                try await store.save(api, snapshot: Self.document(of: table))
                return
            } catch let error as StateStoreError where error.isVersionTaken {
                let stored = try await store.load()
                let next: RouteTable
                do {
                    next = try Self.initialTable(files: files, stored: stored, previous: table)
                } catch {
                    throw StateStoreError("the shared configuration does not form a valid table with the routes folder: \(error)")
                }
                api = stored
                api.version = next.version
                await publish(next)
            }
        }
        throw StateStoreError.versionTaken
    }

    /// Adopts what another replica recorded in a shared store: its API definitions with this
    /// replica's routes folder, under the store's version. Does nothing when this controller
    /// is up to date; a table that does not validate here is refused and logged. A store
    /// whose version went back (restored from a backup) is adopted too: it is the truth.
    public func catchUp() async {
        // A change of this replica is being recorded: what the store holds now may be that
        // change, which `apply` publishes itself. The next check catches up.
        guard !recording else { return }
        let stored: StoredConfiguration
        do {
            stored = try await store.load()
        } catch {
            logger.warning("cannot read the shared state store; serving version \(table.version)", metadata: ["error": "\(error)"])
            return
        }
        guard stored.version != api.version else { return }
        if stored.version < api.version {
            logger.warning(
                "the shared state store's version went back (restored from a backup?); adopting it",
                metadata: ["from": "\(api.version)", "to": "\(stored.version)"])
        }
        api = stored
        do {
            let next = try RouteTable.build(
                version: stored.version, from: Self.combine(files: files, api: stored), previous: dataPlane.routeTables.current)
            await publish(next)
        } catch {
            refuseFiles(error.problems.isEmpty ? [ConfigProblem(path: "", message: "\(error)")] : error.problems)
        }
    }

    /// How often a change is tried again when replicas sharing the store write at once.
    private static let maxAttempts = 5

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
                try await applyRetryingAfterOtherReplicas { () throws(ControlPlaneError) in (set, self.api) }
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
        try await applyAPI { () throws(ControlPlaneError) in
            for upstream in upstreams {
                try self.refuseFileDefined(UpstreamDefinition.self, named: upstream.name)
            }
            for route in routes {
                try self.refuseFileDefined(RouteDefinition.self, named: route.name)
            }
            var next = self.api
            next.upstreams = upstreams
            next.routes = routes
            return next
        }
    }

    /// `POST /v1/routes`, `POST /v1/upstreams`: 409 when the name exists.
    public func add<Definition: APIManagedDefinition>(_ definition: Definition) async throws(ControlPlaneError) {
        try await applyAPI { () throws(ControlPlaneError) in
            try self.refuseFileDefined(Definition.self, named: definition.name)
            guard !self.api[keyPath: Definition.apiDefinitions].contains(where: { $0.name == definition.name }) else {
                throw .conflict("\(Definition.kindName) \"\(definition.name)\" already exists")
            }
            var next = self.api
            next[keyPath: Definition.apiDefinitions].append(definition)
            return next
        }
    }

    /// `PUT /v1/routes/{name}`, `PUT /v1/upstreams/{name}`: 404 when the name does not exist.
    public func replace<Definition: APIManagedDefinition>(_ definition: Definition) async throws(ControlPlaneError) {
        try await applyAPI { () throws(ControlPlaneError) in
            try self.refuseFileDefined(Definition.self, named: definition.name)
            let index = try self.apiIndex(of: Definition.self, named: definition.name)
            var next = self.api
            next[keyPath: Definition.apiDefinitions][index] = definition
            return next
        }
    }

    /// `DELETE /v1/routes/{name}` (requests running on it drain), `DELETE /v1/upstreams/{name}`.
    public func delete<Definition: APIManagedDefinition>(_ kind: Definition.Type, named name: String) async throws(ControlPlaneError) {
        try await applyAPI { () throws(ControlPlaneError) in
            try self.refuseFileDefined(kind, named: name)
            let index = try self.apiIndex(of: kind, named: name)
            try kind.checkDeletion(of: name, in: self.table)
            var next = self.api
            next[keyPath: kind.apiDefinitions].remove(at: index)
            return next
        }
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

    /// Applies the API definitions `makeNext` computes from the current ones.
    private func applyAPI(_ makeNext: () throws(ControlPlaneError) -> StoredConfiguration) async throws(ControlPlaneError) {
        do {
            try await applyRetryingAfterOtherReplicas { () throws(ControlPlaneError) in (self.files, try makeNext()) }
        } catch {
            dataPlane.metrics.configReloadsRejected.increment()
            throw error
        }
    }

    /// Applies what `makeChange` computes; when a replica sharing the store recorded the
    /// version first, adopts its change and computes this one again on top of it, so that
    /// checks such as "the name exists" see the other replica's change.
    private func applyRetryingAfterOtherReplicas(
        _ makeChange: () throws(ControlPlaneError) -> (files: RouteSet, api: StoredConfiguration)
    ) async throws(ControlPlaneError) {
        for _ in 0..<Self.maxAttempts {
            let change = try makeChange()
            do {
                try await apply(files: change.files, api: change.api)
                return
            } catch {
                switch error {
                case .refused(let error): throw error
                case .versionTaken: await catchUp()
                }
            }
        }
        throw .storeUnavailable("other replicas kept recording newer versions; try again")
    }

    /// Why ``apply(files:api:)`` did not apply a change.
    private enum ApplyFailure: Error {
        case refused(ControlPlaneError)
        /// A replica sharing the store recorded this version first.
        case versionTaken
    }

    /// Validate and build, record, publish, drain; the order that leaves the active version
    /// serving whenever any step fails.
    private func apply(files newFiles: RouteSet, api newAPI: StoredConfiguration) async throws(ApplyFailure) {
        let version = api.version + 1
        let newTable: RouteTable
        do {
            newTable = try RouteTable.build(
                version: version, from: Self.combine(files: newFiles, api: newAPI), previous: dataPlane.routeTables.current)
        } catch {
            throw .refused(.invalid(error.problems))
        }
        var recorded = newAPI
        recorded.version = version
        recording = true
        defer { recording = false }
        do {
            // Recorded before it is published: an API answer of success means the change
            // survives a restart.
            try await store.save(recorded, snapshot: Self.document(of: newTable))
        } catch let error as StateStoreError where error.isVersionTaken {
            logger.info("version \(version) was recorded by another replica first; adopting it", metadata: [:])
            throw .versionTaken
        } catch {
            logger.error("state store refused version \(version): \(error)")
            throw .refused(.storeUnavailable("the state store could not record the change: \(error)"))
        }
        files = newFiles
        api = recorded
        dataPlane.metrics.configReloadsAccepted.increment()
        await publish(newTable)
    }

    /// Publishes a table and keeps track of the routes it retired while requests run on them.
    private func publish(_ newTable: RouteTable) async {
        let (retired, deadline) = await dataPlane.publish(newTable, drainTimeout: drainTimeout)
        let deadlineDate = Date(timeIntervalSinceNow: Double(deadline.uptimeNanoseconds &- NIODeadline.now().uptimeNanoseconds) / 1e9)
        for route in retired where route.inFlightRequests > 0 {
            draining.append(DrainingRoute(route: route, deadline: deadlineDate))
        }
        logger.info(
            "route table active",
            metadata: [
                "version": "\(newTable.version)", "routes": "\(newTable.routes.count)", "upstreams": "\(newTable.upstreams.count)",
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
