import Logging
import ServiceLifecycle

/// Keeps a replica in step with a state store that other replicas write too: on each
/// version another replica announces (`NOTIFY`), and at least every `checkInterval` in case
/// an announcement was missed (or the database was away), it adopts newer route tables and
/// port allocations.
struct SharedStoreFollower<C: Clock>: Sendable where C.Duration == Duration {
    var checkInterval: Duration = .seconds(1)
    let store: PostgresStateStore
    let controller: RouteController
    let ports: PortAllocator
    let logger: Logger
    /// Paces the checks; tests advance it instead of sleeping.
    let clock: C

    /// Runs until graceful shutdown or cancellation.
    func run() async {
        await withDiscardingTaskGroup { tasks in
            tasks.addTask {
                for await version in store.changes().cancelOnGracefulShutdown() {
                    try? await follow(version)
                }
            }
            tasks.addTask {
                var reachable = true
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await clock.sleep(until: clock.now.advanced(by: checkInterval), tolerance: nil)
                    do {
                        try await follow(try await store.currentVersion())
                        if !reachable { logger.info("the shared state store is reachable again") }
                        reachable = true
                    } catch {
                        if reachable {
                            logger.error(
                                "the shared state store is unreachable; serving the last table, admin changes answer 503",
                                metadata: ["error": "\(error)"])
                        }
                        reachable = false
                    }
                }
            }
        }
    }

    /// Adopts the store's state when it differs from this replica's, and its port allocations.
    private func follow(_ version: UInt64) async throws {
        if version != (await controller.storeVersion) { await controller.catchUp() }
        try await ports.sync()
    }
}

extension SharedStoreFollower where C == ContinuousClock {
    init(store: PostgresStateStore, controller: RouteController, ports: PortAllocator, logger: Logger) {
        self.init(store: store, controller: controller, ports: ports, logger: logger, clock: ContinuousClock())
    }
}
