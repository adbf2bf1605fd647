import PorticoControl
import PorticoCore
import Testing

/// What both stores' history must do (issue 16's members layout): each version reads back as
/// saved, a one-route change costs about one document, and versions past the limit go with
/// the documents only they had.
public enum StoreHistoryScenarios {
    public static func route(_ name: String, status: Int = 200) throws -> RouteDefinition {
        try RouteFileDecoder.decodeRoute(["name": .string(name), "respond": ["status": .integer(status)]])
    }

    public static func upstream(_ name: String) throws -> UpstreamDefinition {
        try RouteFileDecoder.decodeUpstream(["name": .string(name), "endpoints": ["127.0.0.1:9"]])
    }

    /// Saves `configuration` as the next version, with a snapshot that also holds `fileRoutes`.
    public static func save(_ configuration: StoredConfiguration, fileRoutes: [RouteDefinition] = [], in store: any StateStore)
        async throws -> ConfigValue
    {
        let snapshot: ConfigValue = [
            "version": .integer(Int(configuration.version)), "upstreams": .array(configuration.upstreams.map(\.configValue)),
            "routes": .array((fileRoutes + configuration.routes).map(\.configValue)),
        ]
        try await store.save(configuration, snapshot: snapshot, source: .api)
        return snapshot
    }

    /// `value` as sorted JSON: a snapshot read back is compared as the admin API writes it.
    public static func json(_ value: ConfigValue?) throws -> String? {
        try value.map { String(decoding: try $0.jsonBytes(sortedKeys: true), as: UTF8.self) }
    }

    /// 200 API routes and an upstream, then twenty one-route changes (added at the end,
    /// changed in the middle, removed): every version reads back as saved. `documents` counts
    /// the documents the store keeps, when the test can see them.
    public static func eachVersionReadsBack(in store: any StateStore, documents: () async throws -> Int?) async throws {
        let files = [try route("from-file")]
        var configuration = StoredConfiguration(
            version: 1, upstreams: [try upstream("app")], routes: try (0..<200).map { try route("r\($0)") })
        var snapshots = [try await save(configuration, fileRoutes: files, in: store)]
        var configurations = [configuration]
        if let count = try await documents() { #expect(count == 202) }
        for step in 0..<20 {
            configuration.version += 1
            switch step % 3 {
            case 0: configuration.routes.append(try route("extra\(step)"))
            case 1: configuration.routes[50] = try route("r50", status: 201 + step)
            default: configuration.routes.remove(at: 100 + step)
            }
            snapshots.append(try await save(configuration, fileRoutes: files, in: store))
            configurations.append(configuration)
        }
        for (index, snapshot) in snapshots.enumerated() {
            let version = UInt64(index + 1)
            #expect(try json(await store.snapshot(version: version)) == json(snapshot), "snapshot of version \(version)")
            #expect(try await store.apiConfiguration(version: version) == configurations[index], "API part of version \(version)")
        }
        #expect(try await store.load() == configuration)
        // Each change added at most one document, not a table.
        if let count = try await documents() { #expect(count <= 202 + 14) }
        #expect(try await store.versions().first?.routes == configuration.routes.count + 1)
    }

    /// Versions past the limit are forgotten, and so are the documents only they had.
    public static func versionsPastTheLimitGo(in store: any StateStore, documents: () async throws -> Int?) async throws {
        var configuration = StoredConfiguration(version: 1, routes: [try route("kept"), try route("gone")])
        _ = try await save(configuration, in: store)
        for version in 2...(SQLiteStateStore.historyLimit + 1) {
            configuration.version = UInt64(version)
            configuration.routes = [try route("kept"), try route("step", status: 200 + version % 2)]
            _ = try await save(configuration, in: store)
        }
        #expect(try await store.snapshot(version: 1) == nil)
        #expect(try await store.versions().count == SQLiteStateStore.historyLimit)
        // "gone" was in version 1 only; "kept" and the two "step" documents remain.
        if let count = try await documents() { #expect(count == 3) }
        #expect(try await store.apiConfiguration(version: 2)?.routes.map(\.name) == ["kept", "step"])
    }
}
