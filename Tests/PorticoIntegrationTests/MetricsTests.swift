import Foundation
import PorticoControl
import PorticoTestSupport
import Testing

/// Prometheus text as samples: `name{labels}` → value.
@Suite struct MetricsTests {
    @Test func countersAndHistogramsMatchTheTrafficSent() async throws {
        let upstream = try await TestUpstream.start()
        let closed = try refusingLoopbackPort()
        let gateway = try await ServingGateway.start(
            routes: """
                upstreams:
                  - { name: app, endpoints: ["127.0.0.1:\(upstream.port)"] }
                  - { name: gone, endpoints: ["127.0.0.1:\(closed)"] }
                routes:
                  - { name: app, match: { path: { prefix: /app } }, upstream: app }
                  - { name: gone, match: { path: { prefix: /gone } }, upstream: gone }
                  - { name: made, match: { path: { exact: /made } }, respond: { status: 201 } }
                  - { name: limited, match: { path: { exact: /limited } }, respond: { status: 200 }, rateLimit: { requests: 1, per: 1m } }
                """,
            environment: ["PORTICO_PORT_START": "22000", "PORTICO_PORT_END": "22009"])
        for _ in 0..<7 { #expect(try await gateway.client.send(.GET, "/app/x").status == 200) }
        for _ in 0..<3 { #expect(try await gateway.client.send(.GET, "/made").status == 201) }
        for _ in 0..<2 { #expect(try await gateway.client.send(.GET, "/gone").status == 502) }
        #expect(try await gateway.client.send(.GET, "/nothing").status == 404)
        #expect(try await gateway.client.send(.GET, "/limited").status == 200)
        for _ in 0..<2 { #expect(try await gateway.client.send(.GET, "/limited").status == 429) }
        let admin = AdminClient(port: gateway.adminPort)
        #expect(try await admin.send(.POST, "/v1/routes", json: #"{"name": "x", "respond": {"status": 200}}"#).status == 201)
        #expect(try await admin.send(.POST, "/v1/routes", json: #"{"name": "y", "upstream": "missing"}"#).status == 422)
        #expect(try await admin.send(.POST, "/v1/tenants/acme/ports", json: #"{"name": "redis"}"#).status == 201)

        let response = try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics")
        #expect(response.status == 200)
        #expect(response.header("content-type")?.hasPrefix("text/plain") == true)
        let metrics = prometheusSamples(response.body)
        #expect(metrics[#"portico_requests_total{route="app",code="200"}"#] == 7)
        #expect(metrics[#"portico_requests_total{route="made",code="201"}"#] == 3)
        #expect(metrics[#"portico_requests_total{route="gone",code="502"}"#] == 2)
        #expect(metrics[#"portico_requests_total{route="no_route",code="404"}"#] == 1)
        #expect(metrics[#"portico_rate_limited_total{route="limited"}"#] == 2)
        #expect(metrics[#"portico_request_duration_seconds_count{route="app"}"#] == 7)
        #expect(metrics[#"portico_request_duration_seconds_bucket{route="app",le="+Inf"}"#] == 7)
        #expect(metrics[#"portico_request_duration_seconds_bucket{route="app",le="0.0005"}"#] != nil)
        #expect(metrics[#"portico_request_duration_seconds_bucket{route="app",le="30.0"}"#] == 7)
        #expect(metrics[#"portico_upstream_errors_total{upstream="gone",kind="connect"}"#] == 2)
        // Responses by the upstream that served them; the gateway's own 502s are not one's.
        #expect(metrics[#"portico_upstream_requests_total{upstream="app",code="200"}"#] == 7)
        #expect(metrics[#"portico_upstream_requests_total{upstream="gone",code="502"}"#] == nil)
        #expect(metrics[#"portico_config_reloads_total{result="accepted"}"#] == 1)
        #expect(metrics[#"portico_config_reloads_total{result="rejected"}"#] == 1)
        #expect(metrics["portico_route_table_version"] == Double(try await admin.send(.GET, "/v1/status").json["version"] as? Int ?? -1))
        #expect(metrics["portico_port_pool_allocated"] == 1)
        #expect(metrics["portico_port_pool_capacity"] == 10)
        #expect(metrics["portico_draining_requests"] == 0)
        #expect(metrics["portico_active_connections"] != nil)
        // The route label is the route's name, never the raw path.
        #expect(!response.body.contains("/app/x"))
        await gateway.stop()
        await upstream.stop()
    }
}
