import NIOHTTP1
import PorticoCore

/// Makes the head the client receives from the upstream's final response head (SPEC §8):
/// hop-by-hop headers out, the route's `responseHeaders` and `hsts` applied (§12), then its
/// CORS headers in, gzip when the route compresses and
/// the response and client allow it (with `Vary` and a weakened `ETag`), and `Connection:
/// close` for an HTTP/1.0 client that could not otherwise tell where the body ends. Pure.
struct ResponseHeadRewriter {
    /// The head to write, and what the exchange must do to honour it.
    struct Result {
        var head: HTTPResponseHead
        /// The body is gzipped on its way to the client.
        var compress: Bool
        /// The downstream connection closes after this response.
        var closeConnection: Bool
    }

    let request: HTTPRequestHead
    let route: CompiledRoute?
    let corsHeaders: [(String, String)]?
    let edits: ResponseHeaderEdits?

    func rewrite(_ upstreamHead: HTTPResponseHead, keepAlive: Bool) -> Result {
        var head = ProxyHeaders.downstreamResponseHead(for: upstreamHead, close: !keepAlive)
        edits?.apply(to: &head.headers)
        if route?.cors != nil {
            ProxyHeaders.applyCORS(corsHeaders, to: &head.headers)
        }
        let compress = route?.definition.compression == true && startGzipIfWanted(&head)
        var closeConnection = !keepAlive
        // An HTTP/1.0 client learns where a body of unknown length ends only from the close.
        if request.version == .http1_0, keepAlive, !head.headers.contains(name: "content-length") {
            closeConnection = true
            head.headers.replaceOrAdd(name: "connection", value: "close")
        }
        return Result(head: head, compress: compress, closeConnection: closeConnection)
    }

    /// Rewrites `head` for a gzipped body when SPEC §8 says so, returning whether it did; an
    /// eligible response gets `Vary: Accept-Encoding` whether or not this client accepts gzip,
    /// for caches.
    private func startGzipIfWanted(_ head: inout HTTPResponseHead) -> Bool {
        let headers = head.headers
        guard
            CompressionPolicy.isEligible(
                requestMethod: request.method.rawValue, status: Int(head.status.code),
                contentType: headers.first(name: "content-type"), contentEncoding: headers.first(name: "content-encoding"),
                contentLength: headers.first(name: "content-length").flatMap { Int($0) })
        else { return false }
        if !headers[canonicalForm: "vary"].contains(where: { $0.lowercased() == "accept-encoding" || $0 == "*" }) {
            head.headers.add(name: "vary", value: "Accept-Encoding")
        }
        guard CompressionPolicy.acceptsGzip(request.headers["accept-encoding"]) else { return false }
        head.headers.remove(name: "content-length")
        head.headers.replaceOrAdd(name: "content-encoding", value: "gzip")
        // A strong validator names the identity body; the gzipped one is a different entity.
        if let etag = head.headers.first(name: "etag"), !etag.hasPrefix("W/") {
            head.headers.replaceOrAdd(name: "etag", value: "W/" + etag)
        }
        return true
    }
}

/// What a route does to every response head of a request (SPEC §12): its `responseHeaders`
/// and, over HTTPS, `Strict-Transport-Security`. Applied before CORS, whose headers win.
struct ResponseHeaderEdits {
    private let route: CompiledRoute
    /// Whether the response goes out over HTTPS, the only way `hsts` is sent (RFC 6797 §7.2).
    private let overTLS: Bool

    /// `nil` when the route changes nothing.
    init?(route: CompiledRoute, overTLS: Bool) {
        guard !route.definition.responseHeaders.isEmpty || (overTLS && route.hstsHeaderValue != nil) else { return nil }
        self.route = route
        self.overTLS = overTLS
    }

    func apply(to headers: inout HTTPHeaders) {
        ProxyHeaders.apply(route.definition.responseHeaders, to: &headers)
        if overTLS, let hsts = route.hstsHeaderValue { headers.replaceOrAdd(name: "strict-transport-security", value: hsts) }
    }
}
