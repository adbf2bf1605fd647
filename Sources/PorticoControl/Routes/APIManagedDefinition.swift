import PorticoCore

/// Routes and upstreams: the two kinds of definition the admin API adds, replaces and
/// deletes one at a time, with the same rules (unique names, file-defined ones read-only).
public protocol APIManagedDefinition: Sendable {
    /// `route` or `upstream`, for messages.
    static var kindName: String { get }
    /// The path segment of the collection under `/v1/` (`routes`, `upstreams`).
    static var collectionName: String { get }
    /// Where the API-managed ones are kept.
    static var apiDefinitions: WritableKeyPath<StoredConfiguration, [Self]> { get }
    /// The file that defines `name`, if a file does.
    static func fileSource(of name: String, in files: RouteSet) -> DefinitionSource?
    /// Every definition of this kind in the active table, in order.
    static func all(in table: RouteTable) -> [Self]
    /// Refuses a deletion that would break the table in a way worth a clearer error than 422.
    static func checkDeletion(of name: String, in table: RouteTable) throws(ControlPlaneError)
    /// Reads one definition from an API body.
    static func decode(_ value: ConfigValue) throws(ConfigurationError) -> Self

    var name: String { get }
    /// The tenant it belongs to (SPEC §15); `nil`: the operator's.
    var tenant: String? { get set }
    var configValue: ConfigValue { get }
}

extension RouteDefinition: APIManagedDefinition {
    public static var kindName: String { "route" }
    public static var collectionName: String { "routes" }
    public static var apiDefinitions: WritableKeyPath<StoredConfiguration, [RouteDefinition]> { \.routes }

    public static func fileSource(of name: String, in files: RouteSet) -> DefinitionSource? {
        files.routes.first { $0.definition.name == name }?.source
    }

    public static func all(in table: RouteTable) -> [RouteDefinition] {
        table.routes.map(\.definition)
    }

    public static func checkDeletion(of name: String, in table: RouteTable) throws(ControlPlaneError) {}

    public static func decode(_ value: ConfigValue) throws(ConfigurationError) -> RouteDefinition {
        try RouteFileDecoder.decodeRoute(value)
    }
}

extension UpstreamDefinition: APIManagedDefinition {
    public static var kindName: String { "upstream" }
    public static var collectionName: String { "upstreams" }
    public static var apiDefinitions: WritableKeyPath<StoredConfiguration, [UpstreamDefinition]> { \.upstreams }

    public static func fileSource(of name: String, in files: RouteSet) -> DefinitionSource? {
        files.upstreams.first { $0.definition.name == name }?.source
    }

    public static func all(in table: RouteTable) -> [UpstreamDefinition] {
        table.upstreamOrder.compactMap { table.upstreams[$0]?.definition }
    }

    /// An upstream still in use cannot go (409 naming the routes).
    public static func checkDeletion(of name: String, in table: RouteTable) throws(ControlPlaneError) {
        let users = table.routes.filter { $0.definition.action.upstreamNames.contains(name) }.map(\.name)
        guard users.isEmpty else {
            throw .conflict("upstream \"\(name)\" is used by route\(users.count == 1 ? "" : "s") \(users.joined(separator: ", "))")
        }
    }

    public static func decode(_ value: ConfigValue) throws(ConfigurationError) -> UpstreamDefinition {
        try RouteFileDecoder.decodeUpstream(value)
    }
}
