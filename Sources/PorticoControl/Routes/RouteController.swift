import Foundation
import Logging
import NIOCore
import PorticoCore
import PorticoProxy
import Synchronization

/// The one writer of route tables (xDS-style): every change — a routes-folder edit or an
/// admin API call — is validated as a whole, given the next version, recorded in the state
/// store, then published to the data plane, whose retired routes drain. A refused change
/// leaves the active version serving.
///
/// Changes run one at a time, in the order they arrive, through a ``SerialGate``: the actor
/// alone would let a second change enter while the first awaits the store, and both would
/// compute the same next version.
///
/// With a store shared by several replicas, the store decides the order: a change whose
/// version another replica recorded first is tried again on top of that replica's change
/// (``catchUp()`` adopts it), and changes made elsewhere are adopted by ``catchUp()``.
public actor RouteController {
    private let dataPlane: DataPlane
    private let store: any StateStore
    private let drainTimeout: Duration
    private let logger: Logger

    private var files: RouteSet
    private var api: StoredConfiguration
    /// The store's version when this controller took over.
    private let startVersion: UInt64
    /// Every change, catch-up and first record passes through it, one at a time.
    private let writer = SerialGate()
    /// The last refused change of the routes folder, shown in `/v1/status`.
    public private(set) var lastError: String?
    /// Whose hosts, upstreams and quotas a tenant's routes and upstreams are checked against.
    public nonisolated let tenants: TenantDirectory?
    /// The definitions of the last API document decoded whole (``decodeAPIDocument(_:)``).
    private nonisolated let lastAPIDocument = Mutex(DecodedDefinitions())
    /// The last table's definitions as history keeps them, so that a change encodes only what
    /// it changed.
    private var encoder = DefinitionEncoder()
    /// The active table's snapshot document, once written (``activeDocument()``).
    private var activeSnapshot: (table: RouteTable, document: SnapshotDocument)?
    /// Told of every published table, so that the heap's free pages go back after a change.
    private let heapTrimmer: HeapTrimmer?

    /// Takes over from a data plane already serving `initialTable`, made by
    /// ``initialTable(files:stored:recorded:)``.
    public init(
        dataPlane: DataPlane, store: any StateStore, files: RouteSet, stored: StoredConfiguration, drainTimeout: Duration,
        tenants: TenantDirectory? = nil, heapTrimmer: HeapTrimmer? = nil, logger: Logger
    ) {
        self.tenants = tenants
        self.heapTrimmer = heapTrimmer
        self.dataPlane = dataPlane
        self.store = store
        self.files = files
        self.api = stored
        self.startVersion = stored.version
        self.api.version = dataPlane.routeTables.current.version
        self.drainTimeout = drainTimeout
        self.logger = logger
    }

    /// The active snapshot.
    public var table: RouteTable { dataPlane.routeTables.current }

    /// The active table's version and snapshot document (``document(of:)``), written once
    /// per table.
    func activeDocument() -> (version: UInt64, document: SnapshotDocument) {
        let table = self.table
        if let activeSnapshot, activeSnapshot.table === table { return (table.version, activeSnapshot.document) }
        let document = SnapshotDocument(Self.document(of: table))
        activeSnapshot = (table, document)
        return (table.version, document)
    }

    /// The last version this controller recorded or adopted from the store.
    public var storeVersion: UInt64 { api.version }

    /// Records the first snapshot in the store's history, unless the store holds it already
    /// (``initialTable(files:stored:recorded:)`` kept the store's version). When a
    /// replica sharing the store recorded that version meanwhile, adopts its state and
    /// records the next one.
    public func recordInitialSnapshot() async throws {
        guard table.version > startVersion else { return }
        try await writer.run { try await self.recordInitialSnapshotAlone() }
    }

    private func recordInitialSnapshotAlone() async throws {
        for _ in 0..<Self.maxAttempts {
            do {
                let encoded = try encoder.encode(table, api: api)
                try await store.save(api, history: encoded.history, source: .start)
                activeSnapshot = (table, encoded.snapshot)
                return
            } catch let error as StateStoreError where error.isVersionTaken {
                let stored = try await store.load()
                let next: RouteTable
                do {
                    next = try Self.initialTable(files: files, stored: stored)
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
        await writer.run { await self.adoptStoredState() }
    }

    /// ``catchUp()`` for a caller that holds the writer gate.
    private func adoptStoredState() async {
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
            let next = try RouteTable.build(version: stored.version, from: Self.combine(files: files, api: stored))
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
            refuseFiles(Self.everyProblem(of: error) { decoded in Self.combine(files: decoded, api: self.api) })
            return false
        case .success(let set):
            return await writer.run {
                guard set != files else { return true }  // nothing changed
                do throws(ControlPlaneError) {
                    try await applyRetryingAfterOtherReplicas(source: .files) { () throws(ControlPlaneError) in (set, self.api) }
                    lastError = nil
                    return true
                } catch {
                    refuseFiles(error.problems.isEmpty ? [ConfigProblem(path: "", message: error.message)] : error.problems)
                    return false
                }
            }
        }
    }

    /// Decodes a whole API document (`PUT /v1/config`). The routes and upstreams that were in
    /// the last one decoded are taken from it rather than decoded again, so resending a large
    /// table with one route changed decodes one route.
    public nonisolated func decodeAPIDocument(_ value: ConfigValue) throws(ConfigurationError) -> RouteSet {
        var known = lastAPIDocument.withLock { $0 }
        let set = try RouteFileDecoder.decodeDocument(value, file: nil, reusing: &known)
        lastAPIDocument.withLock { $0 = known }
        return set
    }

    /// The problems of an API document that did not decode (`PUT /v1/config`) together with
    /// those the table it would make with the routes folder shows.
    public func everyProblem(ofAPIDocument error: ConfigurationError) -> [ConfigProblem] {
        Self.everyProblem(of: error) { decoded in
            var set = self.files
            set.append(decoded)
            return set
        }
    }

    /// `PUT /v1/config`: replaces every API-managed upstream and route.
    ///
    /// - Parameter ifMatch: The version the caller last saw (`If-Match`); 412 unless it is
    ///   still the active one when the change is recorded.
    @discardableResult
    public func replaceAPIConfiguration(
        upstreams: [UpstreamDefinition], routes: [RouteDefinition], ifMatch: UInt64?, dryRun: Bool = false
    ) async throws(ControlPlaneError) -> ChangeReport {
        try await applyAPI(ifMatch: ifMatch, dryRun: dryRun, inCollection: false) { () throws(ControlPlaneError) in
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
    @discardableResult
    public func add<Definition: APIManagedDefinition>(_ definition: Definition, dryRun: Bool = false)
        async throws(ControlPlaneError) -> ChangeReport
    {
        try await applyAPI(ifMatch: nil, dryRun: dryRun) { () throws(ControlPlaneError) in
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
    @discardableResult
    public func replace<Definition: APIManagedDefinition>(_ definition: Definition, ifMatch: UInt64? = nil, dryRun: Bool = false)
        async throws(ControlPlaneError) -> ChangeReport
    {
        try await applyAPI(ifMatch: ifMatch, dryRun: dryRun) { () throws(ControlPlaneError) in
            try self.refuseFileDefined(Definition.self, named: definition.name)
            let index = try self.apiIndex(of: Definition.self, named: definition.name)
            var next = self.api
            next[keyPath: Definition.apiDefinitions][index] = definition
            return next
        }
    }

    /// `DELETE /v1/routes/{name}` (requests running on it drain), `DELETE /v1/upstreams/{name}`.
    @discardableResult
    public func delete<Definition: APIManagedDefinition>(
        _ kind: Definition.Type, named name: String, ifMatch: UInt64? = nil, dryRun: Bool = false
    ) async throws(ControlPlaneError) -> ChangeReport {
        try await applyAPI(ifMatch: ifMatch, dryRun: dryRun) { () throws(ControlPlaneError) in
            try self.refuseFileDefined(kind, named: name)
            let index = try self.apiIndex(of: kind, named: name)
            try kind.checkDeletion(of: name, in: self.table)
            var next = self.api
            next[keyPath: kind.apiDefinitions].remove(at: index)
            return next
        }
    }

    /// `POST /v1/config/rollback`: the API-managed routes and upstreams become what they were
    /// at `version` (file-defined ones stay as the files say now), as a new version. 404 when
    /// the version is not kept, 409 when a name it would restore is now defined in a file,
    /// 422 when the result is invalid with today's files.
    @discardableResult
    public func rollback(to version: UInt64, ifMatch: UInt64?, dryRun: Bool = false) async throws(ControlPlaneError)
        -> ChangeReport
    {
        let kept: StoredConfiguration?
        do {
            kept = try await store.apiConfiguration(version: version)
        } catch {
            throw .storeUnavailable("the state store could not read version \(version): \(error)")
        }
        guard let kept else { throw .notFound("version \(version) is not in the history") }
        return try await applyAPI(ifMatch: ifMatch, dryRun: dryRun, source: .rollback, inCollection: false) { () throws(ControlPlaneError) in
            for upstream in kept.upstreams { try self.refuseFileDefined(UpstreamDefinition.self, named: upstream.name) }
            for route in kept.routes { try self.refuseFileDefined(RouteDefinition.self, named: route.name) }
            var next = self.api
            next.upstreams = kept.upstreams
            next.routes = kept.routes
            return next
        }
    }

    /// `POST /v1/explain`: the data plane's answer for a request on the active table.
    public nonisolated func explain(method: String, url: String, headers: [(String, String)]) throws(ControlPlaneError)
        -> ExplainedRequest
    {
        switch dataPlane.explain(method: method, url: url, headers: headers) {
        case .success(let answer): return answer
        case .failure(let error): throw .malformed(error.description)
        }
    }

    /// The kept versions, newest first (`GET /v1/config/versions`).
    public func versions() async throws(ControlPlaneError) -> [VersionRecord] {
        do {
            return try await store.versions()
        } catch {
            throw .storeUnavailable("the state store could not list the versions: \(error)")
        }
    }

    private func apiIndex<Definition: APIManagedDefinition>(of kind: Definition.Type, named name: String) throws(ControlPlaneError) -> Int {
        guard let index = api[keyPath: kind.apiDefinitions].firstIndex(where: { $0.name == name }) else {
            throw .notFound("no \(kind.kindName) \"\(name)\"")
        }
        return index
    }

    // MARK: Status

    /// What still runs on the routes this controller's changes retired.
    public nonisolated var drains: DrainTracker { dataPlane.drains }

    /// A stored snapshot of an earlier (or the active) version.
    public func snapshot(version: UInt64) async throws -> ConfigValue? {
        if version == table.version { return activeDocument().document.value }
        return try await store.snapshot(version: version)
    }

    // MARK: Applying

    /// Applies the API definitions `makeNext` computes from the current ones.
    ///
    /// The `If-Match` precondition is checked inside the writer gate, against the version the
    /// change is about to follow, and again on every retry after another replica's change;
    /// the store records the change only if that version is still its last one. So of
    /// several writers holding the same version, exactly one succeeds.
    ///
    /// A dry run validates and checks exactly as a change does, then reports what it would
    /// do and changes nothing (version, store, traffic).
    /// `inCollection`: the change is of one route or upstream, so a tenant rule's problem
    /// names the field alone (``TenantRules``).
    private func applyAPI(
        ifMatch: UInt64?, dryRun: Bool, source: ChangeSource = .api, inCollection: Bool = true,
        _ makeNext: () throws(ControlPlaneError) -> StoredConfiguration
    ) async throws(ControlPlaneError) -> ChangeReport {
        try await writer.run { () async throws(ControlPlaneError) -> ChangeReport in
            do throws(ControlPlaneError) {
                return try await applyRetryingAfterOtherReplicas(source: source, dryRun: dryRun) { () throws(ControlPlaneError) in
                    if let ifMatch, ifMatch != self.api.version {
                        throw .stale("If-Match names version \(ifMatch); the active version is \(self.api.version)")
                    }
                    let next = try makeNext()
                    if let tenants = self.tenants {
                        try TenantRules.check(current: self.api, next: next, tenants: tenants.tenants, inCollection: inCollection)
                    }
                    return (self.files, next)
                }
            } catch {
                if !dryRun { dataPlane.metrics.configReloadsRejected.increment() }
                throw error
            }
        }
    }

    /// Applies what `makeChange` computes; when a replica sharing the store recorded the
    /// version first, adopts its change and computes this one again on top of it, so that
    /// checks such as "the name exists" see the other replica's change.
    @discardableResult
    private func applyRetryingAfterOtherReplicas(
        source: ChangeSource, dryRun: Bool = false,
        _ makeChange: () throws(ControlPlaneError) -> (files: RouteSet, api: StoredConfiguration)
    ) async throws(ControlPlaneError) -> ChangeReport {
        for _ in 0..<Self.maxAttempts {
            let change = try makeChange()
            do {
                return try await apply(files: change.files, api: change.api, source: source, dryRun: dryRun)
            } catch {
                switch error {
                case .refused(let error): throw error
                case .versionTaken: await adoptStoredState()
                }
            }
        }
        throw .storeUnavailable("other replicas kept recording newer versions; try again")
    }

    /// Why ``apply(files:api:source:dryRun:)`` did not apply a change.
    private enum ApplyFailure: Error {
        case refused(ControlPlaneError)
        /// A replica sharing the store recorded this version first.
        case versionTaken
    }

    /// Validate and build, record, publish, drain; the order that leaves the active version
    /// serving whenever any step fails.
    private func apply(files newFiles: RouteSet, api newAPI: StoredConfiguration, source: ChangeSource, dryRun: Bool)
        async throws(ApplyFailure) -> ChangeReport
    {
        let version = api.version + 1
        let newTable: RouteTable
        do {
            newTable = try RouteTable.build(version: version, from: Self.combine(files: newFiles, api: newAPI))
        } catch {
            throw .refused(.invalid(error.problems))
        }
        var recorded = newAPI
        recorded.version = version
        let encoded: (snapshot: SnapshotDocument, history: HistoryEntry)
        do {
            encoded = try encoder.encode(newTable, api: recorded)
        } catch {
            throw .refused(.storeUnavailable("the change could not be written for the state store: \(error)"))
        }
        let report = ChangeReport(
            version: dryRun ? table.version : version,
            diff: ConfigDiff(from: activeDocument().document.value, to: encoded.snapshot.value), warnings: newTable.shadowedRoutes)
        if dryRun { return report }
        do {
            // Recorded before it is published: an API answer of success means the change
            // survives a restart.
            try await store.save(recorded, history: encoded.history, source: source)
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
        activeSnapshot = (newTable, encoded.snapshot)
        for warning in report.warnings {
            logger.warning("route can never be chosen", metadata: ["route": "\(warning.route)", "by": "\(warning.by)"])
        }
        return report
    }

    /// Publishes a table; the data plane drains what it retires.
    private func publish(_ newTable: RouteTable) async {
        await dataPlane.publish(newTable, drainTimeout: drainTimeout)
        heapTrimmer?.changed()
        logger.info(
            "route table active",
            metadata: [
                "version": "\(newTable.version)", "routes": "\(newTable.routes.count)", "upstreams": "\(newTable.upstreams.count)",
                "draining": "\(dataPlane.drains.drainingRoutes().map(\.route))",
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
}

/// What a change did, or would do in a dry run (SPEC §14).
public struct ChangeReport: Sendable {
    /// The version the change made (the active one, for a dry run).
    public var version: UInt64
    public var diff: ConfigDiff
    /// The new table's shadowed routes.
    public var warnings: [RouteWarning]
}
