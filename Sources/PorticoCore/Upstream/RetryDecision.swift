/// How one try of a proxied request failed, before any response byte reached the client.
public enum TryFailure: Hashable, Sendable {
    /// The connection could not be opened; nothing was sent.
    case connectFailure
    /// A reused keep-alive connection was closed before any response byte.
    case refusedStream
    /// A new connection was closed or reset before any response byte.
    case reset
    /// No response head within `perTryTimeout`.
    case perTryTimeout
    /// The upstream answered with this status (5xx).
    case status(Int)

    /// The metric label of a retry after this failure.
    public var label: String {
        switch self {
        case .connectFailure: "connect"
        case .refusedStream: "refused_stream"
        case .reset: "reset"
        case .perTryTimeout: "per_try_timeout"
        case .status: "status"
        }
    }
}

extension RetryPolicyDefinition {
    /// Whether the policy tries again after `failure`, and whether that is safe: a failed
    /// connect sent nothing, so it is always retried; anything else needs a request that can
    /// be sent again whole (`replayable`: complete and without a body, as the gateway does
    /// not keep bodies); a reset or a per-try timeout may have been processed, so they also
    /// need an idempotent method. A 5xx answer says the request was not served: any method.
    public func retries(_ failure: TryFailure, idempotent: Bool, replayable: Bool) -> Bool {
        guard on.contains(where: { $0.covers(failure) }) else { return false }
        switch failure {
        case .connectFailure: return true
        case .refusedStream, .status: return replayable
        case .reset, .perTryTimeout: return replayable && idempotent
        }
    }
}

extension RetryCondition {
    /// Whether a policy naming this condition retries `failure`.
    func covers(_ failure: TryFailure) -> Bool {
        switch (self, failure) {
        case (.connectFailure, .connectFailure), (.refusedStream, .refusedStream), (.reset, .reset),
            (.reset, .refusedStream), (.perTryTimeout, .perTryTimeout):
            return true
        case (.status(let code), .status(let answered)): return code == answered
        case (.anyServerError, .status(let answered)): return answered >= 500
        case (.gatewayError, .status(let answered)): return (502...504).contains(answered)
        case (.anyServerError, _), (.gatewayError, _): return true
        default: return false
        }
    }
}
