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
    /// Saves a new version: the API-managed definitions, and the whole snapshot for history.
    /// `configuration.version` must follow the store's last version by one; when another
    /// writer got there first (a replica sharing the store), throws ``StateStoreError/versionTaken``.
    func save(_ configuration: StoredConfiguration, snapshot: ConfigValue) async throws
    /// The snapshot of an earlier version, if the history still holds it.
    func snapshot(version: UInt64) async throws -> ConfigValue?
    /// Releases the store's resources.
    func close() async
    /// The last version recorded, cheaply (replicas compare it with their own).
    func currentVersion() async throws -> UInt64

    /// Every tenant port allocation.
    func portAllocations() async throws -> [PortAllocation]
    /// Records an allocation; throws ``StateStoreError/portTaken`` when the port or the
    /// tenant and name are recorded already (the store's unique constraints decide).
    func insertPortAllocation(_ allocation: PortAllocation) async throws
    /// Removes an allocation; `false` when there was none.
    func deletePortAllocation(tenant: String, name: String) async throws -> Bool
}

/// Why a store operation failed.
public struct StateStoreError: Error, CustomStringConvertible {
    public var description: String
    /// Set when a unique constraint refused a port allocation.
    public var isConflict = false
    /// Set when another writer recorded the version first.
    public var isVersionTaken = false

    public init(_ description: String) {
        self.description = description
    }

    /// A port allocation collided with one already recorded.
    public static let portTaken: StateStoreError = {
        var error = StateStoreError("the port or the tenant and name are allocated already")
        error.isConflict = true
        return error
    }()

    /// Another writer sharing the store recorded the version first.
    public static let versionTaken: StateStoreError = {
        var error = StateStoreError("another replica recorded a newer version first")
        error.isVersionTaken = true
        return error
    }()
}
