/// The `Location` of a `redirect` route's answer (SPEC §12, Gateway API `RequestRedirect`):
/// what the redirect does not replace is kept from the request — scheme, host, path and
/// query — and the port follows Gateway API's rule.
public struct RedirectLocation: CustomStringConvertible, Sendable {
    public let scheme: String
    public let host: String
    /// `nil` when it is the default port of ``scheme``.
    public let port: Int?
    /// The path and the query (with its `?`).
    public let pathAndQuery: String

    /// - Parameters:
    ///   - requestScheme: `http` or `https`, as the request arrived.
    ///   - authority: The `Host` (or absolute-form authority) as sent, for its port.
    ///   - host: The normalized request host; `nil` when the request has none.
    ///   - path: The normalized request path; `query` the query with its `?`, or empty.
    ///   - matched: The route's path condition, for `path.prefix`.
    public init(
        _ redirect: RedirectDefinition, requestScheme: String, authority: String?, host: String?, path: String,
        query: String, matched: PathMatch
    ) {
        scheme = redirect.scheme ?? requestScheme
        self.host = redirect.host ?? host ?? "localhost"
        // The port: the redirect's; else the given scheme's default; else the one the
        // request's Host named (none when it named none).
        let port: Int?
        if let given = redirect.port {
            port = given
        } else if redirect.scheme != nil {
            port = nil
        } else {
            port = authority.flatMap(Self.port(of:))
        }
        self.port = port == Self.defaultPort(of: scheme) ? nil : port
        let newPath: String
        switch redirect.path {
        case .full(let full)?: newPath = full
        case .prefix(let prefix)?: newPath = CompiledRoute.replacingPrefix(of: path, matched: matched, with: prefix)
        case nil: newPath = path
        }
        pathAndQuery = newPath + query
    }

    public var description: String {
        scheme + "://" + host + (port.map { ":\($0)" } ?? "") + pathAndQuery
    }

    static func defaultPort(of scheme: String) -> Int? {
        switch scheme {
        case "http": return 80
        case "https": return 443
        default: return nil
        }
    }

    /// The port an authority names (`host:8080`, `[::1]:8080`); `nil` without one.
    static func port(of authority: String) -> Int? {
        let bytes = authority.utf8
        guard let colon = bytes.lastIndex(of: UInt8(ascii: ":")) else { return nil }
        if let close = bytes.lastIndex(of: UInt8(ascii: "]")), close > colon { return nil }
        if authority.hasPrefix("["), bytes.lastIndex(of: UInt8(ascii: "]")) == nil { return nil }
        return Int(Substring(bytes[bytes.index(after: colon)...])).flatMap { (1...65535).contains($0) ? $0 : nil }
    }
}
