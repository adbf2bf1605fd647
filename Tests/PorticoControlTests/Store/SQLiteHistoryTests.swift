import Foundation
import Logging
import PorticoCore
import PorticoTestSupport
import SQLiteNIO
import Testing

@testable import PorticoControl

/// The embedded store's history as members (``HistoryMemberChange``): the scenarios both
/// stores run (``StoreHistoryScenarios``), the cost in rows, and a store written before members.
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
