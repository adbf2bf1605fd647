import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

@Suite struct LoadBalancingTests {
    private func gateway(policy: String, _ first: TestUpstream, _ second: TestUpstream) async throws -> ProxyFixture {
        try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"], loadBalancing: \(policy) }]
                routes: [{ name: app, upstream: app }]
                """)
    }

    @Test func leastRequestPrefersTheIdleEndpointWhenOneIsSlow() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        let gateway = try await gateway(policy: "least_request", first, second)
        // One held request keeps one endpoint busy until the test lets it be answered...
        async let slow = gateway.client.send(.GET, "/held")
        await TestUpstream.waitForRequests([(first, 1), (second, 1)])
        let busy = first.requestsReceived == 1 ? first : second
        let idle = busy === first ? second : first
        // ...so every request meanwhile goes to the other one.
        for index in 0..<10 {
            #expect(try await gateway.client.send(.GET, "/fast\(index)").status == 200)
        }
        #expect(busy.requestsReceived == 1)
        #expect(idle.requestsReceived == 10)
        busy.releaseHeld()
        #expect(try await slow.status == 200)
        // Both idle again: requests are spread over both.
        for index in 0..<10 { _ = try await gateway.client.send(.GET, "/after\(index)") }
        #expect(busy.requestsReceived > 1)
        await gateway.stop()
        await first.stop()
        await second.stop()
    }

    @Test func randomAndRoundRobinReachEveryEndpoint() async throws {
        for policy in ["random", "round_robin"] {
            let first = try await TestUpstream.start()
            let second = try await TestUpstream.start()
            let gateway = try await gateway(policy: policy, first, second)
            for index in 0..<40 { _ = try await gateway.client.send(.GET, "/r\(index)") }
            #expect(first.requestsReceived + second.requestsReceived == 40)
            #expect(first.requestsReceived > 0 && second.requestsReceived > 0, "\(policy) used one endpoint only")
            if policy == "round_robin" { #expect(first.requestsReceived == 20) }
            await gateway.stop()
            await first.stop()
            await second.stop()
        }
    }

    @Test func anUnknownPolicyIsRefusedNamingTheField() throws {
        #expect(throws: ConfigurationError.self) {
            _ = try TestRoutes.table(
                """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:1"], loadBalancing: fastest }]
                routes: [{ name: app, upstream: app }]
                """)
        }
        do {
            _ = try TestRoutes.table(
                "upstreams: [{ name: app, endpoints: [\"127.0.0.1:1\"], loadBalancing: fastest }]\nroutes: []\n")
        } catch let error as ConfigurationError {
            #expect(error.problems.map(\.description) == [
                "routes/test.yaml: upstreams[0].loadBalancing: expected round_robin, least_request or random, found \"fastest\""
            ])
        }
    }
}

/// What is sent again after an upstream resets a fresh connection before answering.
@Suite struct ResetRetryTests {
    @Test func aPostWhoseBodyWasSentIsNotRetriedButAnIdempotentGetIs() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"] }]
                routes: [{ name: app, upstream: app }]
                """)
        // `/close` makes an upstream close the connection without answering.
        let post = try await gateway.client.send(.POST, "/close", body: "order #1")
        #expect(post.status == 502)
        #expect(first.requestsReceived + second.requestsReceived == 1, "a POST with a body was sent twice")
        let get = try await gateway.client.send(.GET, "/close")
        #expect(get.status == 502)
        #expect(first.requestsReceived + second.requestsReceived == 3, "an idempotent GET goes to the other endpoint once")
        await gateway.stop()
        await first.stop()
        await second.stop()
    }
}
