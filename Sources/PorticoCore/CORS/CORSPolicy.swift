/// A route's CORS policy compiled for the data plane (SPEC §7, following the Fetch standard).
public struct CORSPolicy: Hashable, Sendable {
    /// How an allowed origin is written.
    enum OriginPattern: Hashable, Sendable {
        case any
        case exact(String)
        /// `https://*.veni.ai`: this scheme, any host ending in `.veni.ai` with a label before it.
        case wildcard(scheme: String, suffix: String)
    }

    let origins: [OriginPattern]
    let allowMethods: [String]
    let allowHeaders: Set<String>
    let allowAnyHeader: Bool
    let exposeHeaders: [String]
    let allowCredentials: Bool
    let maxAge: Int?

    /// Methods a preflight never needs listed (Fetch's CORS-safelisted methods), used when
    /// the policy lists none.
    static let safelistedMethods = ["GET", "HEAD", "POST"]
    /// Request headers a preflight never needs listed (Fetch's CORS-safelisted names).
    static let safelistedHeaders: Set<String> = ["accept", "accept-language", "content-language"]

    public init(_ definition: CORSDefinition) {
        origins = definition.allowOrigins.map { origin in
            if origin == "*" { return .any }
            let lowered = origin.lowercased()
            let parts = lowered.split(separator: "://*.", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2 {
                return .wildcard(scheme: String(parts[0]), suffix: "." + parts[1])
            }
            return .exact(lowered)
        }
        allowMethods = definition.allowMethods.map { $0.uppercased() }
        allowHeaders = Set(definition.allowHeaders.map { $0.lowercased() })
        allowAnyHeader = definition.allowHeaders.contains("*")
        exposeHeaders = definition.exposeHeaders
        allowCredentials = definition.allowCredentials
        maxAge = definition.maxAge
    }

    /// Whether an `Origin` value is allowed.
    public func allows(origin: String) -> Bool {
        let lowered = origin.lowercased()
        return origins.contains { pattern in
            switch pattern {
            case .any: return true
            case .exact(let value): return lowered == value
            case .wildcard(let scheme, let suffix):
                guard lowered.hasPrefix(scheme + "://") else { return false }
                let host = lowered.dropFirst(scheme.count + 3)
                return host.count > suffix.count && host.hasSuffix(suffix)
                    && !host.dropLast(suffix.count).contains(where: { $0 == "/" || $0 == ":" })
            }
        }
    }

    /// The `Access-Control-Allow-Origin` value for an allowed origin: `*` when any origin
    /// is allowed without credentials, else the origin itself.
    func allowOriginValue(for origin: String) -> String {
        origins.contains(.any) && !allowCredentials ? "*" : origin
    }

    /// What the gateway answers to a preflight (`OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method`); it is never forwarded.
    public enum PreflightAnswer: Hashable, Sendable {
        /// 204 with these headers.
        case allowed([(String, String)])
        /// 403 without CORS headers.
        case refused

        public static func == (lhs: PreflightAnswer, rhs: PreflightAnswer) -> Bool {
            switch (lhs, rhs) {
            case (.refused, .refused): return true
            case (.allowed(let a), .allowed(let b)): return a.elementsEqual(b, by: { $0 == $1 })
            default: return false
            }
        }

        public func hash(into hasher: inout Hasher) {
            if case .allowed(let headers) = self {
                for (name, value) in headers {
                    hasher.combine(name)
                    hasher.combine(value)
                }
            }
        }
    }

    /// Decides a preflight from its `Origin`, `Access-Control-Request-Method` and
    /// `Access-Control-Request-Headers` values.
    public func preflight(origin: String, requestMethod: String, requestHeaders: String?) -> PreflightAnswer {
        guard allows(origin: origin) else { return .refused }
        let method = requestMethod.uppercased()
        let methods = allowMethods.isEmpty ? Self.safelistedMethods : allowMethods
        guard methods.contains(method) else { return .refused }
        let requested = (requestHeaders ?? "").split(separator: ",").map { $0.trimmingWhitespace().lowercased() }
            .filter { !$0.isEmpty }
        let anyHeader = allowAnyHeader && !allowCredentials
        for header in requested where !anyHeader && !allowHeaders.contains(header) && !Self.safelistedHeaders.contains(header) {
            return .refused
        }
        var headers: [(String, String)] = [
            ("access-control-allow-origin", allowOriginValue(for: origin)),
            ("access-control-allow-methods", methods.joined(separator: ", ")),
        ]
        if !requested.isEmpty {
            headers.append(("access-control-allow-headers", requested.joined(separator: ", ")))
        }
        if let maxAge { headers.append(("access-control-max-age", String(maxAge))) }
        if allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        headers.append(("vary", "Origin"))
        return .allowed(headers)
    }

    /// The CORS headers of a response to a request from `origin`; `nil` when the origin is
    /// not allowed (the response then carries no CORS headers at all).
    public func responseHeaders(origin: String) -> [(String, String)]? {
        guard allows(origin: origin) else { return nil }
        var headers: [(String, String)] = [("access-control-allow-origin", allowOriginValue(for: origin))]
        if allowCredentials { headers.append(("access-control-allow-credentials", "true")) }
        if !exposeHeaders.isEmpty { headers.append(("access-control-expose-headers", exposeHeaders.joined(separator: ", "))) }
        return headers
    }
}
