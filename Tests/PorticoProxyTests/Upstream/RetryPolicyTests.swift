import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// A route's `retries` policy: on which failures, how often, per-try timeouts, and the
/// upstream's retry budget.
@Suite struct RetryPolicyTests {
    @Test func a503IsRetriedOnTheOtherEndpointOnlyWhenThePolicyNamesIt() async throws {
        let failing = try await TestUpstream.start()
        let healthy = try await TestUpstream.start()
        failing.setAnswerStatus(503)
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(failing.port)", "127.0.0.1:\(healthy.port)"] }]
                routes:
                  - { name: plain, match: { path: { prefix: /plain } }, upstream: app }
                  - { name: app, upstream: app, retries: { attempts: 1, on: [503] } }
                """)
        // Round robin sends every other request to the failing endpoint first.
        var statuses: [Int] = []
        for index in 0..<6 { statuses.append(try await gateway.client.send(.GET, "/r\(index)").status) }
        #expect(statuses == Array(repeating: 200, count: 6))
        #expect(failing.requestsReceived == 3)
        #expect(healthy.requestsReceived == 6)
        // A POST with a body is never sent twice.
        var postStatuses: [Int] = []
        for _ in 0..<2 { postStatuses.append(try await gateway.client.send(.POST, "/upload", body: "order").status) }
        #expect(postStatuses.sorted() == [200, 503])
        #expect(failing.requestsReceived + healthy.requestsReceived == 11)
        // Without the policy a 503 is the answer.
        var plain: [Int] = []
        for index in 0..<2 { plain.append(try await gateway.client.send(.GET, "/plain/\(index)").status) }
        #expect(plain.sorted() == [200, 503])
        await gateway.stop()
        await failing.stop()
        await healthy.stop()
    }

    @Test func attemptsBoundTheTriesOnASingleEndpoint() async throws {
        let upstream = try await TestUpstream.start()
        upstream.setAnswerStatus(503)
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"] }]
                routes: [{ name: app, upstream: app, retries: { attempts: 2, on: [gateway-error] } }]
                """)
        #expect(try await gateway.client.send(.GET, "/x").status == 503)
        #expect(upstream.requestsReceived == 3, "one try and two retries")
        await gateway.stop()
        await upstream.stop()
    }

    @Test func anExhaustedRetryBudgetMakesNoRetry() async throws {
        let upstream = try await TestUpstream.start()
        upstream.setAnswerStatus(503)
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"], retryBudget: { percent: 0, minRetries: 0 } }]
                routes: [{ name: app, upstream: app, retries: { attempts: 2, on: [503] } }]
                """)
        #expect(try await gateway.client.send(.GET, "/x").status == 503)
        #expect(upstream.requestsReceived == 1, "a retry was made past the budget")
        await gateway.stop()
        await upstream.stop()
    }

    @Test func aTryWithoutAResponseHeadWithinPerTryTimeoutIsAbandonedAndRetried() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"] }]
                routes: [{ name: app, upstream: app, timeout: 10s, retries: { attempts: 1, on: [per-try-timeout], perTryTimeout: 2s } }]
                """)
        // Without the per-try timeout this would be a 200 after 8 s from one try. (2 s per
        // try: on a loaded machine the retry's request has reached the upstream by then.)
        let response = try await gateway.client.send(.GET, "/slow?ms=8000")
        #expect(response.status == 504)
        #expect(response.body == #"{"error":"upstream_timeout","route":"app"}"#)
        await upstream.waitForRequests(2, timeout: .seconds(5))
        #expect(upstream.requestsReceived == 2, "the first try timed out and the retry was sent")
        // A quick answer is unaffected.
        #expect(try await gateway.client.send(.GET, "/fast").status == 200)
        await gateway.stop()
        await upstream.stop()
    }
}
