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
    func save(_ configuration: StoredConfiguration, snapshot: ConfigValue) async throws
    /// The snapshot of an earlier version, if the history still holds it.
    func snapshot(version: UInt64) async throws -> ConfigValue?
    /// Releases the store's resources.
    func close() async
}

/// Why a store operation failed.
public struct StateStoreError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
