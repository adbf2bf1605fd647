import Hummingbird
import Logging
import NIOCore
import PorticoProxy
import ServiceLifecycle
import Synchronization

/// Closes the state store when the group shuts down (first in the group, so closed last),
/// or when it is cancelled because another part failed to start.
struct StateStoreService: Service {
    let store: any StateStore

    func run() async throws {
        try? await gracefulShutdown()
        // Outside the group's cancellation: a cancelled close would leave the database
        // connection open (SQLiteNIO asserts on that), so it runs in a task of its own.
        let store = self.store
        await Task { await store.close() }.value
    }
}

/// The admin API on Hummingbird. The gateway is ready once it listens; an address it cannot
/// listen on is a startup error naming the setting.
struct AdminServer: Service {
    private let application: Application<RouterResponder<AdminRequestContext>>
    private let address: ListenAddress
    private let bound = Readiness()

    init(router: Router<AdminRequestContext>, address: ListenAddress, group: EventLoopGroup, readiness: Readiness, logger: Logger) {
        self.address = address
        let bound = self.bound
        application = Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port)),
            onServerRunning: { channel in
                bound.markReady()
                logger.info("admin listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                readiness.markReady()
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
    }

    func run() async throws {
        do {
            try await application.run()
        } catch where !bound.isReady {
            throw GatewayStartupError.cannotListen(.adminAddress, address, error)
        }
    }
}

/// Stops the tenant port forwarders when the group shuts down (after the data plane's drain).
struct PortForwardingService: Service {
    let ports: PortAllocator

    func run() async throws {
        try? await gracefulShutdown()
        await ports.stopForwarding()
    }
}

/// Runs periodic work (a folder watcher, the health checker, the shared-store follower)
/// until the group shuts down; a wait under way ends at once.
struct PeriodicService: Service {
    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown(work)
    }
}

/// The data plane's listeners: HTTP from the start, HTTPS from the start or from the first
/// certificate that arrives.
final class DataPlaneListeners: Sendable {
    let http: HTTPListener
    private let https = Mutex<(listener: HTTPListener?, quiesced: Bool)>((nil, false))

    init(http: HTTPListener) {
        self.http = http
    }

    var hasHTTPS: Bool { https.withLock { $0.listener != nil } }

    /// Makes `listener` the HTTPS listener; one bound after shutdown began is quiesced at once.
    func setHTTPS(_ listener: HTTPListener) {
        let late = https.withLock { state in
            state.listener = listener
            return state.quiesced
        }
        if late { listener.quiesce() }
    }

    /// ``HTTPListener/quiesce()`` for every listener.
    func quiesce() {
        http.quiesce()
        https.withLock { state in
            state.quiesced = true
            return state.listener
        }?.quiesce()
    }
}

/// The data plane's listeners as a service: they accept from the start; at shutdown (first
/// in the group's reverse order) the gateway reports not ready, stops accepting, asks
/// keep-alive connections to close after their current response, and lets in-flight
/// requests finish for up to the drain timeout.
struct DataPlaneService: Service {
    let dataPlane: DataPlane
    let listeners: DataPlaneListeners
    let drainTimeout: Duration
    let readiness: Readiness
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        readiness.markNotReady()
        logger.info("stopping: no longer ready nor accepting connections; in-flight requests may finish")
        listeners.quiesce()
        let deadline = ContinuousClock.now + drainTimeout
        var running = dataPlane.runningRequests()
        while running > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            running = dataPlane.runningRequests()
        }
        if running > 0 {
            logger.warning("drain timeout passed; ending the requests still running", metadata: ["requests": "\(running)"])
        }
        await dataPlane.shutdown()
    }
}
