import PorticoCore

/// Building tables and documents from definitions: pure, shared by the controller, the
/// gateway's start and `portico validate`.
extension RouteController {
    /// Builds the first table from the routes folder and the stored API definitions.
    ///
    /// When the result is the snapshot the store recorded last (`recorded`: the routes folder
    /// is as it was then), it keeps that version: a restart, or a rolling update of many
    /// replicas sharing one store, changes nothing and so records nothing. Otherwise it is the
    /// next version, which ``recordInitialSnapshot()`` records.
    ///
    /// - Throws: ``ConfigurationError`` when the two do not form a valid table.
    ///
    /// - Parameters:
    ///   - recorded: The store's snapshot of `stored.version`, if it has one.
    public static func initialTable(
        files: RouteSet, stored: StoredConfiguration, recorded: ConfigValue? = nil
    ) throws(ConfigurationError) -> RouteTable {
        let set = combine(files: files, api: stored)
        let next = try RouteTable.build(version: stored.version + 1, from: set)
        if stored.version > 0, let recorded, sameDefinitions(recorded, document(of: next)) {
            return try RouteTable.build(version: stored.version, from: set)
        }
        return next
    }

    /// Whether two snapshot documents hold the same upstreams and routes, whatever their
    /// versions and key order (a store keeps documents as JSON, which sorts keys).
    fileprivate static func sameDefinitions(_ lhs: ConfigValue, _ rhs: ConfigValue) -> Bool {
        func definitions(_ document: ConfigValue) -> ConfigValue? {
            guard case .object(let pairs) = document,
                let text = try? ConfigValue.object(pairs.filter { $0.key != "version" }).jsonText()
            else { return nil }
            return try? ConfigValue.decodeJSON(text)
        }
        guard let lhs = definitions(lhs) else { return false }
        return lhs == definitions(rhs)
    }

    /// A refused document's own problems, then those that only the table it belongs to shows
    /// (`table` puts what did decode together with the rest of the configuration), so a
    /// change is refused with every problem at once (SPEC §5).
    public static func everyProblem(of error: ConfigurationError, table: (RouteSet) -> RouteSet) -> [ConfigProblem] {
        guard let decoded = error.decoded else { return error.problems }
        var problems = error.problems
        for problem in RouteTable.problems(in: table(decoded)) where !problems.contains(problem) {
            problems.append(problem)
        }
        return problems
    }

    /// The active snapshot as `{"version", "upstreams", "routes"}`.
    public static func document(of table: RouteTable) -> ConfigValue {
        [
            "version": .integer(Int(table.version)),
            "upstreams": .array(UpstreamDefinition.all(in: table).map(\.configValue)),
            "routes": .array(RouteDefinition.all(in: table).map(\.configValue)),
        ]
    }

    /// The routes folder's set followed by the API definitions: what a table is built from.
    public static func combine(files: RouteSet, api: StoredConfiguration) -> RouteSet {
        var set = files
        set.append(RouteSet(upstreams: api.upstreams.map { ($0, .api) }, routes: api.routes.map { ($0, .api) }))
        return set
    }
}
