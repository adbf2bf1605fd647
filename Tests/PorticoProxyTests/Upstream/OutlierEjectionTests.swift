import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// Passive outlier ejection (`outlierDetection`) in the data plane.
@Suite struct OutlierEjectionTests {
    @Test func anEndpointAnswering5xxIsEjectedAndComesBackAfterTheEjectionTime() async throws {
        let failing = try await TestUpstream.start()
        let healthy = try await TestUpstream.start()
        failing.setAnswerStatus(500)
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams:
                  - name: app
                    endpoints: ["127.0.0.1:\(failing.port)", "127.0.0.1:\(healthy.port)"]
                    outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 5s }
                routes: [{ name: app, upstream: app }]
                """)
        // Round robin: the failing endpoint answers two of the first four, then is ejected.
        #expect(try await gateway.client.statusesOfGETs(4) == [500, 200, 500, 200])
        let ejected = ContinuousClock.now
        // While it is out (requests sent in the first 2 s of the 5, up to 10), it gets none.
        var during: [Int] = []
        while during.count < 10, ContinuousClock.now - ejected < .seconds(2) {
            during.append(try await gateway.client.send(.GET, "/during").status)
        }
        #expect(!during.isEmpty && during.allSatisfy { $0 == 200 })
        #expect(failing.requestsReceived == 2)
        // After the ejection time it is back in rotation.
        failing.setAnswerStatus(200)
        try await Task.sleep(until: ejected + .milliseconds(5200))
        #expect(try await gateway.client.statusesOfGETs(4) == Array(repeating: 200, count: 4))
        #expect(failing.requestsReceived > 2, "the endpoint did not come back")
        await gateway.stop()
        await failing.stop()
        await healthy.stop()
    }

    @Test func theLastEndpointsAreNeverEjectedPastTheMaximum() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        first.setAnswerStatus(502)
        second.setAnswerStatus(502)
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams:
                  - name: app
                    endpoints: ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"]
                    outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 30s, maxEjectionPercent: 10 }
                routes: [{ name: app, upstream: app }]
                """)
        // One of two may always be ejected; the other never, however it fails.
        #expect(try await gateway.client.statusesOfGETs(10) == Array(repeating: 502, count: 10))
        let counts = [first.requestsReceived, second.requestsReceived].sorted()
        #expect(counts == [1, 9])
        await gateway.stop()
        await first.stop()
        await second.stop()
    }
}
