import Foundation
import Logging
import PorticoCore
import PorticoTestSupport
import SQLiteNIO
import Testing

@testable import PorticoControl

/// History as members (``HistoryMemberChange``) in both stores: what each version reads back
/// as, what a one-route change costs, what pruning leaves, and stores written before members.
enum StoreHistoryScenarios {
    static func route(_ name: String, status: Int = 200) throws -> RouteDefinition {
        try RouteFileDecoder.decodeRoute(["name": .string(name), "respond": ["status": .integer(status)]])
    }

    static func upstream(_ name: String) throws -> UpstreamDefinition {
        try RouteFileDecoder.decodeUpstream(["name": .string(name), "endpoints": ["127.0.0.1:9"]])
    }

    /// Saves `configuration` as the next version, with a snapshot that also holds `fileRoutes`.
    static func save(_ configuration: StoredConfiguration, fileRoutes: [RouteDefinition] = [], in store: any StateStore)
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
    static func json(_ value: ConfigValue?) throws -> String? {
        try value.map { String(decoding: try $0.jsonBytes(sortedKeys: true), as: UTF8.self) }
    }

    /// 200 API routes and an upstream, then twenty one-route changes (added at the end,
    /// changed in the middle, removed): every version reads back as saved. `documents` counts
    /// the documents the store keeps, when the test can see them.
    static func eachVersionReadsBack(in store: any StateStore, documents: () async throws -> Int?) async throws {
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
    static func versionsPastTheLimitGo(in store: any StateStore, documents: () async throws -> Int?) async throws {
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

@Suite struct SQLiteHistoryTests {
    private let path = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString).sqlite").path
    private let logger = Logger(label: "test")

    /// Rows in `table`, read beside the store (WAL lets a second connection read).
    private func count(_ table: String) async throws -> Int {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let rows = try await connection.query("SELECT COUNT(*) AS n FROM \(table)")
        try await connection.close()
        return rows.first?.column("n")?.integer ?? -1
    }

    @Test func eachVersionReadsBackAndAOneRouteChangeCostsOneDocument() async throws {
        let store = try await SQLiteStateStore.open(path: path, logger: logger)
        try await StoreHistoryScenarios.eachVersionReadsBack(in: store) { try await count("config_documents") }
        // Members too: two lists of 202, and a few per change.
        #expect(try await count("config_members") <= 2 * 202 + 1 + 20 * 2)
        await store.close()
    }

    @Test func versionsPastTheLimitGoWithTheDocumentsOnlyTheyHad() async throws {
        let store = try await SQLiteStateStore.open(path: path, logger: logger)
        try await StoreHistoryScenarios.versionsPastTheLimitGo(in: store) { try await count("config_documents") }
        await store.close()
    }

    @Test func aStoreWrittenBeforeMembersIsReadAndThenContinued() async throws {
        // Version 1 as the store wrote it before: whole texts, and the API part in api_definitions.
        let legacy = try await SQLiteStateStore.open(path: path, logger: logger)
        await legacy.close()
        let old = StoredConfiguration(version: 1, routes: [try StoreHistoryScenarios.route("old")])
        let oldSnapshot: ConfigValue = ["version": 1, "upstreams": [], "routes": [old.routes[0].configValue]]
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        _ = try await connection.query(
            "INSERT INTO api_definitions (kind, name, position, document) VALUES ('route', 'old', 0, ?)",
            [.text(try old.routes[0].configValue.jsonText())])
        _ = try await connection.query(
            """
            INSERT INTO config_history (version, created_at, snapshot, source, routes, upstreams, api_document)
            VALUES (1, '2026-01-01T00:00:00Z', ?, 'api', 1, 0, ?)
            """, [.text(try oldSnapshot.jsonText()), .text(try old.apiDocument.jsonText())])
        try await connection.close()

        let store = try await SQLiteStateStore.open(path: path, logger: logger)
        #expect(try await store.load() == old)
        var next = old
        next.version = 2
        next.routes.append(try StoreHistoryScenarios.route("new"))
        let newSnapshot = try await StoreHistoryScenarios.save(next, in: store)
        #expect(try StoreHistoryScenarios.json(await store.snapshot(version: 1)) == StoreHistoryScenarios.json(oldSnapshot))
        #expect(try await store.apiConfiguration(version: 1) == old)
        #expect(try StoreHistoryScenarios.json(await store.snapshot(version: 2)) == StoreHistoryScenarios.json(newSnapshot))
        #expect(try await store.load() == next)
        #expect(try await count("api_definitions") == 0)
        await store.close()
    }
}

@Suite(.serialized, .enabled(if: TestPostgres.shouldRun, "needs a PostgreSQL server (Debian's postgresql)"))
struct PostgresHistoryTests {
    /// Runs `body` on a store in a throwaway database of its own.
    private func withStore(_ body: (PostgresStateStore) async throws -> Void) async throws {
        let database = try await TestPostgres.start()
        do {
            let store = try await PostgresStateStore.open(url: database.url, logger: Logger(label: "test"))
            try await body(store)
            await store.close()
        } catch {
            await database.destroy()
            throw error
        }
        await database.destroy()
    }

    @Test func everyVersionReadsBackAndVersionsPastTheLimitGo() async throws {
        try await withStore { try await StoreHistoryScenarios.eachVersionReadsBack(in: $0) { nil } }
        // A fresh database for the limit (the versions above are numbered from 1).
        try await withStore { try await StoreHistoryScenarios.versionsPastTheLimitGo(in: $0) { nil } }
    }
}
