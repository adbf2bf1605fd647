import PorticoControl
import PorticoTestSupport
import Synchronization
import Testing

/// The routes and certificates folders' watcher on a ``ManualClock``: a change is reported
/// once it has settled, a file still being written is not.
@Suite struct FolderWatcherTests {
    @Test func aChangeIsReportedOnlyOnceItHasSettled() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("a.yaml", "one")
        try folder.write("ignored.txt", "one")
        let watcher = FolderWatcher(directory: folder.url.path, includes: { $0.hasSuffix(".yaml") })
        let clock = ManualClock()
        let changes = Atomic<Int>(0)
        let running = Task { await watcher.run(clock: clock) { changes.wrappingAdd(1, ordering: .relaxed) } }
        defer { running.cancel() }
        func step(_ milliseconds: Int) async throws {
            try await clock.waitForSleepers()
            clock.advance(by: .milliseconds(milliseconds))
        }

        // A file outside what is watched changes nothing.
        try folder.write("ignored.txt", "two")
        try await step(500)
        try await clock.waitForSleepers()
        #expect(changes.load(ordering: .relaxed) == 0)

        // Seen at a poll, changed again before the settle check: not applied yet.
        try folder.write("a.yaml", "two")
        try await step(500)
        try await clock.waitForSleepers()  // the poll saw it and waits to settle
        try folder.write("a.yaml", "three")
        try await step(200)
        try await clock.waitForSleepers()
        #expect(changes.load(ordering: .relaxed) == 0)

        // Seen at the next poll and the same at the settle check: applied, once.
        try await step(500)
        try await step(200)
        try await clock.waitForSleepers()
        #expect(changes.load(ordering: .relaxed) == 1)
        try await step(500)
        try await clock.waitForSleepers()
        #expect(changes.load(ordering: .relaxed) == 1)
    }
}
