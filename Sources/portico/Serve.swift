import ArgumentParser
import Foundation
import Logging
import NIOPosix
import PorticoControl
import ServiceLifecycle

/// `portico serve`: runs the gateway until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway (the default command).",
        discussion: "Every flag has an environment variable of the same meaning; a flag wins over it. " + environmentHelp)

    @Option(name: .customLong("http-addr"), help: "HTTP listener host:port (PORTICO_HTTP_ADDR, default 0.0.0.0:8080).")
    var httpAddress: String?
    @Option(name: .customLong("https-addr"), help: "HTTPS listener host:port (PORTICO_HTTPS_ADDR, default 0.0.0.0:8443).")
    var httpsAddress: String?
    @Option(name: .customLong("admin-addr"), help: "Admin listener host:port (PORTICO_ADMIN_ADDR, default 127.0.0.1:9901).")
    var adminAddress: String?
    @Option(name: .customLong("routes-dir"), help: "Routes folder (PORTICO_ROUTES_DIR, default ./routes).")
    var routesDirectory: String?
    @Option(name: .customLong("certs-dir"), help: "Certificates folder (PORTICO_CERTS_DIR, default ./certs).")
    var certsDirectory: String?
    @Option(name: .customLong("state-dir"), help: "State folder (PORTICO_STATE_DIR, default ./.portico).")
    var stateDirectory: String?
    @Option(name: .customLong("state"), help: "State store: a SQLite path or a postgres:// URL (PORTICO_STATE).")
    var stateStore: String?
    @Option(name: .customLong("drain-timeout"), help: "Seconds removed routes drain (PORTICO_DRAIN_TIMEOUT_SEC, default 10).")
    var drainTimeout: String?
    @Option(name: .customLong("port-start"), help: "First tenant port (PORTICO_PORT_START, default 30000).")
    var portStart: String?
    @Option(name: .customLong("port-end"), help: "Last tenant port (PORTICO_PORT_END, default 32767).")
    var portEnd: String?
    @Option(name: .customLong("port-reserved"), help: "Reserved ports, e.g. 30080,30100-30109 (PORTICO_PORT_RESERVED).")
    var reservedPorts: String?
    @Option(name: .customLong("admin-token"), help: "Admin API bearer token (PORTICO_ADMIN_TOKEN).")
    var adminToken: String?
    @Option(
        name: .customLong("public-https-port"),
        help: "The port httpsRedirect writes into Location (PORTICO_PUBLIC_HTTPS_PORT, default the HTTPS listener's).")
    var publicHTTPSPort: String?
    @Option(
        name: .customLong("trusted-proxies"),
        help: "Addresses and CIDRs whose X-Forwarded-For names the client (PORTICO_TRUSTED_PROXIES, default none).")
    var trustedProxies: String?
    @Option(
        name: .customLong("proxy-protocol"),
        help: "on: every HTTP and HTTPS connection starts with a PROXY v1 or v2 header (PORTICO_PROXY_PROTOCOL, default off).")
    var proxyProtocol: String?
    @Option(
        name: .customLong("trace-sample"),
        help: "The share of new traces sampled, 0 to 1 (PORTICO_TRACE_SAMPLE, default 1); a client's sampled flag is kept.")
    var traceSample: String?
    @Option(
        name: .customLong("otlp-endpoint"),
        help: "Export a span per sampled request with OTLP/HTTP to this collector, e.g. http://collector:4318 (PORTICO_OTLP_ENDPOINT, default none).")
    var otlpEndpoint: String?

    static let environmentHelp = """
        Also read: PORTICO_LOG_LEVEL (trace…critical, default info) and PORTICO_LOG_FORMAT \
        (json or text; default json unless standard error is a terminal).
        """

    func run() async throws {
        let flags: [GatewaySettings.Key: String?] = [
            .httpAddress: httpAddress, .httpsAddress: httpsAddress, .adminAddress: adminAddress,
            .routesDirectory: routesDirectory, .certsDirectory: certsDirectory, .stateDirectory: stateDirectory,
            .stateStore: stateStore, .drainTimeout: drainTimeout, .portStart: portStart, .portEnd: portEnd,
            .reservedPorts: reservedPorts, .adminToken: adminToken, .publicHTTPSPort: publicHTTPSPort,
            .trustedProxies: trustedProxies, .proxyProtocol: proxyProtocol, .traceSample: traceSample,
            .otlpEndpoint: otlpEndpoint,
        ]
        let environment = ProcessInfo.processInfo.environment
        let level = Logger.Level(rawValue: environment["PORTICO_LOG_LEVEL"]?.lowercased() ?? "") ?? .info
        // JSON for log collectors unless a person is reading a terminal (PORTICO_LOG_FORMAT decides).
        let json = (environment["PORTICO_LOG_FORMAT"]?.lowercased()).map { $0 == "json" } ?? (isatty(STDERR_FILENO) == 0)
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "portico")

        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: WorkerCount.available)
        let gateway: Gateway
        do {
            var settings = try GatewaySettings.resolve(environment: environment, flags: flags.compactMapValues { $0 })
            // The access log's JSON lines are written by the event loops themselves, in batches.
            settings.accessLogAsJSONLines = json
            gateway = try await Gateway.start(settings: settings, logger: logger, group: eventLoops)
        } catch let error as ConfigurationErrorPrintable {
            error.printProblems()
            throw ExitCode(1)
        }
        // Every long-running part in one group, started in order and shut down in reverse
        // (``Gateway/services``).
        let group = ServiceGroup(
            configuration: .init(services: gateway.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch let error as ConfigurationErrorPrintable {
            error.printProblems()
            throw ExitCode(1)
        }
        try? await eventLoops.shutdownGracefully()
    }
}
