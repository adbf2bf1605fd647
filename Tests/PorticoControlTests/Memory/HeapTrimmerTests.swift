import Logging
import PorticoControl
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Synchronization
import Testing

/// How many times a trimmer trimmed.
private final class TrimCount: Sendable {
    private let count = Atomic(0)
    func add() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}

@Suite struct HeapTrimmerTests {
    /// A trimmer on a manual clock whose trims are counted, running for the test's body.
    private func withTrimmer(_ body: (HeapTrimmer, ManualClock, TrimCount) async throws -> Void) async throws {
        let clock = ManualClock()
        let trims = TrimCount()
        let trimmer = HeapTrimmer(delay: .seconds(1), clock: clock) { trims.add() }
        let running = Task { await trimmer.run() }
        defer { running.cancel() }
        try await body(trimmer, clock, trims)
    }

    /// Yields until `trims` reaches `count`, bounded so that a missing trim fails the test.
    private func waitForTrims(_ trims: TrimCount, _ count: Int) async {
        for _ in 0..<100_000 where trims.value < count { await Task.yield() }
    }

    @Test func aBurstOfChangesTrimsOnceAfterTheDelay() async throws {
        try await withTrimmer { trimmer, clock, trims in
            for _ in 0..<5 { trimmer.changed() }
            try await clock.waitForSleepers()
            clock.advance(by: .milliseconds(999))
            for _ in 0..<1_000 { await Task.yield() }
            #expect(trims.value == 0)
            clock.advance(by: .milliseconds(1))
            await waitForTrims(trims, 1)
            #expect(trims.value == 1)
            // The burst's signals are spent: no second trim without a new change.
            for _ in 0..<1_000 { await Task.yield() }
            #expect(clock.sleepers == 0)
            #expect(trims.value == 1)
        }
    }

    @Test func aChangeDuringTheWaitPutsTheTrimOff() async throws {
        try await withTrimmer { trimmer, clock, trims in
            trimmer.changed()
            try await clock.waitForSleepers()
            trimmer.changed()
            clock.advance(by: .seconds(1))
            // The first wait ends with a newer change: a second wait, then the trim.
            try await clock.waitForSleepers()
            #expect(trims.value == 0)
            clock.advance(by: .seconds(1))
            await waitForTrims(trims, 1)
            #expect(trims.value == 1)
            trimmer.changed()
            try await clock.waitForSleepers()
            clock.advance(by: .seconds(1))
            await waitForTrims(trims, 2)
            #expect(trims.value == 2)
        }
    }

    @Test func aPublishedTableTellsTheTrimmerAndARefusedChangeDoesNot() async throws {
        try await withTrimmer { trimmer, clock, trims in
            let stored = StoredConfiguration()
            let table = try RouteController.initialTable(files: RouteSet(), stored: stored)
            let controller = RouteController(
                dataPlane: DataPlane(initialTable: table, logger: Logger(label: "test")), store: MemoryStore(),
                files: RouteSet(), stored: stored, drainTimeout: .seconds(1), heapTrimmer: trimmer, logger: Logger(label: "test"))
            await #expect(throws: ControlPlaneError.self) {
                try await controller.add(RouteDefinition(name: "r", action: .upstream("missing")))
            }
            for _ in 0..<1_000 { await Task.yield() }
            #expect(clock.sleepers == 0)
            try await controller.add(RouteDefinition(name: "r", action: .respond(StaticResponse(status: 200))))
            try await clock.waitForSleepers()
            clock.advance(by: .seconds(1))
            await waitForTrims(trims, 1)
            #expect(trims.value == 1)
        }
    }

    @Test func returningFreePagesIsSafeToCallAtAnyTime() {
        HeapTrimmer.returnFreePages()
        HeapTrimmer.returnFreePages()
    }
}
