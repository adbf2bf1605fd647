import PorticoTestSupport
import Testing

/// Shutdown of a listener (``HTTPListener/quiesce()``): no new connections, idle keep-alive
/// connections closed, busy ones closed after the response they are serving.
@Suite struct QuiesceTests {
    @Test func keepAliveConnectionsCloseAfterTheirCurrentResponse() async throws {
        try await withGateway(routes: standardRoutes) { gateway, upstream in
            let port = gateway.port
            // Keep-alive requests: without a shutdown both connections would stay open past
            // the client's 10 s limit (the idle timeout is 75 s).
            async let quick = RawSocketClient.send("GET /quick HTTP/1.1\r\nHost: a\r\n\r\n", port: port)
            async let busy = RawSocketClient.send("GET /wait/slow?ms=1500 HTTP/1.1\r\nHost: a\r\n\r\n", port: port)
            await upstream.waitForRequests(2)
            let started = ContinuousClock.now
            gateway.listener.quiesce()
            let (idle, served) = try await (quick, busy)
            #expect(idle.status == 200)
            #expect(idle.closed)
            #expect(served.status == 200)
            #expect(served.closed)
            #expect(served.text.lowercased().contains("connection: close"))
            #expect(ContinuousClock.now - started < .seconds(8))  // closed by the gateway, not the client's limit
            await #expect(throws: (any Error).self) {
                _ = try await RawSocketClient.send("GET /late HTTP/1.1\r\nHost: a\r\n\r\n", port: port, timeout: .seconds(2))
            }
        }
    }
}
