import Metrics
import NIOCore
import PorticoCore
@testable import PorticoProxy
import PorticoTestSupport
import Testing

/// `rateLimit` (SPEC §13): bounded keys, buckets that survive unrelated swaps, and 429 with
/// `Retry-After` on loopback.
@Suite struct RateLimitTests {
    private let limit = RateLimitDefinition(requests: 1, per: .seconds(60))

    @Test func keysAreBoundedAndTheLeastRecentlyUsedGoFirst() {
        let limiter = RateLimiter(limit, limited: Counter(label: "t", factory: NOOPMetricsHandler.instance), maximumKeys: 10)
        #expect(limiter.take(key: "kept", now: 0) == .allowed)
        for index in 0..<1000 {
            _ = limiter.take(key: "k\(index)", now: 0)
            if index % 3 == 0 { _ = limiter.take(key: "kept", now: 0) }  // used often: stays
            #expect(limiter.keyCount <= 10)
        }
        // "kept" still has its empty bucket; a key used long ago starts full again.
        #expect(limiter.take(key: "kept", now: 0) == .limited(retryAfter: 60))
        #expect(limiter.take(key: "k0", now: 0) == .allowed)
    }

    @Test func bucketsSurviveASwapThatKeepsTheRouteAndItsLimit() throws {
        let registry = RuntimeRegistry()
        func table(_ rateLimit: String, version: UInt64, extra: String = "") throws -> RouteTable {
            try TestRoutes.table("routes: [{ name: api, respond: { status: 200 }, rateLimit: \(rateLimit) }\(extra)]", version: version)
        }
        let first = registry.snapshot(of: try table("{ requests: 1, per: 1m }", version: 1), health: UnhealthyEndpoints())
        let unrelated = registry.snapshot(
            of: try table("{ requests: 1, per: 1m }", version: 2, extra: ", { name: other, respond: { status: 204 } }"),
            health: UnhealthyEndpoints())
        #expect(first.rateLimiters[0] === unrelated.rateLimiters[0])
        let changed = registry.snapshot(of: try table("{ requests: 2, per: 1m }", version: 3), health: UnhealthyEndpoints())
        #expect(changed.rateLimiters[0] !== unrelated.rateLimiters[0])
        #expect(unrelated.rateLimiters[1] == nil)
    }

    @Test func overTheLimitIs429WithRetryAfterPerKey() async throws {
        try await withGateway(routes: { port in
            """
            upstreams: [{ name: app, endpoints: ["127.0.0.1:\(port)"] }]
            routes:
              - { name: client, match: { path: { prefix: /client } }, upstream: app, rateLimit: { requests: 2, per: 1m } }
              - { name: keyed, match: { path: { prefix: /keyed } }, respond: { status: 200 }, rateLimit: { requests: 1, per: 30s, key: "header:X-Api-Key" } }
            """
        }) { gateway, upstream in
            let statuses = try await gateway.client.sendSequentially(["/client/1", "/client/2", "/client/3"]).map(\.status)
            #expect(statuses == [200, 200, 429])
            #expect(upstream.requestsReceived == 2)
            let limited = try await gateway.client.send(.GET, "/client/4")
            #expect(limited.status == 429)
            #expect(limited.body == #"{"error":"rate_limited","route":"client"}"#)
            let retryAfter = try #require(limited.headers.first(name: "retry-after").flatMap { Int($0) })
            #expect((1...30).contains(retryAfter))
            // One bucket per header value; requests without it share one.
            func keyed(_ key: String?) async throws -> Int {
                try await gateway.client.send(.GET, "/keyed", headers: [("host", "a")] + (key.map { [("x-api-key", $0)] } ?? [])).status
            }
            #expect(try await keyed("a") == 200)
            #expect(try await keyed("a") == 429)
            #expect(try await keyed("b") == 200)
            #expect(try await keyed(nil) == 200)
            #expect(try await keyed(nil) == 429)
        }
    }
}
