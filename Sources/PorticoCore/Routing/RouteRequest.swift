/// A request's header block as route conditions read it.
public protocol RouteRequestHeaders {
    /// The first value of a lower-cased header name.
    func first(_ name: String) -> String?
    /// Every `Cookie` header value joined with `; ` (HTTP/2 sends cookies as crumbs).
    var cookieHeader: String? { get }
}

/// Headers looked up through closures.
private struct HeaderLookup: RouteRequestHeaders {
    let header: (String) -> String?
    let cookies: () -> String?

    init(header: @escaping (String) -> String?, cookieHeader: @escaping () -> String?) {
        self.header = header
        cookies = cookieHeader
    }

    func first(_ name: String) -> String? { header(name) }
    var cookieHeader: String? { cookies() }
}

/// What a route's conditions read of a request besides its host and path (SPEC §4, §12):
/// its method, headers, cookies and query, looked up only when a route asks.
public struct RouteRequest {
    /// The method, upper-case.
    public var method: String
    /// The raw query, without its `?`.
    public var query: Substring
    /// Where header and cookie conditions look. An existential rather than closures: a
    /// header block fits in its inline storage, where each closure's context was an
    /// allocation per request.
    public var headers: any RouteRequestHeaders

    public init(method: String, query: Substring = "", headers: some RouteRequestHeaders) {
        self.method = method
        self.query = query
        self.headers = headers
    }

    /// `header` gives the first value of a lower-cased header name; `cookieHeader`, when
    /// given, every `Cookie` value joined (else `header("cookie")`).
    public init(
        method: String, query: Substring = "", header: @escaping (String) -> String?,
        cookieHeader: (() -> String?)? = nil
    ) {
        self.init(method: method, query: query, headers: HeaderLookup(header: header, cookieHeader: cookieHeader ?? { header("cookie") }))
    }

    /// The first value of a lower-cased header name.
    public func header(_ name: String) -> String? { headers.first(name) }

    /// Every `Cookie` header value joined with `; ` (HTTP/2 sends cookies as crumbs).
    public func cookieHeader() -> String? { headers.cookieHeader }

    /// The value of the first cookie named exactly `name` in a `Cookie` header (RFC 6265
    /// §5.4: `a=1; b=2`), without the double quotes a value may stand in.
    public static func cookie(_ name: String, in header: String?) -> String? {
        guard let header else { return nil }
        for pair in header.utf8.split(separator: UInt8(ascii: ";")) {
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = trimmed(pair[..<equals])
            guard key.elementsEqual(name.utf8) else { continue }
            var value = trimmed(pair[pair.index(after: equals)...])
            if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                value = value.dropFirst().dropLast()
            }
            return String(decoding: value, as: UTF8.self)
        }
        return nil
    }

    /// The percent-decoded value of the first query parameter whose percent-decoded name is
    /// `name` (`a=1&b=x%20y`); `a` alone has the empty value. `+` stays `+`, as Envoy and
    /// Gateway API compare it.
    public static func parameter(_ name: String, in query: Substring) -> String? {
        for pair in query.utf8.split(separator: UInt8(ascii: "&")) {
            let equals = pair.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex
            guard let key = percentDecoded(pair[..<equals]), key == name else { continue }
            let value = equals == pair.endIndex ? pair[equals...] : pair[pair.index(after: equals)...]
            return percentDecoded(value)
        }
        return nil
    }

    private static func trimmed(_ bytes: Substring.UTF8View.SubSequence) -> Substring.UTF8View.SubSequence {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes = bytes.dropFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes = bytes.dropLast() }
        return bytes
    }

    /// `nil` for a bad escape or bytes that are not UTF-8.
    private static func percentDecoded(_ bytes: Substring.UTF8View.SubSequence) -> String? {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                let high = bytes.index(after: index)
                guard high != bytes.endIndex else { return nil }
                let low = bytes.index(after: high)
                guard low != bytes.endIndex, let h = RequestTarget.hexValue(bytes[high]), let l = RequestTarget.hexValue(bytes[low]) else { return nil }
                decoded.append(h << 4 | l)
                index = bytes.index(after: low)
            } else {
                decoded.append(byte)
                index = bytes.index(after: index)
            }
        }
        return String(validating: decoded, as: UTF8.self)
    }
}
