import PorticoCore

/// Why the control plane refused a change (a route table change, a port allocation);
/// carries the admin API's status and error code.
public struct ControlPlaneError: Error, CustomStringConvertible, Sendable {
    private enum Code: Sendable {
        case invalid, conflict, notFound, stale, storeUnavailable, malformed, poolExhausted, quotaExceeded, forbidden
    }

    private let code: Code
    /// A sentence for people.
    public let message: String
    /// One entry per problem, for `invalid`.
    public let problems: [ConfigProblem]

    private init(_ code: Code, _ message: String, problems: [ConfigProblem] = []) {
        self.code = code
        self.message = message
        self.problems = problems
    }

    /// The change is not valid (422); every problem listed.
    public static func invalid(_ problems: [ConfigProblem]) -> ControlPlaneError {
        ControlPlaneError(.invalid, "the change is invalid; nothing was applied", problems: problems)
    }
    /// The change collides with what exists, e.g. a file-defined name (409).
    public static func conflict(_ message: String) -> ControlPlaneError { ControlPlaneError(.conflict, message) }
    /// No such route or upstream (404).
    public static func notFound(_ message: String) -> ControlPlaneError { ControlPlaneError(.notFound, message) }
    /// `If-Match` named a version that is no longer active (412).
    public static func stale(_ message: String) -> ControlPlaneError { ControlPlaneError(.stale, message) }
    /// The state store could not record the change (503); nothing was applied.
    public static func storeUnavailable(_ message: String) -> ControlPlaneError {
        ControlPlaneError(.storeUnavailable, message)
    }
    /// Every port of the pool is allocated, reserved or busy on the host (409).
    public static func poolExhausted(_ message: String) -> ControlPlaneError { ControlPlaneError(.poolExhausted, message) }
    /// A tenant would have more routes, upstreams or ports than its quota (409, SPEC §15).
    public static func quotaExceeded(_ message: String) -> ControlPlaneError { ControlPlaneError(.quotaExceeded, message) }
    /// A tenant token asked for what only the admin token may do (403, SPEC §15).
    public static func forbidden(_ message: String) -> ControlPlaneError { ControlPlaneError(.forbidden, message) }
    /// The body is not well-formed JSON of the right shape (400).
    public static func malformed(_ message: String) -> ControlPlaneError { ControlPlaneError(.malformed, message) }

    /// The HTTP status the admin API answers with.
    public var status: Int {
        switch code {
        case .invalid: return 422
        case .conflict: return 409
        case .notFound: return 404
        case .stale: return 412
        case .storeUnavailable: return 503
        case .malformed: return 400
        case .poolExhausted: return 409
        case .quotaExceeded: return 409
        case .forbidden: return 403
        }
    }

    /// The JSON `error` code.
    public var errorCode: String {
        switch code {
        case .invalid: return "invalid_config"
        case .conflict: return "conflict"
        case .notFound: return "not_found"
        case .stale: return "version_mismatch"
        case .storeUnavailable: return "store_unavailable"
        case .malformed: return "malformed_body"
        case .poolExhausted: return "pool_exhausted"
        case .quotaExceeded: return "quota_exceeded"
        case .forbidden: return "forbidden"
        }
    }

    public var description: String {
        ([message] + problems.map(\.description)).joined(separator: "\n")
    }
}
