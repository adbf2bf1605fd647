import PorticoCore

/// The API-managed part of the configuration and the last version, as kept in a store.
public struct StoredConfiguration: Hashable, Sendable {
    /// The last version the store recorded (0 for a new store).
    public var version: UInt64
    /// API-managed upstreams in order of creation.
    public var upstreams: [UpstreamDefinition]
    /// API-managed routes in order of creation.
    public var routes: [RouteDefinition]

    public init(version: UInt64 = 0, upstreams: [UpstreamDefinition] = [], routes: [RouteDefinition] = []) {
        self.version = version
        self.upstreams = upstreams
        self.routes = routes
    }
}

/// Where the control plane keeps API-managed routes and upstreams and the version history,
/// so that they survive a restart. SQLite on one machine; PostgreSQL for shared replicas.
public protocol StateStore: Sendable {
    /// Reads what was saved last.
    func load() async throws -> StoredConfiguration
    /// Saves a new version: the API-managed definitions, and for history the whole snapshot
    /// and the API-managed part on its own, both in `history`, and what made it.
    /// `configuration.version` must follow the store's last version by one; when another
    /// writer got there first (a replica sharing the store), throws ``StateStoreError/versionTaken``.
    func save(_ configuration: StoredConfiguration, history: HistoryEntry, source: ChangeSource) async throws
    /// The snapshot of an earlier version, if the history still holds it.
    func snapshot(version: UInt64) async throws -> ConfigValue?
    /// The kept versions, newest first.
    func versions() async throws -> [VersionRecord]
    /// The API-managed definitions at a kept version; `nil` when it is not kept (or was
    /// recorded before the store kept them).
    func apiConfiguration(version: UInt64) async throws -> StoredConfiguration?
    /// Releases the store's resources.
    func close() async
    /// The last version recorded, cheaply (replicas compare it with their own).
    func currentVersion() async throws -> UInt64

    /// Every tenant port allocation.
    func portAllocations() async throws -> [PortAllocation]
    /// Records an allocation; throws ``StateStoreError/portTaken`` when the port or the
    /// tenant and name are recorded already (the store's unique constraints decide), and
    /// ``StateStoreError/quotaReached`` when the tenant holds `quota` ports already.
    func insertPortAllocation(_ allocation: PortAllocation, quota: Int?) async throws
    /// Removes an allocation; `false` when there was none.
    func deletePortAllocation(tenant: String, name: String) async throws -> Bool
    /// Changes an allocation's forwarding target; `false` when there is no such allocation.
    func updatePortTarget(tenant: String, name: String, target: Endpoint) async throws -> Bool

    /// Every tenant and token (SPEC §15).
    func tenantState() async throws -> TenantState
    /// Records a tenant, new or changed.
    func saveTenant(_ tenant: TenantDefinition) async throws
    /// Removes a tenant and its tokens; `false` when there was none.
    func deleteTenant(named name: String) async throws -> Bool
    func insertTenantToken(_ token: TenantToken) async throws
    /// Revokes a token; `false` when the tenant has none of that id.
    func deleteTenantToken(tenant: String, id: String) async throws -> Bool
}

/// What made a version (SPEC §14).
public enum ChangeSource: String, Sendable {
    /// The first table of a start that changed something.
    case start
    /// A routes-folder edit.
    case files
    /// An admin API change.
    case api
    /// `POST /v1/config/rollback`.
    case rollback
}

/// One kept version, as `GET /v1/config/versions` lists it.
public struct VersionRecord: Hashable, Sendable {
    public var version: UInt64
    /// RFC 3339, UTC.
    public var createdAt: String
    /// A ``ChangeSource`` raw value.
    public var source: String
    /// Routes and upstreams of the whole snapshot (files and API).
    public var routes: Int
    public var upstreams: Int

    public init(version: UInt64, createdAt: String, source: String, routes: Int, upstreams: Int) {
        self.version = version
        self.createdAt = createdAt
        self.source = source
        self.routes = routes
        self.upstreams = upstreams
    }

    /// Counts a snapshot document's routes and upstreams (for versions recorded before the
    /// store kept the counts).
    static func counts(of snapshot: ConfigValue) -> (routes: Int, upstreams: Int) {
        func count(_ key: String) -> Int {
            if case .array(let items)? = snapshot.member(key) { return items.count }
            return 0
        }
        return (count("routes"), count("upstreams"))
    }
}

extension StateStore {
    /// Saves a new version whose whole table is `snapshot` (``RouteController/document(of:)``),
    /// encoding every definition (``DefinitionEncoder`` encodes only what changed).
    public func save(_ configuration: StoredConfiguration, snapshot: ConfigValue, source: ChangeSource) async throws {
        try await save(configuration, history: try HistoryEntry(configuration: configuration, snapshot: snapshot), source: source)
    }
}

extension StoredConfiguration {
    /// `{"upstreams": [...], "routes": [...]}`: the API-managed part, as history keeps it.
    var apiDocument: ConfigValue {
        ["upstreams": .array(upstreams.map(\.configValue)), "routes": .array(routes.map(\.configValue))]
    }

    /// Reads ``apiDocument`` back.
    static func fromAPIDocument(_ text: String, version: UInt64) throws -> StoredConfiguration {
        let set = try RouteFileDecoder.decodeDocument(try ConfigValue.decodeJSON(text), file: nil)
        return StoredConfiguration(version: version, upstreams: set.upstreams.map(\.definition), routes: set.routes.map(\.definition))
    }
}

/// Why a store operation failed.
public struct StateStoreError: Error, CustomStringConvertible {
    public var description: String
    /// Set when a unique constraint refused a port allocation.
    public var isConflict = false
    /// Set when another writer recorded the version first.
    public var isVersionTaken = false
    /// Set when the tenant holds its quota of ports already.
    public var isQuotaReached = false

    public init(_ description: String) {
        self.description = description
    }

    /// A port allocation collided with one already recorded.
    public static let portTaken: StateStoreError = {
        var error = StateStoreError("the port or the tenant and name are allocated already")
        error.isConflict = true
        return error
    }()

    /// The tenant holds its quota of ports already (counted in the store, so across replicas).
    public static let quotaReached: StateStoreError = {
        var error = StateStoreError("the tenant holds its quota of ports")
        error.isQuotaReached = true
        return error
    }()

    /// Another writer sharing the store recorded the version first.
    public static let versionTaken: StateStoreError = {
        var error = StateStoreError("another replica recorded a newer version first")
        error.isVersionTaken = true
        return error
    }()
}

/// The tenants a store keeps and their tokens' hashes (SPEC §15).
public struct TenantState: Sendable, Equatable {
    public var tenants: [TenantDefinition] = []
    public var tokens: [TenantToken] = []

    public init(tenants: [TenantDefinition] = [], tokens: [TenantToken] = []) {
        self.tenants = tenants
        self.tokens = tokens
    }
}
