import Logging
import NIOCore
import PorticoCore
import Synchronization

/// Settings of the data plane that do not change while it runs.
public struct ProxyConfiguration: Sendable {
    /// The HTTPS port that `httpsRedirect` points to (left out of the URL when 443).
    public var httpsRedirectPort: Int = 8443
    /// The largest request header block accepted; larger ones get 431.
    public var maxHeaderBytes: Int = 64 * 1024
    /// Keep-alive connections idle for this long between requests are closed.
    public var idleTimeout: Duration = .seconds(75)
    /// Streams one HTTP/2 client may have open at once (nginx's default is 128).
    public var maxConcurrentStreams: Int = 128
    /// Every connection must start with a PROXY protocol header, whose source is the peer.
    public var proxyProtocol = false
    /// The proxies whose `X-Forwarded-For` names the client (SPEC §13).
    public var trustedProxies = TrustedProxies()
    /// Idle upstream connections kept per endpoint and event loop.
    public var maxIdleUpstreamConnectionsPerEndpoint: Int = 64
    /// The share of new traces sampled, 0–1 (`PORTICO_TRACE_SAMPLE`).
    public var traceSampleRate = 1.0
    /// The routes folder, which `auth.jwt.jwksFile` paths are relative to.
    public var routesDirectory: String?
    /// Where access-log lines go as JSON, written by each event loop in batches of whole
    /// lines (``StandardError/write(_:)``); nil: through the access logger's handler.
    public var accessLogLines: (@Sendable (UnsafeRawBufferPointer) -> Void)?

    public init() {}
}

/// What every downstream connection of a listener shares: loggers, metrics and settings
/// (the snapshot it serves by is its event loop's, ``EventLoopState``). A class, so that a
/// connection holds a reference rather than its own copy.
final class ProxyEnvironment: Sendable {
    let configuration: ProxyConfiguration
    /// `http` or `https`: how requests reach the listener, sent upstream as `X-Forwarded-Proto`.
    let scheme: String
    let metrics: GatewayMetrics
    let accessLogger: Logger
    let requestIDs: RequestIDGenerator
    /// Where sampled spans go for export; nil when no OTLP endpoint is set.
    let spans: SpanQueue?
    /// ``requestIDs``' next value, as the router takes it (made once, not per request).
    let makeRequestID: @Sendable () -> String

    init(
        configuration: ProxyConfiguration, scheme: String = "http", metrics: GatewayMetrics, accessLogger: Logger,
        requestIDs: RequestIDGenerator, spans: SpanQueue? = nil
    ) {
        self.configuration = configuration
        self.scheme = scheme
        self.metrics = metrics
        self.accessLogger = accessLogger
        self.requestIDs = requestIDs
        self.spans = spans
        makeRequestID = { [requestIDs] in requestIDs.next() }
    }

    /// The same environment for a listener reached with `scheme`.
    func serving(scheme: String) -> ProxyEnvironment {
        ProxyEnvironment(
            configuration: configuration, scheme: scheme, metrics: metrics, accessLogger: accessLogger, requestIDs: requestIDs,
            spans: spans)
    }
}

/// Makes `X-Request-Id` values for requests that arrive without one: a random per-process
/// prefix and a counter, cheaper than a random UUID per request and still unique.
final class RequestIDGenerator: Sendable {
    private let prefix: String
    private let counter = Atomic<UInt64>(0)

    init() {
        var generator = SystemRandomNumberGenerator()
        let random = generator.next() as UInt64
        let hex = String(random, radix: 16)
        prefix = String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// A generator whose next value is `prefix-(last + 1)` (for tests).
    init(prefix: String, last: UInt64) {
        self.prefix = prefix
        counter.store(last, ordering: .relaxed)
    }

    /// `prefix-counter`, the counter in lower-case hex: written into one string (joining
    /// three made two).
    func next() -> String {
        let value = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let digits = value == 0 ? 1 : (UInt64.bitWidth - value.leadingZeroBitCount + 3) / 4
        return String(unsafeUninitializedCapacity: prefix.utf8.count + 1 + digits) { bytes in
            var end = bytes.initialize(fromContentsOf: prefix.utf8)
            bytes[end] = UInt8(ascii: "-")
            end += 1
            for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                bytes[end] = TextBytes.hexDigits[Int(truncatingIfNeeded: value >> UInt64(shift)) & 0xF]
                end += 1
            }
            return end
        }
    }
}
