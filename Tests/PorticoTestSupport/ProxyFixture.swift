import Testing
import Foundation
import Logging
import NIOCore
import NIOPosix
import PorticoControl
import PorticoCore
import PorticoProxy

/// Builds route tables from YAML text, as the routes folder would.
public enum TestRoutes {
    public static func table(_ yaml: String, version: UInt64 = 1, file: String = "routes/test.yaml") throws -> RouteTable {
        try RouteTable.build(version: version, from: try set(yaml, file: file))
    }

    /// The route definitions a document holds, as the routes folder would load them.
    public static func definitions(_ yaml: String, file: String = "routes/t.yaml") throws -> [RouteDefinition] {
        try table(yaml, file: file).routes.map(\.definition)
    }

    /// The problems a document has, file and table checks together, as `path: message`.
    public static func problems(_ yaml: String, file: String = "routes/t.yaml") -> [String] {
        do {
            _ = try table(yaml, file: file)
            return []
        } catch let error as ConfigurationError {
            return error.problems.map { "\($0.path): \($0.message)" }
        } catch {
            return ["\(error)"]
        }
    }

    /// The set one routes file holds.
    public static func set(_ yaml: String, file: String = "routes/test.yaml") throws -> RouteSet {
        try RouteFileDecoder.decodeDocument(try ConfigDocumentParser.parse(yaml, file: file), file: file)
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
        metrics: GatewayMetrics = .discarding, spans: SpanQueue? = nil, logLevel: Logger.Level = .warning
    ) async throws -> ProxyFixture {
        var logger = Logger(label: "portico.test")
        logger.logLevel = logLevel
        let dataPlane = DataPlane(
            initialTable: try TestRoutes.table(yaml), configuration: configuration, metrics: metrics, spans: spans, logger: logger)
        let listener = try await HTTPListener.bind(
            host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton, dataPlane: dataPlane,
            certificates: certificates)
        return ProxyFixture(listener: listener, dataPlane: dataPlane)
    }

    public func stop() async {
        try? await listener.close()
        await dataPlane.shutdown()
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

/// A TCP port on 127.0.0.1 that is free now (bound once, then released), for a process to
/// listen on; another test may take it meanwhile, so callers that start a process retry.
///
/// Taken from 23000–29999, outside the kernel's ephemeral range (32768–60999) from which
/// the in-process servers' `bind(port: 0)` draw, and outside the tenant port ranges the
/// tests configure: a port a stopped or killed process releases is then never handed to
/// another test's server, which would receive traffic meant for the dead one.
public func freeLoopbackPort() async throws -> Int {
    for _ in 0..<100 {
        let port = Int.random(in: 23000..<30000)
        guard let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: port).get()
        else { continue }
        try await channel.close()
        return port
    }
    throw TestClientError.noResponse
}

/// A TCP port on 127.0.0.1 that refuses connections for as long as the tests run: bound by
/// a socket that never listens, so no other test's server can take it (a released port
/// can be handed to the next server that binds port 0, which then gets the traffic).
public func refusingLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestClientError.noResponse }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else {
        close(descriptor)
        throw TestClientError.noResponse
    }
    return Int(UInt16(bigEndian: address.sin_port))  // the descriptor stays open on purpose
}

/// Waits, polling every 10 ms for at most `timeout`, until `condition` holds; records an
/// issue naming `what` if it never does.
public func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting until \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}
