import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

@Suite struct UpstreamPoolTests {
    @Test func idleConnectionsToEndpointsNoLongerReferencedAreClosed() async throws {
        try await withGateway(routes: standardRoutes) { gateway, upstream in
            #expect(try await gateway.client.send(.GET, "/warm").status == 200)
            #expect(upstream.openConnections == 1)  // kept idle in the pool

            let other = try await TestUpstream.start()
            let table = try TestRoutes.table(
                """
                upstreams: [{ name: other, endpoints: ["127.0.0.1:\(other.port)"] }]
                routes: [{ name: other, upstream: other }]
                """, version: 2)
            await gateway.dataPlane.publish(table, drainTimeout: .seconds(1))
            let deadline = ContinuousClock.now + .seconds(5)
            while upstream.openConnections > 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(upstream.openConnections == 0)
            #expect(try await gateway.client.send(.GET, "/now-other").status == 200)
            #expect(other.requestsReceived == 1)
            await other.stop()
        }
    }

    @Test func connectionsToStillReferencedEndpointsStayPooled() async throws {
        try await withGateway(routes: standardRoutes) { gateway, upstream in
            #expect(try await gateway.client.send(.GET, "/warm").status == 200)
            let table = try TestRoutes.table(standardRoutes(upstream.port) + "\n  - name: extra\n    match: { path: { exact: /extra } }\n    respond: { status: 200 }\n", version: 2)
            await gateway.dataPlane.publish(table, drainTimeout: .seconds(1))
            try await Task.sleep(for: .milliseconds(100))
            #expect(upstream.openConnections == 1)
        }
    }
}
