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

    /// A listener that cannot be bound, naming its setting.
    static func cannotListen(_ key: GatewaySettings.Key, _ address: ListenAddress, _ error: Error) -> GatewayStartupError {
        let reason = (error as? IOError)?.description ?? "\(error)"
        return GatewayStartupError(problems: ["\(key.rawValue) \(address): cannot listen: \(reason)"])
    }
}

/// The gateway, made ready to run: ``start(settings:logger:group:metrics:)`` validates the
/// routes folder, opens the state store, makes the first snapshot active and binds the
/// data-plane listeners, throwing every problem as a ``GatewayStartupError``; ``services``
/// are its long-running parts, for one `ServiceGroup` that starts them in order and shuts
/// them down in reverse:
///
/// 1. the state store (closed last),
/// 2. the admin API (it answers until the drain has finished; `/health/ready` says "not
///    ready" meanwhile),
/// 3. the tenant port forwarders,
/// 4. the health checker, 5. the shared-store follower (PostgreSQL), 6. the routes and
///    7. the certificates folder watchers,
/// 8. the span exporter (with an OTLP endpoint), which sends the drained requests' spans
///    before it stops,
/// 9. the data plane's listeners, shut down first: not ready, no new connections,
///    keep-alive connections asked to close after their current response, in-flight
///    requests given up to the drain timeout.
public final class Gateway: Sendable {
    /// The settings it runs with.
    public let settings: GatewaySettings
    /// Ready once the first snapshot is active and every listener is bound.
    public let readiness: Readiness
    /// The long-running parts, in start order.
    public let services: [ServiceGroupConfiguration.ServiceConfiguration]

    fileprivate init(settings: GatewaySettings, readiness: Readiness, services: [ServiceGroupConfiguration.ServiceConfiguration]) {
        self.settings = settings
        self.readiness = readiness
        self.services = services
    }

    /// Prepares the gateway on `group`'s event loops; see ``Gateway``.
    public static func start(
        settings: GatewaySettings, logger: Logger, group: EventLoopGroup, metrics: MetricsEndpoint = MetricsEndpoint()
    ) async throws -> Gateway {
        // What the folders hold now, before they are read: a change from here on is applied.
        let baselines = (
            routes: Setup.routesWatcher(settings).contents(), certificates: Setup.certificatesWatcher(settings).contents()
        )
        let files: RouteSet
        do {
            files = try RouteFolderLoader.load(directory: settings.routesDirectory)
        } catch {
            throw GatewayStartupError(problems: RouteController.everyProblem(of: error, table: { $0 }).map(\.description))
        }
        let setup = Setup(settings: settings, logger: logger, group: group)
        let store = try await setup.openStore()
        do {
            return try await setup.prepare(files: files, baselines: baselines, store: store, metrics: metrics)
        } catch {
            await store.close()
            throw error
        }
    }
}

/// The steps of ``Gateway/start(settings:logger:group:metrics:)``.
private struct Setup {
    let settings: GatewaySettings
    let logger: Logger
    let group: EventLoopGroup

    static func routesWatcher(_ settings: GatewaySettings) -> FolderWatcher {
        FolderWatcher(directory: settings.routesDirectory, includes: RouteFolderLoader.isRouteFile)
    }

    static func certificatesWatcher(_ settings: GatewaySettings) -> FolderWatcher {
        FolderWatcher(directory: settings.certsDirectory, includes: CertificateFolderLoader.isCertificateFile)
    }

    func prepare(
        files: RouteSet, baselines: (routes: [String: Data], certificates: [String: Data]), store: any StateStore,
        metrics: MetricsEndpoint
    ) async throws -> Gateway {
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
        proxyConfiguration.httpsRedirectPort = settings.httpsRedirectPort
        proxyConfiguration.trustedProxies = settings.trustedProxies
        proxyConfiguration.proxyProtocol = settings.proxyProtocol
        proxyConfiguration.routesDirectory = settings.routesDirectory
        proxyConfiguration.traceSampleRate = settings.traceSampleRate
        if settings.accessLogAsJSONLines { proxyConfiguration.accessLogLines = StandardError.write }
        let spans = settings.otlpTracesURL.map { _ in SpanQueue(metrics: metrics.metrics) }
        let dataPlane = DataPlane(
            initialTable: table, configuration: proxyConfiguration, metrics: metrics.metrics, group: group, spans: spans,
            logger: logger)
        let tenants: TenantDirectory
        do {
            tenants = try await TenantDirectory.load(from: store)
        } catch {
            throw GatewayStartupError(problems: ["\(storeDescription): cannot read the tenants: \(error)"])
        }
        let heapTrimmer = HeapTrimmer()
        let controller = RouteController(
            dataPlane: dataPlane, store: store, files: files, stored: stored, drainTimeout: settings.drainTimeout,
            tenants: tenants, heapTrimmer: heapTrimmer, logger: logger)
        try await controller.recordInitialSnapshot()
        logger.info(
            "route table active",
            metadata: ["version": "\(table.version)", "routes": "\(table.routes.count)", "upstreams": "\(table.upstreams.count)"])
        let token = try AdminToken.resolve(
            configured: settings.adminToken, stateDirectory: settings.stateDirectory, logger: logger)

        let listeners = DataPlaneListeners(http: try await bind(.httpAddress, settings.httpAddress, dataPlane: dataPlane))
        // HTTPS is on when the certificates folder holds a usable pair, now or later (SPEC §2).
        let certificates = CertificateReloader(directory: settings.certsDirectory, logger: logger)
        if !certificates.store.current.isEmpty {
            listeners.setHTTPS(try await bind(.httpsAddress, settings.httpsAddress, dataPlane: dataPlane, certificates: certificates.store))
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
                group: group, drainTimeout: settings.drainTimeout, logger: logger)
        } catch {
            throw GatewayStartupError(problems: ["\(storeDescription): cannot read the tenant port allocations: \(error)"])
        }

        let readiness = Readiness()
        let admin = AdminServer(
            router: AdminAPI.router(
                controller: controller, ports: ports, metrics: metrics, token: token, readiness: readiness, tenants: tenants),
            address: settings.adminAddress, group: group, readiness: readiness, logger: logger)
        let routesWatcher = Self.routesWatcher(settings)
        let certificatesWatcher = Self.certificatesWatcher(settings)
        var services: [any Service] = [
            StateStoreService(store: store), admin, PortForwardingService(ports: ports),
        ]
        let health = HealthChecker(dataPlane: dataPlane, group: group, logger: logger)
        services.append(PeriodicService { await health.run() })
        services.append(PeriodicService { await heapTrimmer.run() })
        if let shared = store as? PostgresStateStore {
            let follower = SharedStoreFollower(store: shared, controller: controller, ports: ports, logger: logger)
            services.append(PeriodicService { await follower.run() })
            // Other replicas' tenants and tokens: a revoked token is refused everywhere within a second.
            services.append(PeriodicService {
                while (try? await Task.sleep(for: .milliseconds(500))) != nil {
                    do {
                        try await tenants.reload()
                    } catch {
                        logger.warning("cannot read the tenants from the state store", metadata: ["error": "\(error)"])
                    }
                }
            })
        }
        services.append(PeriodicService {
            await routesWatcher.run(from: baselines.routes) {
                logger.info("routes folder changed", metadata: ["folder": "\(routesWatcher.directory)"])
            let files = Result { () throws(ConfigurationError) in try RouteFolderLoader.load(directory: routesWatcher.directory) }
                await controller.applyFiles(files)
            }
        })
        let bindHTTPS = { @Sendable () async throws -> HTTPListener in
            try await self.bind(.httpsAddress, self.settings.httpsAddress, dataPlane: dataPlane, certificates: certificates.store)
        }
        services.append(PeriodicService {
            await certificatesWatcher.run(from: baselines.certificates) {
                logger.info("certificates folder changed", metadata: ["folder": "\(certificatesWatcher.directory)"])
                certificates.reload()
                guard !listeners.hasHTTPS, !certificates.store.current.isEmpty else { return }
                do {
                    listeners.setHTTPS(try await bindHTTPS())
                } catch {
                    logger.error("HTTPS stays off", metadata: ["error": "\(error)"])
                }
            }
        })
        if let spans, let url = settings.otlpTracesURL {
            // Before the data plane, so shut down after it: the drained requests' spans go too.
            let exporter = SpanExporter(queue: spans, tracesURL: url, logger: logger)
            services.append(PeriodicService { await exporter.run() })
            logger.info("exporting spans with OTLP/HTTP", metadata: ["url": "\(url)"])
        }
        services.append(
            DataPlaneService(
                dataPlane: dataPlane, listeners: listeners, drainTimeout: settings.drainTimeout, readiness: readiness,
                logger: logger))
        return Gateway(settings: settings, readiness: readiness, services: services.map { .init(service: $0) })
    }

    /// Binds a data-plane listener; a failure names the setting.
    func bind(
        _ key: GatewaySettings.Key, _ address: ListenAddress, dataPlane: DataPlane, certificates: CertificateStore? = nil
    ) async throws -> HTTPListener {
        let listener: HTTPListener
        do {
            listener = try await HTTPListener.bind(
                host: address.host, port: address.port, group: group, dataPlane: dataPlane, certificates: certificates)
        } catch {
            throw GatewayStartupError.cannotListen(key, address, error)
        }
        logger.info(
            "listening",
            metadata: [
                "protocol": "\(certificates == nil ? "http" : "https")",
                "address": "\(listener.localAddress.map { "\($0)" } ?? "?")",
            ])
        return listener
    }

    /// The store as problems name it; a URL's password is left out.
    private var storeDescription: String {
        settings.stateStore.map { "\(GatewaySettings.Key.stateStore.rawValue) \(PostgresStateStore.redacted($0))" }
            ?? "\((settings.stateDirectory as NSString).appendingPathComponent("state.sqlite"))"
    }

    func openStore() async throws -> any StateStore {
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
}
