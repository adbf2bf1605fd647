import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// `maxConnections` and `maxPendingRequests`: a bounded number of connections to an
/// upstream, a bounded queue for them, and 503 at once past both.
@Suite struct UpstreamLimitsTests {
    @Test func pastMaxPendingRequestsTheGatewayAnswers503AtOnce() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"], maxConnections: 1, maxPendingRequests: 1 }]
                routes: [{ name: app, upstream: app, timeout: 20s }]
                """)
        let limiter = try #require(gateway.dataPlane.snapshot.runtime(ofUpstream: "app")).connections
        // The one connection is busy with a slow request...
        async let first = gateway.client.send(.GET, "/slow?ms=4000")
        try await waitUntil("the slow request reached the upstream") { upstream.requestsReceived == 1 }
        // ...the next request waits for it...
        async let second = gateway.client.send(.GET, "/queued")
        try await waitUntil("a request waits for a connection") { limiter.waitingRequests == 1 }
        // ...and one more is refused at once: answered while the slow request still runs.
        let third = try await gateway.client.send(.GET, "/overflow")
        #expect(third.status == 503)
        #expect(third.body == #"{"error":"upstream_overflow","route":"app"}"#)
        #expect(upstream.requestsReceived == 1, "the refused request was not answered at once")
        #expect(try await first.status == 200)
        let queued = try await second
        #expect(queued.status == 200)
        #expect(queued.body.hasPrefix("GET /queued"))
        #expect(upstream.requestsReceived == 2)
        #expect(limiter.openConnections <= 1)
        await gateway.stop()
        await upstream.stop()
    }

    @Test func anIdleConnectionOnAnotherEventLoopGivesItsSlotToAWaitingRequest() async throws {
        // Each request comes on a new client connection, so they are served by different
        // event loops in turn: the one connection allowed idles in one loop's pool while the
        // next request waits on another, which must not wait for the route timeout.
        let upstream = try await TestUpstream.start()
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"], maxConnections: 1 }]
                routes: [{ name: app, upstream: app, timeout: 3s }]
                """)
        let limiter = try #require(gateway.dataPlane.snapshot.runtime(ofUpstream: "app")).connections
        var statuses: [Int] = []
        for index in 0..<12 {
            statuses.append(try await gateway.client.send(.GET, "/r\(index)").status)
            #expect(limiter.openConnections <= 1)
        }
        #expect(statuses == Array(repeating: 200, count: 12))
        #expect(upstream.requestsReceived == 12)
        await gateway.stop()
        await upstream.stop()
    }

    @Test func concurrentRequestsNeverOpenMoreThanMaxConnections() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"], maxConnections: 2 }]
                routes: [{ name: app, upstream: app, timeout: 20s }]
                """)
        let limiter = try #require(gateway.dataPlane.snapshot.runtime(ofUpstream: "app")).connections
        // Eight requests of 300 ms at once through two connections: all answered, in about
        // four rounds, over at most two connections at a time (sampled meanwhile).
        let (statuses, peak) = try await withThrowingTaskGroup(of: (Int?, Int).self) { group in
            for index in 0..<8 {
                group.addTask { (try await gateway.client.send(.GET, "/slow?ms=300&i=\(index)").status, 0) }
            }
            group.addTask {
                var peak = 0
                for _ in 0..<300 where upstream.requestsReceived < 8 {
                    peak = max(peak, limiter.openConnections)
                    try await Task.sleep(for: .milliseconds(5))
                }
                return (nil, peak)
            }
            var statuses: [Int] = []
            var peak = 0
            for try await (status, sampled) in group {
                if let status { statuses.append(status) }
                peak = max(peak, sampled)
            }
            return (statuses, peak)
        }
        #expect(statuses == Array(repeating: 200, count: 8))
        #expect(peak == 2)
        #expect(upstream.peakConcurrentRequests == 2)
        #expect(upstream.connectionsAccepted >= 2)
        await gateway.stop()
        await upstream.stop()
    }
}
