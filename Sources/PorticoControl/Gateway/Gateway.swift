import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import PorticoCore
import PorticoProxy
import ServiceLifecycle
import Synchronization

/// Why the gateway could not start; printed one line per problem by the CLI.
public struct GatewayStartupError: Error, CustomStringConvertible {
    /// Each problem, naming the setting or file and field.
    public var problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public var description: String { problems.joined(separator: "\n") }
}

/// The running gateway: the first snapshot from the routes folder and the state store, the
/// HTTP and HTTPS listeners, the tenant port forwarders, the admin API and the watchers of
/// the routes and certificates folders, until graceful shutdown,
/// when it stops accepting and lets in-flight requests finish for up to the drain timeout.
public final class Gateway: Service, Sendable {
    /// The settings it runs with.
    public let settings: GatewaySettings
    /// Ready once the first snapshot is active and the listeners are bound.
    public let readiness = Readiness()
    private let files: RouteSet
    private let metrics: MetricsEndpoint
    private let logger: Logger
    private let group: EventLoopGroup

    /// Validates the routes folder; throws every problem at once.
    public init(settings: GatewaySettings, logger: Logger, group: EventLoopGroup, metrics: MetricsEndpoint = MetricsEndpoint()) throws {
        self.settings = settings
        self.metrics = metrics
        self.logger = logger
        self.group = group
        do {
            files = try RouteFolderLoader.load(directory: settings.routesDirectory)
        } catch {
            throw GatewayStartupError(problems: RouteController.everyProblem(of: error, table: { $0 }).map(\.description))
        }
    }

    public func run() async throws {
        let store = try await openStore()
        do {
            try await serve(store: store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    private func serve(store: any StateStore) async throws {
        let stored: StoredConfiguration
        do {
            stored = try await store.load()
        } catch {
            throw GatewayStartupError(problems: ["\(storeDescription): cannot read the state store: \(error)"])
        }
        let table: RouteTable
        do {
            // The last recorded snapshot, to keep its version when nothing changed since.
            let recorded = stored.version > 0 ? try? await store.snapshot(version: stored.version) : nil
            table = try RouteController.initialTable(files: files, stored: stored, recorded: recorded)
        } catch {
            throw GatewayStartupError(problems: error.problems.map(\.description))
        }
        var proxyConfiguration = ProxyConfiguration()
        proxyConfiguration.httpsRedirectPort = settings.httpsAddress.port
        let dataPlane = DataPlane(
            initialTable: table, configuration: proxyConfiguration, metrics: metrics.metrics, logger: logger)
        let controller = RouteController(
            dataPlane: dataPlane, store: store, files: files, stored: stored, drainTimeout: settings.drainTimeout,
            logger: logger)
        try await controller.recordInitialSnapshot()
        logger.info(
            "route table active",
            metadata: ["version": "\(table.version)", "routes": "\(table.routes.count)", "upstreams": "\(table.upstreams.count)"])
        let token = try AdminToken.resolve(
            configured: settings.adminToken, stateDirectory: settings.stateDirectory, logger: logger)

        let listener = try await bind(.httpAddress, settings.httpAddress, dataPlane: dataPlane)
        // HTTPS is on when the certificates folder holds a usable pair, now or later (SPEC §2).
        let certificates = CertificateReloader(directory: settings.certsDirectory, logger: logger)
        let httpsListener = LateListener()
        if !certificates.store.current.isEmpty {
            httpsListener.set(
                try await bind(.httpsAddress, settings.httpsAddress, dataPlane: dataPlane, certificates: certificates.store))
        } else {
            logger.info("no certificate in the certificates folder: HTTPS is off until one is added",
                        metadata: ["folder": "\(settings.certsDirectory)"])
        }

        var reserved = Set([settings.httpAddress.port, settings.httpsAddress.port, settings.adminAddress.port])
        for range in settings.reservedPorts { reserved.formUnion(range) }
        let ports: PortAllocator
        do {
            ports = try await PortAllocator.start(
                range: settings.portRange, reserved: reserved, store: store, listenHost: settings.httpAddress.host,
                group: group, logger: logger)
        } catch {
            throw GatewayStartupError(problems: ["\(storeDescription): cannot read the tenant port allocations: \(error)"])
        }

        let adminBound = Readiness()  // set once the admin listener is bound
        let readiness = self.readiness
        let logger = self.logger
        let admin = Application(
            router: AdminAPI.router(controller: controller, ports: ports, metrics: metrics, token: token, readiness: readiness),
            configuration: .init(address: .hostname(settings.adminAddress.host, port: settings.adminAddress.port)),
            onServerRunning: { channel in
                adminBound.markReady()
                logger.info("admin listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                readiness.markReady()
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger)
        let routesWatcher = FolderWatcher(directory: settings.routesDirectory, includes: RouteFolderLoader.isRouteFile)
        let certificatesWatcher = FolderWatcher(
            directory: settings.certsDirectory, includes: CertificateFolderLoader.isCertificateFile)
        let adminAddress = settings.adminAddress

        // The admin API runs in a group of its own, outside the service group's graceful
        // shutdown (a detached task inherits none of it), and is stopped only after the
        // drain: `/health/ready` answers "not ready" while connections drain.
        let adminGroup = ServiceGroup(
            configuration: .init(services: [.init(service: admin)], gracefulShutdownSignals: [], logger: logger))
        let adminEnded = Readiness()  // set when the admin group returns, for whatever reason
        let adminTask = Task.detached {
            defer { adminEnded.markReady() }
            try await adminGroup.run()
        }
        let adminStarted = ContinuousClock.now
        while !adminBound.isReady {
            if adminEnded.isReady || ContinuousClock.now - adminStarted > .seconds(30) {
                adminTask.cancel()
                var reason = "it did not start"
                if case .failure(let error) = await adminTask.result { reason = Self.describe(error) }
                throw GatewayStartupError(problems: [
                    "\(GatewaySettings.Key.adminAddress.rawValue) \(adminAddress): cannot listen: \(reason)"
                ])
            }
            try await Task.sleep(for: .milliseconds(10))
        }

        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { tasks in
                tasks.addTask {
                    await routesWatcher.run {
                        logger.info("routes folder changed", metadata: ["folder": "\(routesWatcher.directory)"])
                        let files = Result { () throws(ConfigurationError) in
                            try RouteFolderLoader.load(directory: routesWatcher.directory)
                        }
                        await controller.applyFiles(files)
                    }
                }
                tasks.addTask { await HealthChecker(dataPlane: dataPlane, group: self.group, logger: logger).run() }
                if let shared = store as? PostgresStateStore {
                    tasks.addTask {
                        await SharedStoreFollower(store: shared, controller: controller, ports: ports, logger: logger).run()
                    }
                }
                tasks.addTask {
                    await certificatesWatcher.run {
                        logger.info("certificates folder changed", metadata: ["folder": "\(certificatesWatcher.directory)"])
                        certificates.reload()
                        guard !httpsListener.isBound, !certificates.store.current.isEmpty else { return }
                        do {
                            httpsListener.set(
                                try await self.bind(
                                    .httpsAddress, self.settings.httpsAddress, dataPlane: dataPlane,
                                    certificates: certificates.store))
                        } catch {
                            logger.error("HTTPS stays off", metadata: ["error": "\(error)"])
                        }
                    }
                }
                // Serve until the service group asks us to stop (SIGTERM, SIGINT).
                try? await gracefulShutdown()
                readiness.markNotReady()
                logger.info("stopping: no longer ready nor accepting connections; in-flight requests may finish")
                try? await listener.close()
                await httpsListener.close()
                await self.waitForInFlightRequests(dataPlane)
                await ports.stopForwarding()
            }
        } onCancel: {
            adminTask.cancel()
        }
        await adminGroup.triggerGracefulShutdown()
        _ = await adminTask.result
    }

    /// Binds a data-plane listener; a failure names the setting.
    private func bind(
        _ key: GatewaySettings.Key, _ address: ListenAddress, dataPlane: DataPlane, certificates: CertificateStore? = nil
    ) async throws -> HTTPListener {
        let listener: HTTPListener
        do {
            listener = try await HTTPListener.bind(
                host: address.host, port: address.port, group: group, dataPlane: dataPlane, certificates: certificates)
        } catch {
            throw GatewayStartupError(problems: ["\(key.rawValue) \(address): cannot listen: \(Self.describe(error))"])
        }
        logger.info(
            "listening",
            metadata: [
                "protocol": "\(certificates == nil ? "http" : "https")",
                "address": "\(listener.localAddress.map { "\($0)" } ?? "?")",
            ])
        return listener
    }

    /// Waits until no request is running, or the drain timeout has passed.
    private func waitForInFlightRequests(_ dataPlane: DataPlane) async {
        let deadline = ContinuousClock.now + settings.drainTimeout
        var active = dataPlane.runningRequests()
        while active > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            active = dataPlane.runningRequests()
        }
        if active > 0 {
            logger.warning("drain timeout passed; ending the requests still running", metadata: ["requests": "\(active)"])
        }
    }

    /// The store as problems name it; a URL's password is left out.
    private var storeDescription: String {
        settings.stateStore.map { "\(GatewaySettings.Key.stateStore.rawValue) \(PostgresStateStore.redacted($0))" }
            ?? "\((settings.stateDirectory as NSString).appendingPathComponent("state.sqlite"))"
    }

    private func openStore() async throws -> any StateStore {
        let location = settings.stateStore ?? (settings.stateDirectory as NSString).appendingPathComponent("state.sqlite")
        if location.hasPrefix("postgres://") || location.hasPrefix("postgresql://") {
            do {
                return try await PostgresStateStore.open(url: location, logger: logger)
            } catch {
                throw GatewayStartupError(problems: ["\(storeDescription): cannot open the shared PostgreSQL store: \(error)"])
            }
        }
        do {
            return try await SQLiteStateStore.open(path: location, logger: logger)
        } catch {
            throw GatewayStartupError(problems: ["\(storeDescription): cannot open the state store: \(error)"])
        }
    }

    private static func describe(_ error: Error) -> String {
        if let ioError = error as? IOError {
            return ioError.description
        }
        return "\(error)"
    }
}

/// The HTTPS listener, which starts with the gateway or later, when the first certificate
/// arrives in the certificates folder.
private final class LateListener: Sendable {
    private let listener = Mutex<HTTPListener?>(nil)

    var isBound: Bool { listener.withLock { $0 != nil } }

    func set(_ bound: HTTPListener) {
        listener.withLock { $0 = bound }
    }

    /// Stops accepting connections.
    func close() async {
        let bound = listener.withLock { $0 }
        try? await bound?.close()
    }
}
