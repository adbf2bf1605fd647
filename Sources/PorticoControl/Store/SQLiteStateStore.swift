import Foundation
import Logging
import PorticoCore
import SQLiteNIO

/// The embedded store: one SQLite file (`state.sqlite` in the state folder).
///
/// Definitions are kept as JSON documents, the same shape `GET /v1/config` shows, so the
/// decoder that reads route files also reads them back. History keeps each distinct
/// document once and each version as members (``HistoryMembers``); versions recorded before
/// that keep their whole snapshot and API document as text, and are read as they are.
///
/// Every operation runs alone on the one connection, through a ``SerialGate``: a transaction
/// spans several awaited statements, and a statement of another caller slipping in between
/// would become part of it (and be lost with its rollback).
public actor SQLiteStateStore: StateStore {
    /// How many versions of history are kept.
    public static let historyLimit = 100

    private let connection: SQLiteConnection
    private let gate = SerialGate()

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// Opens (creating if needed) the database file at `path`, with its schema.
    public static func open(path: String, logger: Logger) async throws -> SQLiteStateStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        let store = SQLiteStateStore(connection: connection)
        try await store.migrate()
        return store
    }

    private func migrate() async throws {
        for statement in [
            "PRAGMA journal_mode=WAL",
            // Statement journals (every multi-row INSERT has one) in memory rather than temporary
            // files: a PUT of 10,000 new routes took 650–710 ms, and takes 550–600.
            "PRAGMA temp_store=MEMORY",
            """
            CREATE TABLE IF NOT EXISTS api_definitions (
                kind TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, document TEXT NOT NULL,
                PRIMARY KEY (kind, name))
            """,
            """
            CREATE TABLE IF NOT EXISTS port_allocations (
                tenant TEXT NOT NULL, name TEXT NOT NULL, port INTEGER NOT NULL UNIQUE, target TEXT,
                created_at REAL NOT NULL, PRIMARY KEY (tenant, name))
            """,
            "CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY, document TEXT NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS tenant_tokens (
                id TEXT PRIMARY KEY, tenant TEXT NOT NULL, hash TEXT NOT NULL, created_at REAL NOT NULL)
            """,
            """
            CREATE TABLE IF NOT EXISTS config_history (
                version INTEGER PRIMARY KEY, created_at TEXT NOT NULL, snapshot TEXT NOT NULL)
            """,
            "CREATE TABLE IF NOT EXISTS config_documents (hash TEXT PRIMARY KEY, document TEXT NOT NULL)",
            """
            CREATE TABLE IF NOT EXISTS config_members (
                list TEXT NOT NULL, ordinal INTEGER NOT NULL, from_version INTEGER NOT NULL, until_version INTEGER,
                hash TEXT NOT NULL, PRIMARY KEY (list, ordinal, from_version))
            """,
            "CREATE INDEX IF NOT EXISTS config_members_until ON config_members (until_version)",
            "CREATE INDEX IF NOT EXISTS config_members_hash ON config_members (hash)",
        ] {
            _ = try await connection.query(statement)
        }
        // Columns added since the first schema: what made a version, its counts, its API part.
        let columns = try await connection.query("PRAGMA table_info(config_history)").compactMap { $0.column("name")?.string }
        for (name, type) in [
            ("source", "TEXT"), ("routes", "INTEGER"), ("upstreams", "INTEGER"), ("api_document", "TEXT"), ("members", "INTEGER"),
        ]
        where !columns.contains(name) {
            _ = try await connection.query("ALTER TABLE config_history ADD COLUMN \(name) \(type)")
        }
    }

    public func currentVersion() async throws -> UInt64 {
        try await gate.run { try await self.readVersion() }
    }

    /// The last recorded version; the caller holds the gate.
    private func readVersion() async throws -> UInt64 {
        let version = try await connection.query("SELECT MAX(version) AS version FROM config_history")
        return UInt64(clamping: version.first?.column("version")?.integer ?? 0)
    }

    public func load() async throws -> StoredConfiguration {
        try await gate.run {
            var configuration = StoredConfiguration()
            _ = try await self.connection.query("BEGIN")
            do {
                configuration.version = try await self.readVersion()
                if let number = Int(exactly: configuration.version),
                    case .members(let rows) = try await self.history(of: number, lists: HistoryList.apiLists)
                {
                    _ = try await self.connection.query("COMMIT")
                    return try HistoryList.apiConfiguration(version: configuration.version, rows: rows)
                }
                // A store last written before history kept members.
                let rows = try await self.connection.query("SELECT kind, name, document FROM api_definitions ORDER BY position")
                _ = try await self.connection.query("COMMIT")
                for row in rows {
                    guard let kind = row.column("kind")?.string, let text = row.column("document")?.string else { continue }
                    try configuration.appendStored(kind: kind, name: row.column("name")?.string ?? "?", document: text)
                }
            } catch {
                _ = try? await self.connection.query("ROLLBACK")
                throw error
            }
            return configuration
        }
    }

    public func save(_ configuration: StoredConfiguration, history entry: HistoryEntry, source: ChangeSource) async throws {
        let counts = entry.counts
        let version = Int(configuration.version)
        let createdAt = RFC3339.format(secondsSince1970: Date().timeIntervalSince1970)
        try await gate.run {
            // A BEGIN that fails has opened nothing: only a transaction that began is rolled back.
            _ = try await self.connection.query("BEGIN IMMEDIATE")
            do {
                // The version check is part of the transaction that records: of two writers
                // holding the same version, the second finds it taken.
                guard try await self.readVersion() + 1 == configuration.version else { throw StateStoreError.versionTaken }
                let change = HistoryMemberChange(from: try await self.openMembers(), to: entry)
                try await self.record(change, version: version)
                _ = try await self.connection.query(
                    """
                    INSERT INTO config_history (version, created_at, snapshot, source, routes, upstreams, members)
                    VALUES (?, ?, '', ?, ?, ?, 1)
                    """,
                    [.integer(version), .text(createdAt), .text(source.rawValue), .integer(counts.routes), .integer(counts.upstreams)])
                try await self.prune(before: version - Self.historyLimit + 1)
                _ = try await self.connection.query("COMMIT")
            } catch {
                _ = try? await self.connection.query("ROLLBACK")
                throw error
            }
        }
    }

    /// The members of the last recorded version (the caller holds the gate, in a transaction).
    private func openMembers() async throws -> [HistoryMember] {
        try await connection.query("SELECT list, ordinal, hash FROM config_members WHERE until_version IS NULL").compactMap { row in
            guard let list = row.column("list")?.string.flatMap(HistoryList.init(rawValue:)),
                let ordinal = row.column("ordinal")?.integer, let hash = row.column("hash")?.string
            else { return nil }
            return HistoryMember(list: list, ordinal: Int64(ordinal), hash: hash)
        }
    }

    /// Writes `change`: new documents once, closed members ended at `version`, opened ones
    /// begun there; statements carry up to 200 rows each.
    private func record(_ change: HistoryMemberChange, version: Int) async throws {
        // A version that left the API part empty has nothing in api_definitions either; the
        // table is only read for stores written before members (and emptied on the first save).
        _ = try await connection.query("DELETE FROM api_definitions")
        for batch in Array(change.documents).chunks(of: 200) {
            _ = try await connection.query(
                "INSERT OR IGNORE INTO config_documents (hash, document) VALUES "
                    + Array(repeating: "(?, ?)", count: batch.count).joined(separator: ", "),
                batch.flatMap { [SQLiteData.text($0.key), .text($0.value)] })
        }
        // Each closed member is looked up by its place, (list, ordinal), the primary key's
        // prefix. Written as `until_version IS NULL AND (list, ordinal) IN (VALUES …)`, SQLite
        // chose the until_version index and read every open member for every batch: closing
        // all 20,000 members of a 10,000-route table took 1.4 s, and takes 84 ms.
        for batch in change.closed.chunks(of: 200) {
            _ = try await connection.query(
                """
                UPDATE config_members SET until_version = ? WHERE rowid IN (
                    SELECT m.rowid FROM (VALUES \(Array(repeating: "(?, ?)", count: batch.count).joined(separator: ", "))) AS place
                    CROSS JOIN config_members m ON m.list = place.column1 AND m.ordinal = place.column2
                    WHERE m.until_version IS NULL)
                """,
                [.integer(version)] + batch.flatMap { [SQLiteData.text($0.list.rawValue), .integer(Int($0.ordinal))] })
        }
        for batch in change.opened.chunks(of: 200) {
            _ = try await connection.query(
                "INSERT INTO config_members (list, ordinal, from_version, hash) VALUES "
                    + Array(repeating: "(?, ?, ?, ?)", count: batch.count).joined(separator: ", "),
                batch.flatMap {
                    [SQLiteData.text($0.list.rawValue), .integer(Int($0.ordinal)), .integer(version), .text($0.hash)]
                })
        }
    }

    /// Forgets versions before `oldestKept`: their rows, the members no kept version has,
    /// and the documents no member names.
    private func prune(before oldestKept: Int) async throws {
        _ = try await connection.query("DELETE FROM config_history WHERE version < ?", [.integer(oldestKept)])
        _ = try await connection.query("DELETE FROM config_members WHERE until_version <= ?", [.integer(oldestKept)])
        let removed = try await connection.query("SELECT changes() AS removed")
        guard (removed.first?.column("removed")?.integer ?? 0) > 0 else { return }
        _ = try await connection.query(
            """
            DELETE FROM config_documents
            WHERE NOT EXISTS (SELECT 1 FROM config_members WHERE config_members.hash = config_documents.hash)
            """)
    }

    /// `version`'s row and, when it is kept as members, the documents of `lists` (the caller
    /// holds the gate).
    private func history(of version: Int, lists: [HistoryList]) async throws -> KeptVersion {
        let rows = try await connection.query(
            "SELECT snapshot, api_document, members FROM config_history WHERE version = ?", [.integer(version)])
        guard let row = rows.first else { return .notKept }
        guard row.column("members")?.integer == 1 else {
            return .text(snapshot: row.column("snapshot")?.string ?? "", apiDocument: row.column("api_document")?.string)
        }
        return .members(try await memberDocuments(of: lists, at: version))
    }

    /// The documents of `lists` at `version`, in order within each list (the caller holds
    /// the gate).
    private func memberDocuments(of lists: [HistoryList], at version: Int) async throws -> [(list: HistoryList, document: String)] {
        let names = lists.map { SQLiteData.text($0.rawValue) }
        let marks = Array(repeating: "?", count: lists.count).joined(separator: ", ")
        let rows = try await connection.query(
            """
            SELECT m.list, d.document FROM config_members m JOIN config_documents d ON d.hash = m.hash
            WHERE m.list IN (\(marks)) AND m.from_version <= ? AND (m.until_version IS NULL OR m.until_version > ?)
            ORDER BY m.list, m.ordinal
            """, names + [.integer(version), .integer(version)])
        return try rows.map { row in
            guard let list = row.column("list")?.string.flatMap(HistoryList.init(rawValue:)),
                let document = row.column("document")?.string
            else { throw StateStoreError("a history member has no document") }
            return (list, document)
        }
    }

    public func versions() async throws -> [VersionRecord] {
        let rows = try await gate.run {
            try await self.connection.query(
                """
                SELECT version, created_at, source, routes, upstreams,
                    CASE WHEN routes IS NULL OR upstreams IS NULL THEN snapshot END AS snapshot
                FROM config_history ORDER BY version DESC LIMIT ?
                """,
                [.integer(Self.historyLimit)])
        }
        return try rows.map { row in
            var counts = (routes: row.column("routes")?.integer ?? -1, upstreams: row.column("upstreams")?.integer ?? -1)
            if counts.routes < 0 || counts.upstreams < 0 {
                counts = VersionRecord.counts(of: try ConfigValue.decodeJSON(row.column("snapshot")?.string ?? "{}"))
            }
            return VersionRecord(
                version: UInt64(clamping: row.column("version")?.integer ?? 0), createdAt: row.column("created_at")?.string ?? "",
                source: row.column("source")?.string ?? "api", routes: counts.routes, upstreams: counts.upstreams)
        }
    }

    public func apiConfiguration(version: UInt64) async throws -> StoredConfiguration? {
        guard let number = Int(exactly: version) else { return nil }
        return try await gate.run {
            try await self.history(of: number, lists: HistoryList.apiLists).apiConfiguration(version: version)
        }
    }

    public func snapshot(version: UInt64) async throws -> ConfigValue? {
        guard let number = Int(exactly: version) else { return nil }
        return try await gate.run {
            try await self.history(of: number, lists: HistoryList.snapshotLists).snapshot(version: version)
        }
    }

    public func portAllocations() async throws -> [PortAllocation] {
        let rows = try await gate.run {
            try await self.connection.query("SELECT tenant, name, port, target, created_at FROM port_allocations ORDER BY port")
        }
        return rows.compactMap { row in
            guard let tenant = row.column("tenant")?.string, let name = row.column("name")?.string,
                let port = row.column("port")?.integer
            else { return nil }
            return PortAllocation(
                tenant: tenant, name: name, port: port, target: row.column("target")?.string.flatMap { Endpoint(parsing: $0) },
                createdAt: row.column("created_at")?.double ?? 0)
        }
    }

    public func insertPortAllocation(_ allocation: PortAllocation, quota: Int?) async throws {
        do {
            _ = try await gate.run {
                if let quota {
                    let rows = try await self.connection.query(
                        "SELECT COUNT(*) AS held FROM port_allocations WHERE tenant = ?", [.text(allocation.tenant)])
                    if (rows.first?.column("held")?.integer ?? 0) >= quota { throw StateStoreError.quotaReached }
                }
                return try await self.connection.query(
                "INSERT INTO port_allocations (tenant, name, port, target, created_at) VALUES (?, ?, ?, ?, ?)",
                [.text(allocation.tenant), .text(allocation.name), .integer(allocation.port),
                 allocation.target.map { .text($0.description) } ?? .null, .float(allocation.createdAt)])
            }
        } catch let error as SQLiteError where error.reason == .constraint || error.reason == .constraintUniqueFailed
            || error.reason == .constraintPrimaryKeyFailed
        {
            throw StateStoreError.portTaken
        }
    }

    public func deletePortAllocation(tenant: String, name: String) async throws -> Bool {
        let rows = try await gate.run {
            try await self.connection.query(
                "DELETE FROM port_allocations WHERE tenant = ? AND name = ? RETURNING port", [.text(tenant), .text(name)])
        }
        return !rows.isEmpty
    }

    public func updatePortTarget(tenant: String, name: String, target: Endpoint) async throws -> Bool {
        let rows = try await gate.run {
            try await self.connection.query(
                "UPDATE port_allocations SET target = ? WHERE tenant = ? AND name = ? RETURNING port",
                [.text(target.description), .text(tenant), .text(name)])
        }
        return !rows.isEmpty
    }

    public func tenantState() async throws -> TenantState {
        let (tenantRows, tokenRows) = try await gate.run {
            (try await self.connection.query("SELECT name, document FROM tenants ORDER BY name"),
             try await self.connection.query("SELECT id, tenant, hash, created_at FROM tenant_tokens ORDER BY created_at, id"))
        }
        var state = TenantState()
        for row in tenantRows {
            guard let name = row.column("name")?.string, let document = row.column("document")?.string else { continue }
            state.tenants.append(try TenantDefinition.stored(name: name, document: document))
        }
        state.tokens = tokenRows.compactMap { row in
            guard let id = row.column("id")?.string, let tenant = row.column("tenant")?.string, let hash = row.column("hash")?.string
            else { return nil }
            return TenantToken(id: id, tenant: tenant, hash: hash, createdAt: row.column("created_at")?.double ?? 0)
        }
        return state
    }

    public func saveTenant(_ tenant: TenantDefinition) async throws {
        let document = try tenant.configValue.jsonText()
        _ = try await gate.run {
            try await self.connection.query(
                "INSERT INTO tenants (name, document) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET document = excluded.document",
                [.text(tenant.name), .text(document)])
        }
    }

    public func deleteTenant(named name: String) async throws -> Bool {
        try await gate.run {
            _ = try await self.connection.query("DELETE FROM tenant_tokens WHERE tenant = ?", [.text(name)])
            return !(try await self.connection.query("DELETE FROM tenants WHERE name = ? RETURNING name", [.text(name)])).isEmpty
        }
    }

    public func insertTenantToken(_ token: TenantToken) async throws {
        _ = try await gate.run {
            try await self.connection.query(
                "INSERT INTO tenant_tokens (id, tenant, hash, created_at) VALUES (?, ?, ?, ?)",
                [.text(token.id), .text(token.tenant), .text(token.hash), .float(token.createdAt)])
        }
    }

    public func deleteTenantToken(tenant: String, id: String) async throws -> Bool {
        let rows = try await gate.run {
            try await self.connection.query(
                "DELETE FROM tenant_tokens WHERE tenant = ? AND id = ? RETURNING id", [.text(tenant), .text(id)])
        }
        return !rows.isEmpty
    }

    public func close() async {
        await gate.run { try? await self.connection.close() }
    }
}

extension TenantDefinition {
    /// A tenant a store kept as its JSON document.
    static func stored(name: String, document: String) throws -> TenantDefinition {
        do {
            return try decode(name: name, from: try ConfigValue.decodeJSON(document))
        } catch {
            throw StateStoreError("stored tenant \(name) is invalid: \(error)")
        }
    }
}

extension StoredConfiguration {
    /// Adds a definition kept as a JSON document in a store (`kind` is `upstream` or `route`).
    mutating func appendStored(kind: String, name: String, document: String) throws {
        let value = try ConfigValue.decodeJSON(document)
        do {
            switch kind {
            case "upstream": upstreams.append(try RouteFileDecoder.decodeUpstream(value))
            case "route": routes.append(try RouteFileDecoder.decodeRoute(value))
            default: return
            }
        } catch {
            throw StateStoreError("stored \(kind) \(name) is invalid: \(error)")
        }
    }
}

extension ConfigValue {
    /// The value as compact JSON text, as stores keep it.
    func jsonText() throws -> String {
        String(decoding: try jsonBytes(), as: UTF8.self)
    }

    /// Reads JSON text a store kept.
    static func decodeJSON(_ text: String) throws -> ConfigValue {
        try JSONReader.read(text)
    }
}

extension Array {
    /// The array in consecutive slices of at most `size` elements (statements with many rows).
    fileprivate func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
