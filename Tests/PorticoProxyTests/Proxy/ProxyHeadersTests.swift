import NIOHTTP1
@testable import PorticoProxy
import Testing

/// The header block a proxy forwards (SPEC §8): hop-by-hop headers, and those `Connection`
/// names, never cross; values lose their surrounding whitespace; the rest keeps its order.
@Suite struct ProxyHeadersTests {
    private func forwarded(_ fields: [(String, String)]) -> [String] {
        var headers = HTTPHeaders(fields)
        ProxyHeaders.removeHopByHop(&headers)
        return headers.map { "\($0.name): \($0.value)" }
    }

    @Test func aHeadWithoutHopByHopHeadersIsUnchanged() {
        #expect(forwarded([("Content-Type", "text/plain"), ("X-A", "1")]) == ["Content-Type: text/plain", "X-A: 1"])
    }

    @Test func keepAliveAloneIsRemovedInPlace() {
        let fields = [("Server", "nginx"), ("Connection", "keep-alive"), ("Content-Length", "2"), ("Keep-Alive", "timeout=5")]
        #expect(forwarded(fields) == ["Server: nginx", "Content-Length: 2"])
    }

    @Test func everyHopByHopHeaderIsRemovedWhateverItsCase() {
        let fields = [
            ("TE", "trailers"), ("trailer", "x"), ("Transfer-Encoding", "chunked"), ("UPGRADE", "websocket"),
            ("Proxy-Connection", "keep-alive"), ("Proxy-Authenticate", "Basic"), ("proxy-authorization", "x"),
            ("connection", "Upgrade"), ("X-Kept", "yes"),
        ]
        #expect(forwarded(fields) == ["X-Kept: yes"])
    }

    @Test func headersNamedByConnectionAreRemoved() {
        let fields = [("Connection", "keep-alive, X-Secret"), ("x-secret", "1"), ("X-Other", "2"), ("Connection", "close")]
        #expect(forwarded(fields) == ["X-Other: 2"])
    }

    @Test func connectionCloseIsRemovedInPlaceAndRemovesACloseHeader() {
        #expect(forwarded([("Host", "a"), ("Connection", "close"), ("X-A", "1")]) == ["Host: a", "X-A: 1"])
        #expect(forwarded([("Connection", "Close"), ("close", "x"), ("X-A", "1")]) == ["X-A: 1"])
        #expect(forwarded([("CLOSE", "x"), ("connection", "keep-alive, close")]) == [])
        // Without a `Connection` naming it, a header called Close is an ordinary header.
        #expect(forwarded([("Close", "x"), ("X-A", "1")]) == ["Close: x", "X-A: 1"])
    }

    @Test func surroundingWhitespaceIsTrimmed() {
        #expect(forwarded([("Server", "name "), ("Connection", "keep-alive"), ("X-A", "\t1")]) == ["Server: name", "X-A: 1"])
    }

    @Test func aSoleHeaderIsFoundInAnyCaseAndARepeatIsTold() {
        let sole = ProxyHeaders.soleValue(of: "host", in: HTTPHeaders([("X-A", "1"), ("HOST", "a.example")]))
        #expect(sole.value == "a.example" && !sole.repeated)
        let repeated = ProxyHeaders.soleValue(of: "host", in: HTTPHeaders([("Host", "a"), ("X-A", "1"), ("host", "b")]))
        #expect(repeated.value == "a" && repeated.repeated)
        let absent = ProxyHeaders.soleValue(of: "host", in: HTTPHeaders([("X-Host", "a"), ("hosts", "b")]))
        #expect(absent.value == nil && !absent.repeated)
    }

    /// The heads are changed copies, not new ones: what is not rewritten stays as it came.
    @Test func forwardedHeadsKeepWhatIsNotRewritten() {
        let response = HTTPResponseHead(
            version: .http1_0, status: .created, headers: HTTPHeaders([("Connection", "keep-alive"), ("X-A", "1")]))
        let downstream = ProxyHeaders.downstreamResponseHead(for: response, close: true)
        #expect(downstream.version == .http1_1 && downstream.status == .created)
        #expect(downstream.headers.map { "\($0.name): \($0.value)" } == ["X-A: 1", "connection: close"])
        #expect(response.headers.count == 2 && response.version == .http1_0)

        let request = HTTPRequestHead(version: .http1_1, method: .PATCH, uri: "/a?b", headers: HTTPHeaders([("Host", "h"), ("TE", "x")]))
        for uri in ["/a?b", "/c"] {
            let upstream = ProxyHeaders.upstreamRequestHead(
                for: request, uri: uri, host: nil, forwardedHost: "h", peer: "192.0.2.1", client: "192.0.2.1", scheme: "http",
                requestID: "r", chunked: false)
            #expect(upstream.method == .PATCH && upstream.uri == uri && upstream.version == .http1_1)
            #expect(upstream.headers["te"].isEmpty && upstream.headers.first(name: "x-request-id") == "r")
        }
        #expect(request.uri == "/a?b" && request.headers.count == 2)
    }
}
