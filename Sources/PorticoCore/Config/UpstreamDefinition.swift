/// A `host:port` address: an upstream endpoint or a listener's address.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    /// A host name or IP address (IPv6 without brackets).
    public var host: String
    /// The TCP port, 1–65535.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port`; `nil` when either part is missing, or the port is
    /// outside `ports`.
    public init?(parsing text: String, ports: ClosedRange<Int> = 1...65535) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"),
                text[text.index(after: close)...].hasPrefix(":")
            else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }),
            let port = Int(portText), ports.contains(port)
        else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// ``description``'s text, written into bytes (for writers that make no strings).
    public func appendDescription(to bytes: inout [UInt8]) {
        let v6 = host.utf8.contains(UInt8(ascii: ":"))
        if v6 { bytes.append(UInt8(ascii: "[")) }
        bytes.append(contentsOf: host.utf8)
        if v6 { bytes.append(UInt8(ascii: "]")) }
        bytes.append(UInt8(ascii: ":"))
        TextBytes.appendDecimal(port, to: &bytes)
    }
}

/// An active health check of an upstream's endpoints.
public struct HealthCheckDefinition: Hashable, Sendable {
    /// How long one check may take unless `timeout` says otherwise.
    public static let defaultTimeout: Duration = .seconds(2)

    /// The path requested on each endpoint.
    public var path: String
    /// Time between two checks of one endpoint.
    public var interval: Duration
    /// How long one check may take; a slower answer is a failure.
    public var timeout: Duration
    /// Passed checks in a row that bring an endpoint back into rotation.
    public var healthyThreshold: Int
    /// Failed checks in a row that take an endpoint out of rotation.
    public var unhealthyThreshold: Int

    public init(
        path: String, interval: Duration, timeout: Duration = HealthCheckDefinition.defaultTimeout,
        healthyThreshold: Int = EndpointHealth.defaultHealthyThreshold,
        unhealthyThreshold: Int = EndpointHealth.defaultUnhealthyThreshold
    ) {
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
    }
}

/// How an upstream spreads requests over its endpoints (`loadBalancing`).
public enum LoadBalancingPolicy: String, Hashable, Sendable, CaseIterable {
    /// Each endpoint in turn (the default).
    case roundRobin = "round_robin"
    /// The endpoint with the fewest requests running through this gateway process; ties go
    /// in turn. Suits endpoints whose response times differ.
    case leastRequest = "least_request"
    /// An endpoint chosen at random.
    case random
}

/// A named group of endpoints that routes send traffic to (SPEC §3 `upstreams`).
public struct UpstreamDefinition: Hashable, Sendable {
    /// The default time allowed to open a connection to an endpoint.
    public static let defaultConnectTimeout: Duration = .seconds(5)

    /// Unique across every file and the API.
    public var name: String
    /// Endpoints, used as ``loadBalancing`` says.
    public var endpoints: [Endpoint]
    /// Time allowed to open a connection to one endpoint.
    public var connectTimeout: Duration
    /// Optional active health check.
    public var healthCheck: HealthCheckDefinition?
    /// How requests are spread over the endpoints.
    public var loadBalancing: LoadBalancingPolicy
    /// A connection to an endpoint carries at most this many requests, then is closed
    /// (`nil`: no limit; nginx's `keepalive_requests`, Envoy's `max_requests_per_connection`).
    public var maxRequestsPerConnection: Int?
    /// Connections open to the upstream at once, over every event loop, idle or busy
    /// (`nil`: no limit; Envoy's `max_connections`).
    public var maxConnections: Int?
    /// Requests that may wait for a connection while ``maxConnections`` are open; more are
    /// answered 503 at once (`nil`: ``defaultMaxPendingRequests``).
    public var maxPendingRequests: Int?
    /// Passive ejection of failing endpoints; `nil`: off.
    public var outlierDetection: OutlierDetectionDefinition?
    /// How many retries may run against the upstream at once.
    public var retryBudget: RetryBudgetDefinition
    /// The tenant it belongs to (SPEC §15); `nil`: the operator's.
    public var tenant: String?

    /// Requests that may wait for a connection when `maxPendingRequests` is not given (Envoy's).
    public static let defaultMaxPendingRequests = 1024

    public init(
        name: String,
        endpoints: [Endpoint],
        connectTimeout: Duration = UpstreamDefinition.defaultConnectTimeout,
        healthCheck: HealthCheckDefinition? = nil,
        loadBalancing: LoadBalancingPolicy = .roundRobin,
        maxRequestsPerConnection: Int? = nil,
        maxConnections: Int? = nil,
        maxPendingRequests: Int? = nil,
        outlierDetection: OutlierDetectionDefinition? = nil,
        retryBudget: RetryBudgetDefinition = RetryBudgetDefinition()
    ) {
        self.name = name
        self.endpoints = endpoints
        self.connectTimeout = connectTimeout
        self.healthCheck = healthCheck
        self.loadBalancing = loadBalancing
        self.maxRequestsPerConnection = maxRequestsPerConnection
        self.maxConnections = maxConnections
        self.maxPendingRequests = maxPendingRequests
        self.outlierDetection = outlierDetection
        self.retryBudget = retryBudget
    }
}
