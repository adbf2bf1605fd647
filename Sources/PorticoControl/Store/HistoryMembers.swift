import PorticoCore

/// How the stores keep configuration history (SPEC §14) so that a version costs what it
/// changed, not a whole table: each distinct route and upstream document is kept once, by its
/// SHA-256 (``DocumentDigest``), and each of a version's four lists (``HistoryList``) is kept
/// as members, each naming a document and living from the version that put it in its place
/// to the version that took it out. A version that changes one route of 10,000 closes one
/// member and opens one.
///
/// Members are ordered by an ordinal with room between neighbours, so that a definition
/// added, changed or removed in the middle of a list leaves the others as they are.
enum HistoryList: String, CaseIterable, Sendable {
    case snapshotUpstreams = "snapshot.upstreams"
    case snapshotRoutes = "snapshot.routes"
    case apiUpstreams = "api.upstreams"
    case apiRoutes = "api.routes"

    /// The lists of the API-managed part (what a restart loads and a rollback restores).
    static let apiLists: [HistoryList] = [.apiUpstreams, .apiRoutes]
    /// The lists of the whole snapshot (files and API).
    static let snapshotLists: [HistoryList] = [.snapshotUpstreams, .snapshotRoutes]

    /// `upstream` or `route`, as ``StoredConfiguration/appendStored(kind:name:document:)`` takes it.
    var kind: String {
        switch self {
        case .snapshotUpstreams, .apiUpstreams: "upstream"
        case .snapshotRoutes, .apiRoutes: "route"
        }
    }
}

/// One place in one of a version's lists: the document there, by hash.
struct HistoryMember: Hashable, Sendable {
    var list: HistoryList
    var ordinal: Int64
    var hash: String
}

/// What one version holds, as history keeps it: its lists of documents, in order, each
/// with its hash.
public struct HistoryEntry: Sendable {
    private var lists: [HistoryList: (hashes: [String], texts: [String])] = [:]

    init() {}

    /// The entry of a version whose API-managed part is `configuration` and whose whole
    /// table is `snapshot` (``RouteController/document(of:)``).
    init(configuration: StoredConfiguration, snapshot: ConfigValue) throws {
        add(try configuration.upstreams.map { try EncodedDocument($0.configValue) }, to: .apiUpstreams)
        add(try configuration.routes.map { try EncodedDocument($0.configValue) }, to: .apiRoutes)
        for (list, key) in [(HistoryList.snapshotUpstreams, "upstreams"), (.snapshotRoutes, "routes")] {
            guard case .array(let items)? = snapshot.member(key) else { continue }
            add(try items.map(EncodedDocument.init), to: list)
        }
    }

    /// Sets `list` to `encoded`, in order.
    mutating func add(_ encoded: [EncodedDocument], to list: HistoryList) {
        lists[list] = (encoded.map(\.digest), encoded.map(\.text))
    }

    /// How many routes and upstreams the whole snapshot has.
    var counts: (routes: Int, upstreams: Int) { (hashes(in: .snapshotRoutes).count, hashes(in: .snapshotUpstreams).count) }

    /// The hashes of `list`'s documents, in order.
    func hashes(in list: HistoryList) -> [String] { lists[list]?.hashes ?? [] }

    /// The texts of `list`'s documents, in order.
    func texts(in list: HistoryList) -> [String] { lists[list]?.texts ?? [] }
}

/// The members a new version closes (they were open in the version before it) and opens.
struct HistoryMemberChange: Equatable, Sendable {
    var closed: [HistoryMember] = []
    var opened: [HistoryMember] = []
    /// The documents the opened members name, by hash (a store keeps each once).
    var documents: [String: String] = [:]

    /// Room left between neighbours when ordinals are given out afresh.
    static let spacing: Int64 = 1 << 20

    /// What turns the open members (the version before, in any order) into `entry`: in each
    /// list, the members before and after the part that differs stay open; the part between
    /// is closed and the new part opened with ordinals between its neighbours. When no room
    /// is left there, the whole list is given out afresh.
    init(from open: [HistoryMember], to entry: HistoryEntry) {
        let openByList = Dictionary(grouping: open, by: \.list)
        for list in HistoryList.allCases {
            let old = (openByList[list] ?? []).sorted { $0.ordinal < $1.ordinal }
            change(list, from: old, to: entry.hashes(in: list), texts: entry.texts(in: list))
        }
    }

    private mutating func change(_ list: HistoryList, from old: [HistoryMember], to new: [String], texts: [String]) {
        var prefix = 0
        while prefix < old.count, prefix < new.count, old[prefix].hash == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < old.count - prefix, suffix < new.count - prefix,
            old[old.count - 1 - suffix].hash == new[new.count - 1 - suffix]
        {
            suffix += 1
        }
        let inserted = Array(new[prefix..<(new.count - suffix)])
        let lower = prefix > 0 ? old[prefix - 1].ordinal : nil
        let upper = suffix > 0 ? old[old.count - suffix].ordinal : nil
        guard let ordinals = Self.ordinals(count: inserted.count, above: lower, below: upper) else {
            // No room between the neighbours: the list starts again from its first ordinal.
            closed += old
            opened += new.enumerated().map { HistoryMember(list: list, ordinal: Int64($0.offset) * Self.spacing, hash: $0.element) }
            addDocuments(new.indices, of: new, texts: texts)
            return
        }
        closed += old[prefix..<(old.count - suffix)]
        opened += zip(ordinals, inserted).map { HistoryMember(list: list, ordinal: $0, hash: $1) }
        addDocuments(prefix..<(new.count - suffix), of: new, texts: texts)
    }

    private mutating func addDocuments(_ range: Range<Int>, of hashes: [String], texts: [String]) {
        for index in range where index < texts.count { documents[hashes[index]] = texts[index] }
    }

    /// `count` increasing ordinals strictly between `lower` and `upper` (either may be open),
    /// or `nil` when they do not fit (or would overflow).
    static func ordinals(count: Int, above lower: Int64?, below upper: Int64?) -> [Int64]? {
        guard count > 0 else { return [] }
        let n = Int64(count)
        switch (lower, upper) {
        case (nil, nil):
            return (0..<n).map { $0 * spacing }
        case (let lower?, nil):
            guard lower <= Int64.max - (n + 1) * spacing else { return nil }
            return (1...n).map { lower + $0 * spacing }
        case (nil, let upper?):
            guard upper >= Int64.min + (n + 1) * spacing else { return nil }
            return (0..<n).map { upper - (n - $0) * spacing }
        case (let lower?, let upper?):
            let (gap, overflow) = upper.subtractingReportingOverflow(lower)
            guard !overflow else { return nil }
            let step = gap / (n + 1)
            guard step > 0 else { return nil }
            return (1...n).map { lower + $0 * step }
        }
    }
}

/// A version as a store's history holds it.
enum KeptVersion {
    case notKept
    /// Recorded before members: the whole snapshot and API document as text.
    case text(snapshot: String, apiDocument: String?)
    /// Recorded as members: the documents of the lists asked for, in order within each list.
    case members([(list: HistoryList, document: String)])

    /// The snapshot `GET /v1/config?version=` shows (members read with the snapshot lists).
    func snapshot(version: UInt64) throws -> ConfigValue? {
        switch self {
        case .notKept: return nil
        case .text(let snapshot, _): return try ConfigValue.decodeJSON(snapshot)
        case .members(let rows): return try HistoryList.snapshot(version: version, rows: rows)
        }
    }

    /// The API-managed part (members read with the API lists); `nil` for a version recorded
    /// before the store kept it.
    func apiConfiguration(version: UInt64) throws -> StoredConfiguration? {
        switch self {
        case .notKept, .text(_, nil): return nil
        case .text(_, let apiDocument?): return try StoredConfiguration.fromAPIDocument(apiDocument, version: version)
        case .members(let rows): return try HistoryList.apiConfiguration(version: version, rows: rows)
        }
    }
}

extension HistoryList {
    /// A version's snapshot read back from its members' documents (each row: the list and
    /// the document, in ordinal order within a list), as `GET /v1/config?version=` shows it.
    static func snapshot(version: UInt64, rows: [(list: HistoryList, document: String)]) throws -> ConfigValue {
        try ConfigValue.decodeJSON(document(version: version, upstreams: .snapshotUpstreams, routes: .snapshotRoutes, rows: rows))
    }

    /// A version's API-managed part read back from its members' documents, as a store loads it.
    static func apiConfiguration(version: UInt64, rows: [(list: HistoryList, document: String)]) throws -> StoredConfiguration {
        try StoredConfiguration.fromAPIDocument(
            document(version: nil, upstreams: .apiUpstreams, routes: .apiRoutes, rows: rows), version: version)
    }

    /// `{"version":…,"upstreams":[…],"routes":[…]}` joined from the documents as they are
    /// kept, so that it is decoded in one pass (one decoder per document costs a hundred
    /// times more).
    private static func document(
        version: UInt64?, upstreams: HistoryList, routes: HistoryList, rows: [(list: HistoryList, document: String)]
    ) -> String {
        func array(_ list: HistoryList) -> String {
            "[" + rows.lazy.filter { $0.list == list }.map(\.document).joined(separator: ",") + "]"
        }
        let head = version.map { "{\"version\":\($0)," } ?? "{"
        return head + "\"upstreams\":" + array(upstreams) + ",\"routes\":" + array(routes) + "}"
    }
}
