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

/// `deploy/grafana/portico.json` (SPEC §16): a dashboard whose every query names only
/// metrics a gateway exports once it has served the traffic the panels are about.
@Suite struct DashboardTests {
    @Test func everyQueryNamesAnExportedMetric() async throws {
        let upstream = try await TestUpstream.start()
        let auth = try await TestHTTPServer.start { _ in .init(status: 204) }
        let closed = try refusingLoopbackPort()
        let gateway = try await ServingGateway.start(
            routes: """
                upstreams:
                  - { name: app, endpoints: ["127.0.0.1:\(upstream.port)"] }
                  - name: flaky
                    endpoints: ["127.0.0.1:\(closed)", "127.0.0.1:\(upstream.port)"]
                    outlierDetection: { consecutiveFailures: 1, maxEjectionPercent: 50 }
                routes:
                  - { name: app, match: { path: { prefix: /app } }, upstream: app }
                  - { name: flaky, match: { path: { prefix: /flaky } }, upstream: flaky, retries: { on: [connect-failure] } }
                  - { name: authed, match: { path: { prefix: /authed } }, upstream: app,
                      auth: { forward: { url: "http://127.0.0.1:\(auth.port)/check" } } }
                  - { name: limited, match: { path: { exact: /limited } }, respond: { status: 200 }, rateLimit: { requests: 1, per: 1m } }
                """,
            environment: ["PORTICO_PORT_START": "22010", "PORTICO_PORT_END": "22019"])
        for path in ["/app/x", "/flaky/1", "/flaky/2", "/flaky/3", "/flaky/4", "/authed/x", "/limited", "/limited", "/none"] {
            _ = try await gateway.client.send(.GET, path)
        }
        let admin = AdminClient(port: gateway.adminPort)
        #expect(try await admin.send(.POST, "/v1/routes", json: #"{"name": "x", "respond": {"status": 200}}"#).status == 201)
        #expect(try await admin.send(.POST, "/v1/tenants/acme/ports", json: #"{"name": "redis"}"#).status == 201)
        // A tenant's route and a request to it.
        #expect(try await admin.send(.PUT, "/v1/tenants/acme", json: #"{"hosts": ["acme.example.com"]}"#).status == 200)
        #expect(
            try await admin.send(
                .POST, "/v1/upstreams", json: #"{"name": "acme-app", "tenant": "acme", "endpoints": ["127.0.0.1:\#(upstream.port)"]}"#
            ).status == 201)
        #expect(
            try await admin.send(
                .POST, "/v1/routes", json: #"{"name": "acme", "tenant": "acme", "hosts": ["acme.example.com"], "upstream": "acme-app"}"#
            ).status == 201)
        #expect(try await gateway.client.send(.GET, "/", headers: [("host", "acme.example.com")]).status == 200)
        let exported = Set(
            prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body).keys.map {
                String($0.prefix { $0 != "{" })
            })
        await gateway.stop()
        await auth.stop()
        await upstream.stop()

        let data = try Data(contentsOf: URL(fileURLWithPath: PackageRoot.path + "/deploy/grafana/portico.json"))
        let dashboard = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count >= 15)
        let pattern = /portico_[a-z_]+/
        var named = Set<String>()
        for expression in expressions {
            let names = expression.matches(of: pattern).map { String($0.output) }
            #expect(!names.isEmpty, "\(expression) names no metric")
            named.formUnion(names)
        }
        #expect(named.subtracting(exported).isEmpty, "not exported: \(named.subtracting(exported).sorted())")
        // The panels SPEC §16 lists are all there.
        for metric in [
            "portico_requests_total", "portico_request_duration_seconds_bucket", "portico_upstream_errors_total",
            "portico_upstream_retries_total", "portico_upstream_ejections_total", "portico_active_connections",
            "portico_route_table_version", "portico_config_reloads_total", "portico_draining_requests",
            "portico_port_pool_allocated", "portico_rate_limited_total", "portico_auth_total",
            "portico_trace_spans_dropped_total", "portico_tenant_requests_total",
        ] {
            #expect(named.contains(metric), "no panel uses \(metric)")
        }
    }
}
