import Foundation
import Logging
import NIOSSL
import PorticoCore
import PostgresNIO
import Synchronization

/// The shared store for several replicas (SPEC §2 `PORTICO_STATE=postgres://…`): API-managed
/// definitions, the version history and the tenant port allocations in one PostgreSQL
/// database.
///
/// The database decides what replicas must agree on: a version is recorded only if it
/// follows the last one (`versionTaken` otherwise), and the unique constraints on the port
/// and on tenant and name decide port allocations. Each recorded version is announced with
/// `NOTIFY portico_config`; ``changes()`` turns those into a stream, and replicas also
/// compare ``currentVersion()`` periodically in case a notification was missed.
public final class PostgresStateStore: StateStore {
    /// How many versions of history are kept.
    public static let historyLimit = SQLiteStateStore.historyLimit
    /// No query waits longer than this: a lost database gives a prompt error, not a hang.
    public static let queryTimeout: Duration = .seconds(3)
    static let notificationChannel = "portico_config"

    let client: PostgresClient
    let logger: Logger
    private let runTask: Task<Void, Never>

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        runTask = Task { await client.run() }
    }

    /// Connects to the database at `url` and creates or migrates its schema.
    ///
    /// `url` is `postgres://user:password@host:port/database`, with `?sslmode=` `disable`,
    /// `prefer` (the default, as libpq: TLS when the server offers it, unverified), `require`
    /// (TLS, unverified) or `verify-full` (TLS, certificate and host name verified).
    public static func open(url: String, logger: Logger) async throws -> PostgresStateStore {
        let configuration = try clientConfiguration(url: url)
        let store = PostgresStateStore(client: PostgresClient(configuration: configuration, backgroundLogger: logger), logger: logger)
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// `location` with the password of a URL replaced by `***`, for logs and errors.
    public static func redacted(_ location: String) -> String {
        guard var url = URLComponents(string: location), url.password != nil else { return location }
        url.password = "***"
        return url.string ?? location
    }

    /// Parses a `postgres://` URL into the client's configuration.
    static func clientConfiguration(url text: String) throws -> PostgresClient.Configuration {
        guard let url = URLComponents(string: text), url.scheme == "postgres" || url.scheme == "postgresql",
            let host = url.host, !host.isEmpty, let user = url.user, !user.isEmpty
        else {
            throw StateStoreError("expected postgres://user:password@host:port/database")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let sslMode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer", "allow":
            var unverified = TLSConfiguration.makeClientConfiguration()
            unverified.certificateVerification = .none
            tls = .prefer(unverified)
        case "require":
            var unverified = TLSConfiguration.makeClientConfiguration()
            unverified.certificateVerification = .none
            tls = .require(unverified)
        case "verify-full", "verify-ca":
            tls = .require(TLSConfiguration.makeClientConfiguration())
        default:
            throw StateStoreError("sslmode must be disable, prefer, require or verify-full, found \"\(sslMode)\"")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: url.port ?? 5432, username: user, password: url.password,
            database: database.isEmpty ? user : database, tls: tls)
        configuration.options.minimumConnections = 1
        configuration.options.maximumConnections = 4
        configuration.options.connectTimeout = .seconds(3)
        return configuration
    }

    /// Versioned migrations, run under an advisory lock so that replicas starting at once
    /// apply each exactly once.
    private static let migrations: [String] = [
        """
        CREATE TABLE portico_state (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL);
        INSERT INTO portico_state (id, version) VALUES (1, 0);
        CREATE TABLE api_definitions (
            kind TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, document TEXT NOT NULL,
            PRIMARY KEY (kind, name));
        CREATE TABLE config_history (version BIGINT PRIMARY KEY, created_at TEXT NOT NULL, snapshot TEXT NOT NULL);
        CREATE TABLE port_allocations (
            tenant TEXT NOT NULL, name TEXT NOT NULL, port INTEGER NOT NULL UNIQUE, target TEXT,
            created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (tenant, name));
        """,
        // SPEC §14: what made a version, its counts, its API-managed part.
        """
        ALTER TABLE config_history ADD COLUMN source TEXT, ADD COLUMN routes INTEGER, ADD COLUMN upstreams INTEGER,
            ADD COLUMN api_document TEXT;
        """,
        // SPEC §15: tenants and their tokens' hashes.
        """
        CREATE TABLE tenants (name TEXT PRIMARY KEY, document TEXT NOT NULL);
        CREATE TABLE tenant_tokens (
            id TEXT PRIMARY KEY, tenant TEXT NOT NULL, hash TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL);
        """,
        // Issue 16: history keeps each distinct document once and versions as members.
        """
        CREATE TABLE config_documents (hash TEXT PRIMARY KEY, document TEXT NOT NULL);
        CREATE TABLE config_members (
            list TEXT NOT NULL, ordinal BIGINT NOT NULL, from_version BIGINT NOT NULL, until_version BIGINT,
            hash TEXT NOT NULL, PRIMARY KEY (list, ordinal, from_version));
        CREATE INDEX config_members_until ON config_members (until_version);
        CREATE INDEX config_members_hash ON config_members (hash);
        ALTER TABLE config_history ADD COLUMN members BOOLEAN;
        """,
    ]

    private func migrate() async throws {
        try await withTimeout { _ in
            try await self.client.withTransaction(logger: self.logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(7428001)", logger: self.logger)
                try await connection.query(
                    "CREATE TABLE IF NOT EXISTS portico_schema_migrations (version INTEGER PRIMARY KEY)", logger: self.logger)
                let applied = try await connection.query(
                    "SELECT COALESCE(MAX(version), 0) FROM portico_schema_migrations", logger: self.logger)
                var current = 0
                for try await version in applied.decode(Int.self) { current = version }
                for (index, migration) in Self.migrations.enumerated() where index + 1 > current {
                    for statement in migration.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                        try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: self.logger)
                    }
                    try await connection.query(
                        "INSERT INTO portico_schema_migrations (version) VALUES (\(index + 1))", logger: self.logger)
                    self.logger.info("state store schema migrated", metadata: ["version": "\(index + 1)"])
                }
            }
        }
    }

    public func currentVersion() async throws -> UInt64 {
        try await withTimeout { _ in
            let rows = try await self.client.query("SELECT version FROM portico_state WHERE id = 1", logger: self.logger)
            var version: Int64 = 0
            for try await value in rows.decode(Int64.self) { version = value }
            return UInt64(clamping: version)
        }
    }

    public func load() async throws -> StoredConfiguration {
        // One snapshot of the database: the version and the definitions it names.
        try await readingOneSnapshot { connection in
            var configuration = StoredConfiguration()
            let version = try await connection.query("SELECT version FROM portico_state WHERE id = 1", logger: self.logger)
            for try await value in version.decode(Int64.self) { configuration.version = UInt64(clamping: value) }
            if case .members(let rows) = try await self.history(
                of: Int64(clamping: configuration.version), lists: HistoryList.apiLists, on: connection)
            {
                return try HistoryList.apiConfiguration(version: configuration.version, rows: rows)
            }
            // A database last written before history kept members.
            let rows = try await connection.query(
                "SELECT kind, name, document FROM api_definitions ORDER BY position", logger: self.logger)
            for try await (kind, name, document) in rows.decode((String, String, String).self) {
                try configuration.appendStored(kind: kind, name: name, document: document)
            }
            return configuration
        }
    }

    /// Runs `body` in a read-only transaction that sees one snapshot of the database.
    private func readingOneSnapshot<Value: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Value
    ) async throws -> Value {
        try await withTimeout { _ in
            try await self.client.withConnection { connection in
                try await connection.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: self.logger)
                do {
                    let value = try await body(connection)
                    try await connection.query("COMMIT", logger: self.logger)
                    return value
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: self.logger)
                    throw error
                }
            }
        }
    }

    public func save(_ configuration: StoredConfiguration, history entry: HistoryEntry, source: ChangeSource) async throws {
        let version = Int64(configuration.version)
        let counts = entry.counts
        let history = HistoryRow(source: source.rawValue, routes: counts.routes, upstreams: counts.upstreams)
        let createdAt = RFC3339.format(secondsSince1970: Date().timeIntervalSince1970)
        do {
            try await withTimeout { deadline in
                try await self.record(entry, version: version, createdAt: createdAt, history: history, deadline: deadline)
            }
        } catch let error as PostgresTransactionError {
            throw (error.closureError as? StateStoreError) ?? error
        }
    }

    private func record(_ entry: HistoryEntry, version: Int64, createdAt: String, history: HistoryRow, deadline: Deadline) async throws {
        try await self.client.withTransaction(logger: self.logger) { connection in
            try deadline.check()
            // The row lock orders writers; the condition refuses a version another replica took.
            let claimed = try await connection.query(
                "UPDATE portico_state SET version = \(version) WHERE id = 1 AND version = \(version - 1) RETURNING version",
                logger: self.logger)
            var won = false
            for try await _ in claimed.decode(Int64.self) { won = true }
            guard won else { throw StateStoreError.versionTaken }
            // Read only by databases written before members (emptied on the first save).
            try await connection.query("DELETE FROM api_definitions", logger: self.logger)
            var open: [HistoryMember] = []
            let rows = try await connection.query(
                "SELECT list, ordinal, hash FROM config_members WHERE until_version IS NULL", logger: self.logger)
            for try await (list, ordinal, hash) in rows.decode((String, Int64, String).self) {
                if let list = HistoryList(rawValue: list) { open.append(HistoryMember(list: list, ordinal: ordinal, hash: hash)) }
            }
            let change = HistoryMemberChange(from: open, to: entry)
            let documents = Array(change.documents)
            if !documents.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO config_documents (hash, document)
                    SELECT * FROM UNNEST(\(documents.map(\.key))::text[], \(documents.map(\.value))::text[])
                    ON CONFLICT (hash) DO NOTHING
                    """, logger: self.logger)
            }
            if !change.closed.isEmpty {
                try await connection.query(
                    """
                    UPDATE config_members SET until_version = \(version)
                    WHERE until_version IS NULL AND (list, ordinal) IN (
                        SELECT * FROM UNNEST(\(change.closed.map(\.list.rawValue))::text[], \(change.closed.map(\.ordinal))::bigint[]))
                    """, logger: self.logger)
            }
            if !change.opened.isEmpty {
                try await connection.query(
                    """
                    INSERT INTO config_members (list, ordinal, from_version, hash)
                    SELECT l, o, \(version), h FROM UNNEST(
                        \(change.opened.map(\.list.rawValue))::text[], \(change.opened.map(\.ordinal))::bigint[],
                        \(change.opened.map(\.hash))::text[]) AS t(l, o, h)
                    """, logger: self.logger)
            }
            try await connection.query(
                """
                INSERT INTO config_history (version, created_at, snapshot, source, routes, upstreams, members)
                VALUES (\(version), \(createdAt), '', \(history.source), \(history.routes), \(history.upstreams), TRUE)
                """, logger: self.logger)
            // Versions before the oldest kept one go, with the members only they had and the
            // documents no member names any more.
            let oldestKept = version - Int64(Self.historyLimit) + 1
            try await connection.query("DELETE FROM config_history WHERE version < \(oldestKept)", logger: self.logger)
            let pruned = try await connection.query(
                "DELETE FROM config_members WHERE until_version <= \(oldestKept) RETURNING 1", logger: self.logger)
            if try await Self.returnsRows(pruned) {
                try await connection.query(
                    """
                    DELETE FROM config_documents d
                    WHERE NOT EXISTS (SELECT 1 FROM config_members m WHERE m.hash = d.hash)
                    """, logger: self.logger)
            }
            try await connection.query(
                "SELECT pg_notify(\(Self.notificationChannel), \(String(version)))", logger: self.logger)
            try deadline.check()
        }
    }

    /// What history keeps of a version besides its members.
    private struct HistoryRow: Sendable {
        let source: String
        let routes: Int
        let upstreams: Int
    }

    /// `version`'s row and, when it is kept as members, the documents of `lists`; run inside
    /// a transaction that reads one snapshot of the database.
    private func history(of version: Int64, lists: [HistoryList], on connection: PostgresConnection) async throws -> KeptVersion {
        let rows = try await connection.query(
            "SELECT snapshot, api_document, COALESCE(members, FALSE) FROM config_history WHERE version = \(version)",
            logger: logger)
        var kept = KeptVersion.notKept
        for try await (snapshot, apiDocument, members) in rows.decode((String, String?, Bool).self) {
            kept = members ? .members([]) : .text(snapshot: snapshot, apiDocument: apiDocument)
        }
        guard case .members = kept else { return kept }
        let documents = try await connection.query(
            """
            SELECT m.list, d.document FROM config_members m JOIN config_documents d ON d.hash = m.hash
            WHERE m.list = ANY(\(lists.map(\.rawValue))) AND m.from_version <= \(version)
                AND (m.until_version IS NULL OR m.until_version > \(version))
            ORDER BY m.list, m.ordinal
            """, logger: logger)
        var found: [(list: HistoryList, document: String)] = []
        for try await (list, document) in documents.decode((String, String).self) {
            if let list = HistoryList(rawValue: list) { found.append((list, document)) }
        }
        return .members(found)
    }

    /// ``history(of:lists:on:)`` in a read-only transaction of its own.
    private func history(of version: Int64, lists: [HistoryList]) async throws -> KeptVersion {
        try await readingOneSnapshot { connection in try await self.history(of: version, lists: lists, on: connection) }
    }

    public func versions() async throws -> [VersionRecord] {
        try await withTimeout { _ in
            let rows = try await self.client.query(
                """
                SELECT version, created_at, COALESCE(source, 'api'), COALESCE(routes, -1), COALESCE(upstreams, -1),
                    CASE WHEN routes IS NULL OR upstreams IS NULL THEN snapshot ELSE '' END
                FROM config_history ORDER BY version DESC LIMIT \(Self.historyLimit)
                """, logger: self.logger)
            var records: [VersionRecord] = []
            for try await (version, createdAt, source, routes, upstreams, snapshot) in rows.decode(
                (Int64, String, String, Int, Int, String).self)
            {
                var counts = (routes: routes, upstreams: upstreams)
                if routes < 0 || upstreams < 0 { counts = VersionRecord.counts(of: try ConfigValue.decodeJSON(snapshot)) }
                records.append(
                    VersionRecord(
                        version: UInt64(clamping: version), createdAt: createdAt, source: source, routes: counts.routes,
                        upstreams: counts.upstreams))
            }
            return records
        }
    }

    public func apiConfiguration(version: UInt64) async throws -> StoredConfiguration? {
        guard let number = Int64(exactly: version) else { return nil }
        return try await history(of: number, lists: HistoryList.apiLists).apiConfiguration(version: version)
    }

    public func snapshot(version: UInt64) async throws -> ConfigValue? {
        // `?version=` of the admin API: a number no version can have is simply not kept.
        guard let number = Int64(exactly: version) else { return nil }
        return try await history(of: number, lists: HistoryList.snapshotLists).snapshot(version: version)
    }

    /// Versions recorded by any replica, as `NOTIFY` announces them; the stream ends with
    /// the calling task. While the database is unreachable it listens again every second.
    public func changes() -> AsyncStream<UInt64> {
        let (stream, continuation) = AsyncStream.makeStream(of: UInt64.self, bufferingPolicy: .bufferingNewest(16))
        let client = self.client
        let logger = self.logger
        let task = Task {
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: Self.notificationChannel) { notifications in
                            for try await notification in notifications {
                                if let version = UInt64(notification.payload) { continuation.yield(version) }
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("listening for state store changes failed; trying again", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(1))
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    public func close() async {
        runTask.cancel()
        _ = await runTask.value
    }

    /// Whether a statement with `RETURNING` changed any row (the rows are read to the end).
    static func returnsRows(_ rows: PostgresRowSequence) async throws -> Bool {
        var any = false
        for try await _ in rows { any = true }
        return any
    }

    /// Runs `operation`, failing with a clear error if it takes longer than ``queryTimeout``.
    /// The caller is answered at the timeout even if the operation is still waiting for a
    /// connection (it is cancelled and left to end on its own); writes check their
    /// ``Deadline`` inside the transaction, so a late one rolls back instead of landing.
    func withTimeout<Result: Sendable>(
        _ operation: @escaping @Sendable (Deadline) async throws -> Result
    ) async throws -> Result {
        let deadline = Deadline(at: .now + Self.queryTimeout)
        let answered = AnswerOnce()
        return try await withCheckedThrowingContinuation { continuation in
            let work = Task {
                let result: Swift.Result<Result, Error>
                do {
                    result = .success(try await operation(deadline))
                } catch {
                    result = .failure(error)
                }
                if answered.claim() { continuation.resume(with: result) }
            }
            Task {
                try? await Task.sleep(until: deadline.instant)
                if answered.claim() {
                    work.cancel()
                    continuation.resume(throwing: StateStoreError("the database did not answer within \(Self.queryTimeout)"))
                }
            }
        }
    }

    /// Lets exactly one of the operation and its timeout answer the caller.
    private final class AnswerOnce: Sendable {
        private let answered = Atomic<Bool>(false)
        func claim() -> Bool { !answered.exchange(true, ordering: .acquiringAndReleasing) }
    }

    /// When an operation's caller stops waiting for it.
    struct Deadline: Sendable {
        let instant: ContinuousClock.Instant

        init(at instant: ContinuousClock.Instant) {
            self.instant = instant
        }

        /// Throws once the caller has been answered with a timeout.
        func check() throws {
            if ContinuousClock.now >= instant { throw StateStoreError("the database answered too late; nothing was changed") }
        }
    }
}
