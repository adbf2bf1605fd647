import Logging
import NIOCore
import NIOPosix
import PorticoControl
import PorticoCore
import PorticoProxy

/// Builds route tables from YAML text, as the routes folder would.
public enum TestRoutes {
    public static func table(_ yaml: String, version: UInt64 = 1, file: String = "routes/test.yaml") throws -> RouteTable {
        let value = try ConfigDocumentParser.parse(yaml, file: file)
        let set = try RouteFileDecoder.decodeDocument(value, file: file)
        return try RouteTable.build(version: version, from: set)
    }
}

/// A data-plane listener on 127.0.0.1 with a chosen port, serving a route table.
public final class ProxyFixture: Sendable {
    public let listener: HTTPListener
    public let dataPlane: DataPlane

    public var port: Int { listener.localAddress!.port! }
    public var client: LoopbackHTTPClient { LoopbackHTTPClient(port: port) }
    public var routeTables: RouteTableStore { dataPlane.routeTables }

    private init(listener: HTTPListener, dataPlane: DataPlane) {
        self.listener = listener
        self.dataPlane = dataPlane
    }

    /// - Parameter certificates: Makes the listener HTTPS, serving these certificates.
    public static func start(
        routes yaml: String, configuration: ProxyConfiguration = .init(), certificates: CertificateStore? = nil,
        metrics: GatewayMetrics = .discarding, logLevel: Logger.Level = .warning
    ) async throws -> ProxyFixture {
        var logger = Logger(label: "portico.test")
        logger.logLevel = logLevel
        let dataPlane = DataPlane(
            initialTable: try TestRoutes.table(yaml), configuration: configuration, metrics: metrics, logger: logger)
        let listener = try await HTTPListener.bind(
            host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton, dataPlane: dataPlane,
            certificates: certificates)
        return ProxyFixture(listener: listener, dataPlane: dataPlane)
    }

    public func stop() async {
        try? await listener.close()
    }
}

/// Runs `body` with a test upstream and a gateway in front of it; `routes` receives the
/// upstream's port and returns the routes YAML.
public func withGateway<T>(
    routes: (Int) -> String, configuration: ProxyConfiguration = .init(),
    _ body: (ProxyFixture, TestUpstream) async throws -> T
) async throws -> T {
    let upstream = try await TestUpstream.start()
    let gateway: ProxyFixture
    do {
        gateway = try await ProxyFixture.start(routes: routes(upstream.port), configuration: configuration)
    } catch {
        await upstream.stop()
        throw error
    }
    do {
        let result = try await body(gateway, upstream)
        await gateway.stop()
        await upstream.stop()
        return result
    } catch {
        await gateway.stop()
        await upstream.stop()
        throw error
    }
}

/// A TCP port on 127.0.0.1 with nothing listening on it (bound once, then released).
public func closedLoopbackPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}
