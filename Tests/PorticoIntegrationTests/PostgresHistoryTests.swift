import Logging
import PorticoControl
import PorticoTestSupport
import Testing

extension HeavyIntegrationTests {
    /// The shared store's history as members, with a throwaway database each (serialized with
    /// the other heavy tests: a PostgreSQL cluster beside the whole suite can miss the
    /// store's 3 s query timeout).
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
}
