import PorticoProxy
import PorticoTestSupport
import Testing

/// Bad input over a raw socket: the gateway answers it itself, never forwards it, and
/// closes the connection.
@Suite struct MalformedRequestTests {
    static let cases: [(name: String, request: [UInt8], status: Int)] = [
        ("malformed request line", Array("GARBAGE\r\n\r\n".utf8), 400),
        ("bad version", Array("GET / HTTP/9.9\r\nHost: a\r\n\r\n".utf8), 400),
        (
            "Content-Length with Transfer-Encoding",
            Array("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".utf8), 400
        ),
        ("bad chunk size", Array("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".utf8), 400),
        ("chunk longer than declared", Array("POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n".utf8), 400),
        ("NUL in a header", Array("GET /x HTTP/1.1\r\nHost: a\r\nX-A: b".utf8) + [0] + Array("c\r\n\r\n".utf8), 400),
        ("obs-fold", Array("GET /x HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n".utf8), 400),
        ("relative target", Array("GET x/y HTTP/1.1\r\nHost: a\r\n\r\n".utf8), 400),
        ("asterisk on GET", Array("GET * HTTP/1.1\r\nHost: a\r\n\r\n".utf8), 400),
        ("authority form", Array("GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n".utf8), 400),
        ("missing Host", Array("GET /x HTTP/1.1\r\n\r\n".utf8), 400),
        ("two Host headers", Array("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".utf8), 400),
        ("one header over 64 KiB", Array("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "a", count: 70_000))\r\n\r\n".utf8), 431),
        (
            "header block over 64 KiB",
            Array(("GET /x HTTP/1.1\r\nHost: a\r\n" + (0..<70).map { "X-\($0): \(String(repeating: "b", count: 1000))\r\n" }.joined() + "\r\n").utf8),
            431
        ),
    ]

    @Test(arguments: cases.indices)
    func isRefusedAndClosed(index: Int) async throws {
        let testCase = Self.cases[index]
        try await withGateway(routes: standardRoutes) { gateway, upstream in
            let reply = try await RawSocketClient.send(testCase.request, port: gateway.port)
            #expect(reply.status == testCase.status, "\(testCase.name): \(reply.text.prefix(80))")
            #expect(reply.closed, "\(testCase.name): connection left open")
            #expect(upstream.requestsReceived == 0, "\(testCase.name) reached the upstream")
        }
    }

    @Test func aHeaderBlockJustUnderTheLimitIsServed() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let headers = (0..<60).map { "X-\($0): \(String(repeating: "b", count: 1000))\r\n" }.joined()
            let reply = try await RawSocketClient.send(
                "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\(headers)\r\n", port: gateway.port)
            #expect(reply.status == 200)
        }
    }

    @Test func garbageNeverCrashesTheGateway() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<50 {
                let length = Int.random(in: 1...512, using: &generator)
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                _ = try await RawSocketClient.send(bytes, port: gateway.port, timeout: .milliseconds(200))
            }
            let response = try await gateway.client.send(.GET, "/still-alive")
            #expect(response.status == 200)
        }
    }
}
