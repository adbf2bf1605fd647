import PorticoCore
import PorticoTestSupport
import Testing

@testable import PorticoControl

@Suite struct HistoryMembersTests {
    /// An entry whose API part and snapshot hold the routes `r<id>` of `ids`, in order.
    private func entry(_ ids: [Int]) throws -> HistoryEntry {
        let routes = try ids.map { id in
            try RouteFileDecoder.decodeRoute(["name": .string("r\(id)"), "respond": ["status": .integer(200 + id % 300)]])
        }
        let configuration = StoredConfiguration(routes: routes)
        return try HistoryEntry(
            configuration: configuration, snapshot: ["version": 1, "upstreams": [], "routes": .array(routes.map(\.configValue))])
    }

    /// Members kept as the stores keep them, with the version each lives from and until.
    private struct Table {
        var rows: [(member: HistoryMember, from: Int, until: Int?)] = []

        var open: [HistoryMember] { rows.filter { $0.until == nil }.map(\.member) }

        mutating func apply(_ change: HistoryMemberChange, version: Int) {
            for closed in change.closed {
                let index = rows.firstIndex { $0.until == nil && $0.member == closed }!
                rows[index].until = version
            }
            rows += change.opened.map { ($0, version, nil) }
        }

        func hashes(of list: HistoryList, at version: Int) -> [String] {
            rows.filter { $0.member.list == list && $0.from <= version && ($0.until.map { $0 > version } ?? true) }
                .sorted { $0.member.ordinal < $1.member.ordinal }.map(\.member.hash)
        }
    }

    @Test func theFirstVersionOpensEveryDocumentOnceWithRoomBetween() throws {
        let first = try entry([0, 1, 2])
        let change = HistoryMemberChange(from: [], to: first)
        #expect(change.closed.isEmpty)
        // Three routes, each in the API part and in the snapshot; one document each.
        #expect(change.opened.count == 6)
        #expect(change.documents.count == 3)
        let ordinals = change.opened.filter { $0.list == .apiRoutes }.map(\.ordinal)
        #expect(ordinals == [0, HistoryMemberChange.spacing, 2 * HistoryMemberChange.spacing])
    }

    @Test func aChangeToOneRouteClosesOneMemberAndOpensOneInItsPlace() throws {
        var table = Table()
        let ids = Array(0..<1000)
        table.apply(HistoryMemberChange(from: [], to: try entry(ids)), version: 1)
        var changed = ids
        changed[500] = 5000
        let change = HistoryMemberChange(from: table.open, to: try entry(changed))
        // One per list the route is in (the API part and the snapshot), and one new document.
        #expect(change.closed.count == 2)
        #expect(change.opened.count == 2)
        #expect(change.documents.count == 1)
        table.apply(change, version: 2)
        let neighbours = table.open.filter { $0.list == .apiRoutes }.sorted { $0.ordinal < $1.ordinal }
        #expect(neighbours.count == 1000)
        #expect(neighbours[500].hash == (try entry(changed)).hashes(in: .apiRoutes)[500])
    }

    @Test func addingAtTheEndAndRemovingInTheMiddleTouchOnlyThatRoute() throws {
        var table = Table()
        table.apply(HistoryMemberChange(from: [], to: try entry([0, 1, 2])), version: 1)
        let appended = HistoryMemberChange(from: table.open, to: try entry([0, 1, 2, 3]))
        #expect(appended.closed.isEmpty)
        #expect(appended.opened.count == 2)
        table.apply(appended, version: 2)
        let removed = HistoryMemberChange(from: table.open, to: try entry([0, 2, 3]))
        #expect(removed.closed.map(\.hash) == Array(repeating: try entry([1]).hashes(in: .apiRoutes)[0], count: 2))
        #expect(removed.opened.isEmpty)
    }

    @Test func whenNoRoomIsLeftTheListIsGivenOutAfresh() {
        #expect(HistoryMemberChange.ordinals(count: 1, above: 5, below: 6) == nil)
        #expect(HistoryMemberChange.ordinals(count: 2, above: 0, below: 9) == [3, 6])
        #expect(HistoryMemberChange.ordinals(count: 1, above: .max - 1, below: nil) == nil)
        #expect(HistoryMemberChange.ordinals(count: 1, above: nil, below: .min + 1) == nil)
        #expect(HistoryMemberChange.ordinals(count: 1, above: .min, below: .max) == nil)  // the gap overflows
    }

    /// Random edits (change, insert, remove, anywhere), 300 versions: each version reads back
    /// exactly as recorded, from members that stay few.
    @Test func everyVersionOfARandomHistoryReadsBackAsRecorded() throws {
        var generator = SeededRandom(seed: 0x5EED)
        var table = Table()
        var ids = Array(0..<50)
        var recorded: [[String]] = []
        for version in 1...300 {
            let position = Int(generator.next() % UInt64(ids.count + 1))
            switch generator.next() % 3 {
            case 0 where position < ids.count: ids[position] = 50 + Int(generator.next() % 10_000)
            case 1 where position < ids.count && ids.count > 1: ids.remove(at: position)
            default: ids.insert(50 + Int(generator.next() % 10_000), at: position)
            }
            let next = try entry(ids)
            table.apply(HistoryMemberChange(from: table.open, to: next), version: version)
            recorded.append(next.hashes(in: .snapshotRoutes))
        }
        for (index, hashes) in recorded.enumerated() {
            #expect(table.hashes(of: .snapshotRoutes, at: index + 1) == hashes, "version \(index + 1)")
        }
        // A table rewritten per version would hold 300 × ~50 members per list.
        #expect(table.rows.filter { $0.member.list == .snapshotRoutes }.count < 50 + 300 * 3)
    }
}
