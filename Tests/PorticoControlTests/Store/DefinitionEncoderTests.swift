import PorticoTestSupport
import Testing

@testable import PorticoControl
@testable import PorticoCore

/// The encoder that keeps the last table's documents writes, for every table, exactly the
/// snapshot `RouteController.document(of:)` writes and the history entry a store would
/// encode from scratch.
@Suite struct DefinitionEncoderTests {
    private func route(_ name: String, status: Int = 200, upstream: String? = nil) throws -> RouteDefinition {
        var document: ConfigValue = ["name": .string(name), "match": ["path": ["prefix": .string("/\(name)")]]]
        if case .object(var pairs) = document {
            pairs.append(upstream.map { ("upstream", .string($0)) } ?? ("respond", ["status": .integer(status)]))
            document = .object(pairs)
        }
        return try RouteFileDecoder.decodeRoute(document)
    }

    private func expectSameEncoding(
        _ encoder: inout DefinitionEncoder, files: [RouteDefinition], api: StoredConfiguration, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let set = RouteController.combine(files: RouteSet(routes: files.map { ($0, .file("f.yaml")) }), api: api)
        let table = try RouteTable.build(version: api.version, from: set)
        let encoded = try encoder.encode(table, api: api)
        let snapshot = RouteController.document(of: table)
        #expect(encoded.snapshot.value == snapshot, sourceLocation: sourceLocation)
        // The answer put together from kept documents is the one written whole, warnings
        // added as the admin API adds them.
        let warning = RouteWarning(route: "r1", code: "shadowed", by: "r0", message: "never chosen")
        #expect(try encoded.snapshot.json() == snapshot.jsonBytes(sortedKeys: true), sourceLocation: sourceLocation)
        #expect(
            try encoded.snapshot.json(warnings: AdminAPI.warningsValue([warning]))
                == AdminAPI.adding([warning], to: snapshot).jsonBytes(sortedKeys: true),
            sourceLocation: sourceLocation)
        #expect(
            try SnapshotDocument(snapshot).json(warnings: AdminAPI.warningsValue([warning]))
                == AdminAPI.adding([warning], to: snapshot).jsonBytes(sortedKeys: true),
            sourceLocation: sourceLocation)
        let fresh = try HistoryEntry(configuration: api, snapshot: snapshot)
        for list in HistoryList.allCases {
            #expect(encoded.history.hashes(in: list) == fresh.hashes(in: list), "\(list)", sourceLocation: sourceLocation)
            #expect(encoded.history.texts(in: list) == fresh.texts(in: list), "\(list)", sourceLocation: sourceLocation)
        }
        #expect(encoded.history.counts == (routes: files.count + api.routes.count, upstreams: api.upstreams.count), sourceLocation: sourceLocation)
    }

    @Test func everyTableIsEncodedAsFromScratch() throws {
        var encoder = DefinitionEncoder()
        let files = [try route("from-file")]
        var api = StoredConfiguration(
            version: 1, upstreams: [try StoreHistoryScenarios.upstream("app")], routes: try (0..<20).map { try route("r\($0)") })
        try expectSameEncoding(&encoder, files: files, api: api)

        // A route changed under the same name: its new document, not the kept one.
        api.version = 2
        api.routes[7] = try route("r7", status: 503)
        try expectSameEncoding(&encoder, files: files, api: api)

        // Removed, renamed, added, and an upstream changed under its name.
        api.version = 3
        api.routes.remove(at: 3)
        api.routes[0] = try route("renamed")
        api.routes.append(try route("new", upstream: "app"))
        api.upstreams[0] = try RouteFileDecoder.decodeUpstream(["name": "app", "endpoints": ["127.0.0.1:10"]])
        try expectSameEncoding(&encoder, files: files, api: api)

        // Back to the first table, and to an empty one.
        api = StoredConfiguration(
            version: 4, upstreams: [try StoreHistoryScenarios.upstream("app")], routes: try (0..<20).map { try route("r\($0)") })
        try expectSameEncoding(&encoder, files: files, api: api)
        try expectSameEncoding(&encoder, files: [], api: StoredConfiguration(version: 5))
    }
}
