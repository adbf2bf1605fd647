import PorticoCore

/// A route's or upstream's document as history keeps it: the value, its JSON text and the
/// text's digest (``DocumentDigest``), and the JSON the admin API answers with.
struct EncodedDocument: Sendable {
    var value: ConfigValue
    var text: String
    var digest: String
    /// The value's JSON with each object's keys sorted, as the admin API writes it.
    var answer: [UInt8]

    init(_ value: ConfigValue) throws {
        self.value = value
        self.text = try value.jsonText()
        self.digest = DocumentDigest.of(text)
        self.answer = try value.jsonBytes(sortedKeys: true)
    }
}

/// A table's snapshot document (``RouteController/document(of:)``) and its JSON answer. When
/// ``DefinitionEncoder`` wrote it, the answer is put together from each definition's kept
/// JSON: a `PUT /v1/config` of 10,000 routes with one changed writes one route's JSON for
/// its answer, not 10,000.
struct SnapshotDocument: Sendable {
    let value: ConfigValue
    private let parts: (version: UInt64, upstreams: [EncodedDocument], routes: [EncodedDocument])?

    /// A document written whole: its answer is written whole too.
    init(_ value: ConfigValue) {
        self.value = value
        parts = nil
    }

    fileprivate init(version: UInt64, upstreams: [EncodedDocument], routes: [EncodedDocument]) {
        value = [
            "version": .integer(Int(version)),
            "upstreams": .array(upstreams.map(\.value)),
            "routes": .array(routes.map(\.value)),
        ]
        parts = (version, upstreams, routes)
    }

    /// The bytes of `value.jsonBytes(sortedKeys: true)`, with `warnings` last when given
    /// (the key sorts after the others).
    func json(warnings: ConfigValue? = nil) throws -> [UInt8] {
        guard let parts else {
            guard let warnings, case .object(var pairs) = value else { return try value.jsonBytes(sortedKeys: true) }
            pairs.append(("warnings", warnings))
            return try ConfigValue.object(pairs).jsonBytes(sortedKeys: true)
        }
        var bytes: [UInt8] = []
        let size = { (documents: [EncodedDocument]) in documents.reduce(0) { $0 + $1.answer.count + 1 } }
        bytes.reserveCapacity(64 + size(parts.upstreams) + size(parts.routes))
        func append(_ key: String, _ documents: [EncodedDocument]) {
            bytes.append(contentsOf: #""\#(key)":["#.utf8)
            for (index, document) in documents.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                bytes.append(contentsOf: document.answer)
            }
            bytes.append(UInt8(ascii: "]"))
        }
        bytes.append(UInt8(ascii: "{"))
        append("routes", parts.routes)
        bytes.append(UInt8(ascii: ","))
        append("upstreams", parts.upstreams)
        bytes.append(contentsOf: #","version":"#.utf8)
        TextBytes.appendDecimal(Int(parts.version), to: &bytes)
        if let warnings {
            bytes.append(contentsOf: #","warnings":"#.utf8)
            bytes.append(contentsOf: try warnings.jsonBytes(sortedKeys: true))
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
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
    mutating func encode(_ table: RouteTable, api: StoredConfiguration) throws -> (snapshot: SnapshotDocument, history: HistoryEntry) {
        let tableUpstreams = try upstreams.replace(with: UpstreamDefinition.all(in: table))
        let tableRoutes = try routes.replace(with: RouteDefinition.all(in: table))
        var history = HistoryEntry()
        history.add(try upstreams.encoded(api.upstreams), to: .apiUpstreams)
        history.add(try routes.encoded(api.routes), to: .apiRoutes)
        history.add(tableUpstreams, to: .snapshotUpstreams)
        history.add(tableRoutes, to: .snapshotRoutes)
        return (SnapshotDocument(version: table.version, upstreams: tableUpstreams, routes: tableRoutes), history)
    }
}

/// One kind's definitions with their documents, by name.
private struct EncodedDefinitions<Definition: APIManagedDefinition & Equatable>: Sendable {
    private var byName: [String: KeptDocument<Definition>] = [:]

    /// The documents of `definitions`, in order: kept ones where a definition is unchanged.
    func encoded(_ definitions: [Definition]) throws -> [EncodedDocument] {
        try definitions.map { try kept($0)?.encoded ?? EncodedDocument($0.configValue) }
    }

    /// The documents of `definitions`, which from now on are the ones kept. The kept ones
    /// are gathered afresh, not added to and then filtered: a table of 10,000 new routes
    /// left 20,000 to filter.
    mutating func replace(with definitions: [Definition]) throws -> [EncodedDocument] {
        var next: [String: KeptDocument<Definition>] = [:]
        next.reserveCapacity(definitions.count)
        let documents = try definitions.map { definition in
            let entry = try kept(definition) ?? KeptDocument(definition, try EncodedDocument(definition.configValue))
            next[definition.name] = entry
            return entry.encoded
        }
        byName = next
        return documents
    }

    private func kept(_ definition: Definition) -> KeptDocument<Definition>? {
        guard let known = byName[definition.name], known.definition == definition else { return nil }
        return known
    }
}

/// A definition with its document, in a box: looking one up copies a reference, not every
/// field of the definition (a route's are 360 bytes).
private final class KeptDocument<Definition: Sendable>: Sendable {
    let definition: Definition
    let encoded: EncodedDocument

    init(_ definition: Definition, _ encoded: EncodedDocument) {
        self.definition = definition
        self.encoded = encoded
    }
}
