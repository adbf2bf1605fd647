import Logging
import NIOCore
import NIOPosix
import PorticoCore
import PorticoProxy
import ServiceLifecycle

/// Why the gateway could not start; printed one line per problem by the CLI.
public struct GatewayStartupError: Error, CustomStringConvertible {
    /// Each problem, naming the setting or file and field.
    public var problems: [String]

    public init(problems: [String]) {
        self.problems = problems
    }

    public var description: String { problems.joined(separator: "\n") }
}

/// The running gateway: loads the routes folder into the first snapshot, binds the data-plane
/// listener and serves until graceful shutdown.
public final class Gateway: Service, Sendable {
    /// The settings it runs with.
    public let settings: GatewaySettings
    /// The active route table, shared with the data plane.
    public let routeTables: RouteTableStore
    private let logger: Logger
    private let group: EventLoopGroup

    /// Validates the routes folder and builds the first snapshot; throws every problem at once.
    public init(settings: GatewaySettings, logger: Logger, group: EventLoopGroup) throws {
        self.settings = settings
        self.logger = logger
        self.group = group
        let routeSet: RouteSet
        do {
            routeSet = try RouteFolderLoader.load(directory: settings.routesDirectory)
        } catch {
            throw GatewayStartupError(problems: error.problems.map(\.description))
        }
        do {
            routeTables = RouteTableStore(try RouteTable.build(version: 1, from: routeSet))
        } catch {
            throw GatewayStartupError(problems: error.problems.map(\.description))
        }
    }

    public func run() async throws {
        let table = routeTables.current
        logger.info(
            "route table active",
            metadata: ["version": "\(table.version)", "routes": "\(table.routes.count)", "upstreams": "\(table.upstreams.count)"])
        var proxyConfiguration = ProxyConfiguration()
        proxyConfiguration.httpsRedirectPort = settings.httpsAddress.port
        let listener: HTTPListener
        do {
            listener = try await HTTPListener.bind(
                host: settings.httpAddress.host, port: settings.httpAddress.port, group: group, routeTables: routeTables,
                configuration: proxyConfiguration, logger: logger)
        } catch {
            throw GatewayStartupError(problems: [
                "\(GatewaySettings.Key.httpAddress.rawValue) \(settings.httpAddress): cannot listen: \(Self.describe(error))"
            ])
        }
        logger.info("listening", metadata: ["protocol": "http", "address": "\(listener.localAddress.map { "\($0)" } ?? "?")"])

        // Serve until the service group asks us to stop (SIGTERM, SIGINT) or cancels us.
        try? await gracefulShutdown()
        logger.info("stopping: no longer accepting connections")
        try? await listener.close()
    }

    private static func describe(_ error: Error) -> String {
        if let ioError = error as? IOError {
            return ioError.description
        }
        return "\(error)"
    }
}
