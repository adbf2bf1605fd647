/// Passive outlier ejection of an upstream's endpoints (`outlierDetection`), as Envoy's:
/// an endpoint whose requests fail `consecutiveFailures` times in a row (connect failure,
/// reset, timeout or a 5xx answer) leaves the rotation for `baseEjectionTime` times the
/// number of its recent ejections.
public struct OutlierDetectionDefinition: Hashable, Sendable {
    /// Failures in a row that eject an endpoint.
    public var consecutiveFailures: Int
    /// The first ejection's length; each repeat adds one more (up to ``maxEjectionTime``).
    public var baseEjectionTime: Duration
    /// At most this share of the upstream's endpoints is ejected at once; one endpoint may
    /// always be ejected when there are two or more, and the last one never is.
    public var maxEjectionPercent: Int

    /// The longest ejection, however often an endpoint was ejected (Envoy's default).
    public var maxEjectionTime: Duration { max(.seconds(300), baseEjectionTime) }

    public init(consecutiveFailures: Int = 5, baseEjectionTime: Duration = .seconds(30), maxEjectionPercent: Int = 50) {
        self.consecutiveFailures = consecutiveFailures
        self.baseEjectionTime = baseEjectionTime
        self.maxEjectionPercent = maxEjectionPercent
    }
}

/// How many retries may run against an upstream at once (`retryBudget`), as Envoy's retry
/// budget: `percent` of the requests running on it, and never fewer than `minRetries`.
/// Retries past the budget are not made (the failure is answered), so an outage is not
/// multiplied by retries.
public struct RetryBudgetDefinition: Hashable, Sendable {
    /// Share of running requests that may be retries.
    public var percent: Int
    /// Retries always allowed at once, however few requests run.
    public var minRetries: Int

    public init(percent: Int = 20, minRetries: Int = 3) {
        self.percent = percent
        self.minRetries = minRetries
    }

    /// Whether one more retry fits when `runningRetries` retries and `runningRequests`
    /// requests (retries among them) run on the upstream.
    public func allowsRetry(runningRetries: Int, runningRequests: Int) -> Bool {
        runningRetries < max(minRetries, runningRequests * percent / 100)
    }
}

/// What makes a request try again (`retries.on`).
public enum RetryCondition: Hashable, Sendable, CustomStringConvertible {
    /// The connection to the endpoint could not be opened: nothing was sent.
    case connectFailure
    /// The upstream closed a reused keep-alive connection before any response byte: the
    /// request was not processed (HTTP/1.1's counterpart of HTTP/2's REFUSED_STREAM).
    case refusedStream
    /// The connection was closed or reset before any response byte (idempotent methods only).
    case reset
    /// The try got no response head within `perTryTimeout` (idempotent methods only).
    case perTryTimeout
    /// The upstream answered with this status (requests without a body only).
    case status(Int)
    /// Any 5xx answer, connect failure, reset or per-try timeout (Envoy's `5xx`).
    case anyServerError
    /// 502, 503 or 504, connect failure, reset or per-try timeout (Envoy's `gateway-error`).
    case gatewayError

    /// Parses a name of `retries.on`, or a status code from 500 to 599.
    public init?(parsing text: String) {
        switch text {
        case "connect-failure": self = .connectFailure
        case "refused-stream": self = .refusedStream
        case "reset": self = .reset
        case "per-try-timeout": self = .perTryTimeout
        case "5xx": self = .anyServerError
        case "gateway-error": self = .gatewayError
        default:
            guard let code = Int(text), (500...599).contains(code) else { return nil }
            self = .status(code)
        }
    }

    public var description: String {
        switch self {
        case .connectFailure: "connect-failure"
        case .refusedStream: "refused-stream"
        case .reset: "reset"
        case .perTryTimeout: "per-try-timeout"
        case .status(let code): String(code)
        case .anyServerError: "5xx"
        case .gatewayError: "gateway-error"
        }
    }

    /// The names `retries.on` accepts, for error messages.
    static let names = "connect-failure, refused-stream, reset, per-try-timeout, 5xx, gateway-error or a status from 500 to 599"
}

/// A route's retry policy (`retries`): which failures are tried again, how often, and how
/// long one try may wait for its response head.
public struct RetryPolicyDefinition: Hashable, Sendable {
    /// Retries after the first try; `nil` (the default policy) tries each other endpoint once.
    public var attempts: Int?
    /// The failures that are retried.
    public var on: [RetryCondition]
    /// How long one try waits for the response head before it is abandoned (and retried if
    /// the policy allows); `nil`: only the route's `timeout` applies.
    public var perTryTimeout: Duration?

    /// What a route without `retries` does: a failed connect or a reused connection closed
    /// before any response goes to another try; so does a reset before any response byte of
    /// an idempotent request without a body. Each other endpoint is tried once.
    public static let `default` = RetryPolicyDefinition(attempts: nil, on: [.connectFailure, .refusedStream, .reset])

    public init(attempts: Int?, on: [RetryCondition], perTryTimeout: Duration? = nil) {
        self.attempts = attempts
        self.on = on
        self.perTryTimeout = perTryTimeout
    }
}
