import PorticoCore
import PorticoProxy

/// A `host:port` a listener binds to.
public typealias ListenAddress = Endpoint

extension Endpoint {
    /// Parses a listen address: `host:port`, `[v6]:port`, or `:port` for all interfaces;
    /// port 0 asks the system for a free port.
    public init?(listenAddress text: String) {
        self.init(parsing: text.hasPrefix(":") ? "0.0.0.0" + text : text, ports: 0...65535)
    }
}

/// Every setting of SPEC §2, with its default, resolved from flags and environment variables
/// (a flag wins over the variable of the same meaning).
public struct GatewaySettings: Hashable, Sendable {
    public var httpAddress = ListenAddress(host: "0.0.0.0", port: 8080)
    public var httpsAddress = ListenAddress(host: "0.0.0.0", port: 8443)
    public var adminAddress = ListenAddress(host: "127.0.0.1", port: 9901)
    public var routesDirectory = "./routes"
    public var certsDirectory = "./certs"
    public var stateDirectory = "./.portico"
    /// A SQLite file path or a `postgres://` URL; `nil` means `state.sqlite` in the state folder.
    public var stateStore: String?
    public var drainTimeout: Duration = .seconds(10)
    public var portRange: ClosedRange<Int> = 30000...32767
    /// Ports and ranges never allocated to tenants, besides the listener ports.
    public var reservedPorts: [ClosedRange<Int>] = []
    public var adminToken: String?
    /// The port `httpsRedirect` writes into `Location` (SPEC §12); `nil`: the HTTPS
    /// listener's. Behind a load balancer that maps 443 to 8443, 443.
    public var publicHTTPSPort: Int?

    /// Proxies whose `X-Forwarded-For` names the client (SPEC §13); none by default.
    public var trustedProxies = TrustedProxies()
    /// The HTTP and HTTPS listeners require a PROXY protocol v1 or v2 header (SPEC §13).
    public var proxyProtocol = false
    /// The share of new traces sampled, 0–1 (SPEC §16); a client's sampled flag is kept.
    public var traceSampleRate = 1.0
    /// Where spans are exported with OTLP/HTTP (SPEC §16): the collector's traces URL, made
    /// from `PORTICO_OTLP_ENDPOINT`; nil: no export.
    public var otlpTracesURL: String?
    /// The access log goes to standard error as JSON lines written by the data plane (when
    /// logs are JSON), rather than through the log handler line by line.
    public var accessLogAsJSONLines = false

    /// The port `httpsRedirect` points to.
    public var httpsRedirectPort: Int { publicHTTPSPort ?? httpsAddress.port }

    public init() {}

    /// A setting that can come from a flag or an environment variable.
    public enum Key: String, CaseIterable, Sendable {
        case httpAddress = "PORTICO_HTTP_ADDR"
        case httpsAddress = "PORTICO_HTTPS_ADDR"
        case adminAddress = "PORTICO_ADMIN_ADDR"
        case routesDirectory = "PORTICO_ROUTES_DIR"
        case certsDirectory = "PORTICO_CERTS_DIR"
        case stateDirectory = "PORTICO_STATE_DIR"
        case stateStore = "PORTICO_STATE"
        case drainTimeout = "PORTICO_DRAIN_TIMEOUT_SEC"
        case portStart = "PORTICO_PORT_START"
        case portEnd = "PORTICO_PORT_END"
        case reservedPorts = "PORTICO_PORT_RESERVED"
        case adminToken = "PORTICO_ADMIN_TOKEN"
        case publicHTTPSPort = "PORTICO_PUBLIC_HTTPS_PORT"
        case trustedProxies = "PORTICO_TRUSTED_PROXIES"
        case proxyProtocol = "PORTICO_PROXY_PROTOCOL"
        case traceSample = "PORTICO_TRACE_SAMPLE"
        case otlpEndpoint = "PORTICO_OTLP_ENDPOINT"

        /// The command-line flag of the same meaning.
        public var flag: String {
            switch self {
            case .httpAddress: return "--http-addr"
            case .httpsAddress: return "--https-addr"
            case .adminAddress: return "--admin-addr"
            case .routesDirectory: return "--routes-dir"
            case .certsDirectory: return "--certs-dir"
            case .stateDirectory: return "--state-dir"
            case .stateStore: return "--state"
            case .drainTimeout: return "--drain-timeout"
            case .portStart: return "--port-start"
            case .portEnd: return "--port-end"
            case .reservedPorts: return "--port-reserved"
            case .adminToken: return "--admin-token"
            case .publicHTTPSPort: return "--public-https-port"
            case .trustedProxies: return "--trusted-proxies"
            case .proxyProtocol: return "--proxy-protocol"
            case .traceSample: return "--trace-sample"
            case .otlpEndpoint: return "--otlp-endpoint"
            }
        }
    }

    /// Resolves settings: each flag, else its environment variable, else the default.
    /// Every bad value is reported, named by the flag or variable it came from.
    public static func resolve(environment: [String: String], flags: [Key: String] = [:]) throws(ConfigurationError)
        -> GatewaySettings
    {
        var settings = GatewaySettings()
        var problems: [ConfigProblem] = []
        func value(_ key: Key, fallback: String? = nil) -> (source: String, text: String)? {
            if let flag = flags[key] { return (key.flag, flag) }
            if let env = environment[key.rawValue], !env.isEmpty { return (key.rawValue, env) }
            if let fallback, let env = environment[fallback], !env.isEmpty { return (fallback, env) }
            return nil
        }
        func address(_ key: Key) -> ListenAddress? {
            guard let (source, text) = value(key) else { return nil }
            guard let address = ListenAddress(listenAddress: text) else {
                problems.append(ConfigProblem(file: source, path: "", message: "expected host:port, found \"\(text)\""))
                return nil
            }
            return address
        }
        func port(_ key: Key, fallback: String? = nil) -> Int? {
            guard let (source, text) = value(key, fallback: fallback) else { return nil }
            guard let port = Int(text), (1...65535).contains(port) else {
                problems.append(ConfigProblem(file: source, path: "", message: "expected a port from 1 to 65535, found \"\(text)\""))
                return nil
            }
            return port
        }

        if let address = address(.httpAddress) { settings.httpAddress = address }
        if let address = address(.httpsAddress) { settings.httpsAddress = address }
        if let address = address(.adminAddress) { settings.adminAddress = address }
        if let (_, text) = value(.routesDirectory) { settings.routesDirectory = text }
        if let (_, text) = value(.certsDirectory) { settings.certsDirectory = text }
        if let (_, text) = value(.stateDirectory) { settings.stateDirectory = text }
        if let (_, text) = value(.stateStore) { settings.stateStore = text }
        if let (source, text) = value(.drainTimeout) {
            if let duration = DurationParser.parse(text) {
                settings.drainTimeout = duration
            } else {
                problems.append(ConfigProblem(file: source, path: "", message: "expected a number of seconds, found \"\(text)\""))
            }
        }
        let start = port(.portStart, fallback: "REDIS_PORT_START") ?? settings.portRange.lowerBound
        let end = port(.portEnd, fallback: "REDIS_PORT_END") ?? settings.portRange.upperBound
        if start <= end {
            settings.portRange = start...end
        } else {
            problems.append(ConfigProblem(file: Key.portStart.rawValue, path: "", message: "port range start \(start) is above its end \(end)"))
        }
        if let (source, text) = value(.reservedPorts) {
            if let ranges = parsePortList(text) {
                settings.reservedPorts = ranges
            } else {
                problems.append(
                    ConfigProblem(file: source, path: "", message: "expected ports and ranges such as 30080,30100-30109, found \"\(text)\""))
            }
        }
        if let (_, text) = value(.adminToken) { settings.adminToken = text }
        settings.publicHTTPSPort = port(.publicHTTPSPort)
        if let (source, text) = value(.proxyProtocol) {
            switch text.lowercased() {
            case "on": settings.proxyProtocol = true
            case "off": settings.proxyProtocol = false
            default: problems.append(ConfigProblem(file: source, path: "", message: "expected on or off, found \"\(text)\""))
            }
        }
        if let (source, text) = value(.trustedProxies) {
            switch TrustedProxies.parse(text) {
            case .success(let proxies): settings.trustedProxies = proxies
            case .failure(let bad):
                problems.append(
                    ConfigProblem(file: source, path: "", message: "expected addresses and CIDRs such as 10.0.0.0/8, found \"\(bad.text)\""))
            }
        }
        if let (source, text) = value(.traceSample) {
            if let rate = Double(text), rate.isFinite, (0...1).contains(rate) {
                settings.traceSampleRate = rate
            } else {
                problems.append(ConfigProblem(file: source, path: "", message: "expected a share from 0 to 1 such as 0.1, found \"\(text)\""))
            }
        }
        if let (source, text) = value(.otlpEndpoint) {
            if let url = OTLPEndpoint.tracesURL(base: text) {
                settings.otlpTracesURL = url
            } else {
                problems.append(
                    ConfigProblem(file: source, path: "", message: "expected an http or https URL such as http://collector:4318, found \"\(text)\""))
            }
        }
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return settings
    }

    /// Parses `30080,30100-30109`.
    static func parsePortList(_ text: String) -> [ClosedRange<Int>]? {
        var ranges: [ClosedRange<Int>] = []
        for item in text.split(separator: ",") {
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false).map {
                Int(String($0).filter { $0 != " " })
            }
            switch bounds.count {
            case 1:
                guard let port = bounds[0], (1...65535).contains(port) else { return nil }
                ranges.append(port...port)
            case 2:
                guard let low = bounds[0], let high = bounds[1], 1 <= low, low <= high, high <= 65535 else { return nil }
                ranges.append(low...high)
            default:
                return nil
            }
        }
        return ranges
    }
}
