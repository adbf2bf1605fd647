/// Errors the gateway answers itself, each with its status and JSON `error` code (SPEC §4, §8).
public struct GatewayErrorCode: Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case noRoute, upstreamUnreachable, noHealthyUpstream, upstreamTimeout, upstreamOverflow
        case badRequest, headersTooLarge, forbidden, rateLimited, unauthorized, authUnavailable
    }

    private let code: Code

    /// 404: no route matched.
    public static let noRoute = GatewayErrorCode(code: .noRoute)
    /// 502: the upstream could not be reached or broke the connection.
    public static let upstreamUnreachable = GatewayErrorCode(code: .upstreamUnreachable)
    /// 503: no endpoint to send the request to.
    public static let noHealthyUpstream = GatewayErrorCode(code: .noHealthyUpstream)
    /// 503: the upstream's `maxConnections` are busy and its `maxPendingRequests` wait already.
    public static let upstreamOverflow = GatewayErrorCode(code: .upstreamOverflow)
    /// 504: the route's timeout passed before the response was complete.
    public static let upstreamTimeout = GatewayErrorCode(code: .upstreamTimeout)
    /// 400: a malformed request.
    public static let badRequest = GatewayErrorCode(code: .badRequest)
    /// 431: the header block is too large.
    public static let headersTooLarge = GatewayErrorCode(code: .headersTooLarge)
    /// The client address is refused by the route's `allowFrom`/`denyFrom` (SPEC §13).
    public static let forbidden = GatewayErrorCode(code: .forbidden)
    /// The route's `rateLimit` has no token for the request's key (SPEC §13).
    public static let rateLimited = GatewayErrorCode(code: .rateLimited)
    /// `auth.jwt` found no valid bearer token (SPEC §13).
    public static let unauthorized = GatewayErrorCode(code: .unauthorized)
    /// `auth.forward` gave no answer in time (SPEC §13): the route fails closed.
    public static let authUnavailable = GatewayErrorCode(code: .authUnavailable)

    /// The HTTP status code the gateway answers with.
    public var status: Int {
        switch code {
        case .noRoute: return 404
        case .upstreamUnreachable: return 502
        case .noHealthyUpstream, .upstreamOverflow: return 503
        case .upstreamTimeout: return 504
        case .badRequest: return 400
        case .headersTooLarge: return 431
        case .forbidden: return 403
        case .rateLimited: return 429
        case .unauthorized: return 401
        case .authUnavailable: return 503
        }
    }

    /// The value of the `error` field of the JSON body.
    public var description: String {
        switch code {
        case .noRoute: return "no_route"
        case .upstreamUnreachable: return "upstream_unreachable"
        case .noHealthyUpstream: return "no_healthy_upstream"
        case .upstreamOverflow: return "upstream_overflow"
        case .upstreamTimeout: return "upstream_timeout"
        case .badRequest: return "bad_request"
        case .headersTooLarge: return "request_header_fields_too_large"
        case .forbidden: return "forbidden"
        case .rateLimited: return "rate_limited"
        case .unauthorized: return "unauthorized"
        case .authUnavailable: return "auth_unavailable"
        }
    }

    /// The JSON body: `{"error":"<code>"}`, plus `"route"` when a route was matched.
    public func jsonBody(route: String?) -> String {
        if let route {
            return #"{"error":"\#(description)","route":"\#(JSONText.escape(route))"}"#
        }
        return #"{"error":"\#(description)"}"#
    }
}

/// Minimal JSON string escaping for bodies the gateway writes on the hot path.
public enum JSONText {
    /// Escapes a string for use between JSON double quotes.
    public static func escape(_ text: String) -> String {
        // Most text needs no escaping: one scan, no copy.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return text
        }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case let c where c.value < 0x20: result += String(format: c.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func String(format value: UInt32) -> Swift.String {
        let hex = Swift.String(value, radix: 16)
        return "\\u" + Swift.String(repeating: "0", count: 4 - hex.count) + hex
    }
}
