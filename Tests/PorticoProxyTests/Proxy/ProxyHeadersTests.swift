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

    @Test func surroundingWhitespaceIsTrimmed() {
        #expect(forwarded([("Server", "name "), ("Connection", "keep-alive"), ("X-A", "\t1")]) == ["Server: name", "X-A: 1"])
    }
}
