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

@Suite struct MaxRequestsPerConnectionTests {
    @Test func anUpstreamConnectionIsClosedAfterItsLimitOfRequests() async throws {
        try await withGateway(routes: { port in
            """
            upstreams: [{ name: app, endpoints: ["127.0.0.1:\(port)"], maxRequestsPerConnection: 3 }]
            routes: [{ name: app, upstream: app }]
            """
        }) { gateway, upstream in
            // One client connection, so every request runs on the same event loop and pool.
            let responses = try await gateway.client.sendSequentially((0..<9).map { "/r\($0)" })
            #expect(responses.allSatisfy { $0.status == 200 })
            #expect(upstream.requestsReceived == 9)
            #expect(upstream.connectionsAccepted == 3)
        }
    }

    @Test func theLimitIsValidated() throws {
        do {
            _ = try TestRoutes.table(
                "upstreams: [{ name: app, endpoints: [\"127.0.0.1:1\"], maxRequestsPerConnection: 0 }]\nroutes: []\n")
            Issue.record("a limit of 0 was accepted")
        } catch let error as ConfigurationError {
            #expect(error.problems.map(\.description) == [
                "routes/test.yaml: upstreams[0].maxRequestsPerConnection: expected a whole number of at least 1"
            ])
        }
    }
}
