import PorticoCore

/// A route's or upstream's document as history keeps it: the value, its JSON text and the
/// text's digest (``DocumentDigest``).
struct EncodedDocument: Sendable {
    var value: ConfigValue
    var text: String
    var digest: String

    init(_ value: ConfigValue) throws {
        self.value = value
        self.text = try value.jsonText()
        self.digest = DocumentDigest.of(text)
    }
}

/// Encodes tables for the admin API and history, keeping the documents of the last table's
/// definitions by name: a change encodes only the definitions it changed (a `PUT /v1/config`
/// of 10,000 routes with one changed writes one route's JSON, not 10,000).
struct DefinitionEncoder: Sendable {
    private var routes = EncodedDefinitions<RouteDefinition>()
    private var upstreams = EncodedDefinitions<UpstreamDefinition>()

    /// `table`'s snapshot document (``RouteController/document(of:)``) and history entry,
    /// whose API-managed part is `api`. Afterwards the encoder keeps `table`'s definitions.
    mutating func encode(_ table: RouteTable, api: StoredConfiguration) throws -> (snapshot: ConfigValue, history: HistoryEntry) {
        let tableUpstreams = try upstreams.replace(with: UpstreamDefinition.all(in: table))
        let tableRoutes = try routes.replace(with: RouteDefinition.all(in: table))
        var history = HistoryEntry()
        history.add(try upstreams.encoded(api.upstreams), to: .apiUpstreams)
        history.add(try routes.encoded(api.routes), to: .apiRoutes)
        history.add(tableUpstreams, to: .snapshotUpstreams)
        history.add(tableRoutes, to: .snapshotRoutes)
        let snapshot: ConfigValue = [
            "version": .integer(Int(table.version)),
            "upstreams": .array(tableUpstreams.map(\.value)),
            "routes": .array(tableRoutes.map(\.value)),
        ]
        return (snapshot, history)
    }
}

/// One kind's definitions with their documents, by name.
private struct EncodedDefinitions<Definition: APIManagedDefinition & Equatable>: Sendable {
    private var byName: [String: (definition: Definition, encoded: EncodedDocument)] = [:]

    /// The documents of `definitions`, in order: kept ones where a definition is unchanged.
    func encoded(_ definitions: [Definition]) throws -> [EncodedDocument] {
        try definitions.map { try kept($0) ?? EncodedDocument($0.configValue) }
    }

    /// The documents of `definitions`, which from now on are the ones kept. The kept ones
    /// are gathered afresh, not added to and then filtered: a table of 10,000 new routes
    /// left 20,000 to filter.
    mutating func replace(with definitions: [Definition]) throws -> [EncodedDocument] {
        var next: [String: (definition: Definition, encoded: EncodedDocument)] = [:]
        next.reserveCapacity(definitions.count)
        let documents = try definitions.map { definition in
            let document = try kept(definition) ?? EncodedDocument(definition.configValue)
            next[definition.name] = (definition, document)
            return document
        }
        byName = next
        return documents
    }

    private func kept(_ definition: Definition) -> EncodedDocument? {
        guard let known = byName[definition.name], known.definition == definition else { return nil }
        return known.encoded
    }
}
