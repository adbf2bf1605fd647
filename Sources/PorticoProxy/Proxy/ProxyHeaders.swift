import NIOHTTP1
import PorticoCore

/// Header rewriting between the downstream and upstream sides (SPEC §8).
enum ProxyHeaders {
    /// Makes a received header block fit to forward: removes hop-by-hop headers and those the
    /// `Connection` header names, and the spaces and tabs around values.
    ///
    /// Surrounding whitespace is not part of a field value (RFC 9112 §5.1), and HTTP/2 calls a
    /// value that starts or ends with it malformed (RFC 9113 §8.2.1): nghttp2-based clients
    /// fail the whole stream. The HTTP/1 parser keeps trailing whitespace (`Server: name `,
    /// as Python's `http.server` sends), so it is removed here, for both directions.
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        // One scan to find out. Most heads carry no hop-by-hop header, or only
        // `Connection: keep-alive` or `close`: those lose their few fields in place.
        var present: UInt32 = 0  // bit i: ProxyHeaderRules.hopByHopNames[i] is there
        var copy = false  // a value to trim, or a `Connection` naming other headers
        var connection = false
        var closeHeader = false  // a header named `Close`, which `Connection: close` names
        for (name, value) in headers {
            if let index = ProxyHeaderRules.hopByHopIndex(name.utf8) {
                present |= 1 << index
                if ProxyHeaderRules.hopByHopNames[index] == "connection" {
                    connection = true
                    if !ProxyHeaderRules.namesOnlyHopByHop(connection: value) { copy = true }
                }
            } else {
                if ProxyHeaderRules.hasSurroundingWhitespace(value) { copy = true }
                if ProxyHeaderRules.equalsIgnoringASCIICase(name, "close") { closeHeader = true }
            }
        }
        if closeHeader, connection { copy = true }
        guard copy else {
            for (index, name) in ProxyHeaderRules.hopByHopNames.enumerated() where present & (1 << index) != 0 {
                headers.remove(name: name)
            }
            return
        }
        // A second scan copies what stays, instead of one scan per removed name.
        let namedByConnection = ProxyHeaderRules.connectionTokens(headers[canonicalForm: "connection"].map(String.init))
            .subtracting(ProxyHeaderRules.hopByHop)
        var kept = HTTPHeaders()
        kept.reserveCapacity(headers.count)
        for (name, value) in headers where !ProxyHeaderRules.isHopByHop(name) {
            if !namedByConnection.isEmpty,
                namedByConnection.contains(where: { ProxyHeaderRules.equalsIgnoringASCIICase(name, $0) })
            {
                continue
            }
            kept.add(name: name, value: ProxyHeaderRules.hasSurroundingWhitespace(value) ? ProxyHeaderRules.trimmed(value) : value)
        }
        headers = kept
    }

    /// Whether a method is idempotent (RFC 9110 §9.2.2), so that a request the upstream
    /// may have seen can be sent again.
    static func isIdempotent(_ method: HTTPMethod) -> Bool {
        switch method {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: return true
        default: return false
        }
    }

    /// The head sent upstream for a downstream request. `host` replaces the client's `Host`
    /// (an absolute-form authority, or the route's `rewrite.host`); `forwardedHost` is the
    /// host as the client sent it (port included), for `X-Forwarded-Host`; `requestID` is
    /// added as `X-Request-Id` when the client sent none. `X-Forwarded-For` gets the TCP
    /// `peer` appended, so the chain stays accurate; `X-Real-IP` is the `client` (SPEC §13).
    static func upstreamRequestHead(
        for head: HTTPRequestHead, uri: String, host replacementHost: String?, forwardedHost: String?,
        peer: String, client: String, scheme: String, requestID: String?, chunked: Bool
    ) -> HTTPRequestHead {
        var headers = head.headers
        // Room for the forwarding headers, so that the copy made here is the only one.
        headers.reserveCapacity(headers.count + 6)
        removeHopByHop(&headers)
        if head.version.major >= 2 {
            // HTTP/2 clients may split cookies into crumbs; HTTP/1.1 needs one header (RFC 9113 §8.2.3).
            let cookies = headers["cookie"]
            if cookies.count > 1 { headers.replaceOrAdd(name: "cookie", value: cookies.joined(separator: "; ")) }
        }
        if let replacementHost {
            // An absolute-form authority replaces Host (RFC 9112 §3.2.2), and so does rewrite.host.
            headers.replaceOrAdd(name: "host", value: replacementHost)
        }
        let forwardedFor = headers[ProxyHeaderRules.Forwarded.forwardedFor]
        headers.replaceOrAdd(
            name: ProxyHeaderRules.Forwarded.forwardedFor,
            value: ProxyHeaderRules.appendForwardedFor(
                existing: forwardedFor.isEmpty ? nil : forwardedFor.joined(separator: ", "), client: peer))
        headers.replaceOrAdd(name: "x-real-ip", value: client)
        headers.replaceOrAdd(name: ProxyHeaderRules.Forwarded.forwardedProto, value: scheme)
        if let forwardedHost {
            headers.replaceOrAdd(name: ProxyHeaderRules.Forwarded.forwardedHost, value: forwardedHost)
        }
        if let requestID {
            headers.add(name: ProxyHeaderRules.Forwarded.requestID, value: requestID)
        }
        if chunked {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        // A copy of `head` keeps the method, target and version in the storage it shares with
        // it when none of them changes.
        var upstream = head
        upstream.headers = headers
        if upstream.uri != uri { upstream.uri = uri }
        if upstream.version != .http1_1 { upstream.version = .http1_1 }
        return upstream
    }

    /// The head sent downstream for an upstream response.
    /// Changes a copy of `head` rather than making a new one, so that the status and version
    /// stay in the storage they share with it unless the version changes.
    static func downstreamResponseHead(for head: HTTPResponseHead, close: Bool) -> HTTPResponseHead {
        var downstream = head
        removeHopByHop(&downstream.headers)
        if close {
            downstream.headers.add(name: "connection", value: "close")
        }
        if downstream.version != .http1_1 { downstream.version = .http1_1 }
        return downstream
    }

    /// Applies a route's `requestHeaders` or `responseHeaders` (SPEC §12): `set` replaces
    /// every value of a name, `add` appends one, `remove` deletes all; names in any case.
    static func apply(_ modifiers: HeaderModifiers, to headers: inout HTTPHeaders) {
        guard !modifiers.isEmpty else { return }
        // One growth at most, not one per added field.
        headers.reserveCapacity(headers.count + modifiers.set.count + modifiers.add.count)
        for name in modifiers.remove { headers.remove(name: name) }
        for (name, value) in modifiers.set { headers.replaceOrAdd(name: name, value: value) }
        for (name, value) in modifiers.add { headers.add(name: name, value: value) }
    }

    /// Puts the gateway's CORS headers in place of any the upstream sent (SPEC §7), and
    /// `Vary: Origin`. Only for routes with a policy.
    static func applyCORS(_ corsHeaders: [(String, String)]?, to headers: inout HTTPHeaders) {
        var kept = HTTPHeaders()
        for (name, value) in headers where !name.lowercased().hasPrefix("access-control-") {
            kept.add(name: name, value: value)
        }
        for (name, value) in corsHeaders ?? [] {
            kept.add(name: name, value: value)
        }
        if !kept[canonicalForm: "vary"].contains(where: { $0.lowercased() == "origin" }) {
            kept.add(name: "vary", value: "Origin")
        }
        headers = kept
    }

    /// Whether a request asks for a protocol upgrade (WebSocket): `Upgrade` with `Connection: upgrade`.
    static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.headers.contains(name: "upgrade")
            && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }

    /// The first value of a header that should appear at most once (a lower-case `name`),
    /// and whether it appears again, without the array `headers[name]` makes.
    static func soleValue(of name: String, in headers: HTTPHeaders) -> (value: String?, repeated: Bool) {
        var found: String?
        for (headerName, value) in headers where ProxyHeaderRules.equalsIgnoringASCIICase(headerName, name) {
            if found != nil { return (found, true) }
            found = value
        }
        return (found, false)
    }

    /// Whether a request head breaks the framing or header rules of SPEC §8 and must be
    /// refused with 400 and a closed connection.
    static func framingProblem(in head: HTTPRequestHead) -> String? {
        let headers = head.headers
        if headers.contains(name: "content-length"), headers.contains(name: "transfer-encoding") {
            return "both Content-Length and Transfer-Encoding"
        }
        let lengths = headers["content-length"]
        if lengths.count > 1, Set(lengths).count > 1 {
            return "conflicting Content-Length values"
        }
        for (name, value) in headers {
            if value.utf8.contains(where: { $0 == 0 || $0 == 0x0A || $0 == 0x0D }) || name.utf8.contains(0) {
                return "NUL, CR or LF in a header"
            }
        }
        return nil
    }
}
