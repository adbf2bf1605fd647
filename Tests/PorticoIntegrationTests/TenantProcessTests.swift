import Foundation
import NIOHTTP1
import PorticoTestSupport
import Testing

/// Tenants through the built gateway on SQLite (SPEC §15): scoped tokens, host ownership,
/// quotas, and traffic counted by tenant.
@Suite(.serialized) struct TenantProcessTests {
    private static let acmeTenant = #"{"hosts": ["acme.example.com", "*.acme.example.com"], "quota": {"routes": 2, "upstreams": 1, "ports": 1}}"#

    private func token(_ admin: AdminClient, for tenant: String) async throws -> (id: String, text: String) {
        let made = try await admin.send(.POST, "/v1/tenants/\(tenant)/tokens")
        #expect(made.status == 201)
        return (try #require(made.json["id"] as? String), try #require(made.json["token"] as? String))
    }

    @Test func tenantTokensSeeAndChangeOnlyTheirOwn() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: "routes: [{ name: operator, hosts: [ops.example.com], respond: { status: 200 } }]")
        defer { Task { await gateway.stop() } }
        let admin = AdminClient(port: gateway.adminPort)

        // The operator defines two tenants; overlapping hosts are refused.
        let put = try await admin.send(.PUT, "/v1/tenants/acme", json: Self.acmeTenant)
        #expect(put.status == 200)
        #expect(put.json["hosts"] as? [String] == ["acme.example.com", "*.acme.example.com"])
        #expect(try await admin.send(.PUT, "/v1/tenants/beta", json: #"{"hosts": ["beta.example.com"]}"#).status == 200)
        let overlapping = try await admin.send(.PUT, "/v1/tenants/gamma", json: #"{"hosts": ["*.example.com"]}"#)
        #expect(overlapping.status == 409, "\(overlapping.body)")
        #expect(try await admin.send(.PUT, "/v1/tenants/gamma", json: #"{"hosts": ["x..y"], "quota": {"routes": -1}}"#).status == 422)
        #expect((try await admin.send(.GET, "/v1/tenants").json["tenants"] as? [[String: Any]])?.count == 2)

        let acme = try await token(admin, for: "acme")
        let beta = try await token(admin, for: "beta")
        let acmeClient = AdminClient(port: gateway.adminPort, token: acme.text)
        let betaClient = AdminClient(port: gateway.adminPort, token: beta.text)

        // What acme's token creates is acme's.
        let createdUpstream = try await acmeClient.send(
            .POST, "/v1/upstreams", json: #"{"name": "acme-app", "endpoints": ["127.0.0.1:\#(upstream.port)"]}"#)
        #expect(createdUpstream.status == 201, "\(createdUpstream.body)")
        #expect(createdUpstream.json["tenant"] as? String == "acme")
        let route = #"{"name": "acme-api", "hosts": ["api.acme.example.com"], "upstream": "acme-app"}"#
        #expect(try await acmeClient.send(.POST, "/v1/routes", json: route).status == 201)
        // Not its host, no host, another tenant's upstream, another tenant named.
        let foreignHost = try await acmeClient.send(
            .POST, "/v1/routes", json: #"{"name": "x1", "hosts": ["beta.example.com"], "upstream": "acme-app"}"#)
        #expect(foreignHost.status == 422)
        #expect((foreignHost.json["details"] as? [[String: Any]])?.first?["field"] as? String == "hosts[0]")
        let noHost = try await acmeClient.send(.POST, "/v1/routes", json: #"{"name": "x2", "upstream": "acme-app"}"#)
        #expect((noHost.json["details"] as? [[String: Any]])?.first?["field"] as? String == "hosts")
        #expect(try await betaClient.send(.POST, "/v1/upstreams", json: #"{"name": "beta-app", "endpoints": ["127.0.0.1:1"]}"#).status == 201)
        let foreignUpstream = try await acmeClient.send(
            .POST, "/v1/routes", json: #"{"name": "x3", "hosts": ["acme.example.com"], "upstream": "beta-app"}"#)
        #expect((foreignUpstream.json["details"] as? [[String: Any]])?.first?["field"] as? String == "upstream")
        let otherTenant = try await acmeClient.send(
            .POST, "/v1/routes", json: #"{"name": "x4", "tenant": "beta", "hosts": ["beta.example.com"], "upstream": "beta-app"}"#)
        #expect((otherTenant.json["details"] as? [[String: Any]])?.first?["field"] as? String == "tenant")

        // Each sees its own; another's answers 404 as if absent.
        let acmeRoutes = (try await acmeClient.send(.GET, "/v1/routes").json["routes"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
        #expect(acmeRoutes == ["acme-api"])
        #expect(try await betaClient.send(.GET, "/v1/routes/acme-api").status == 404)
        #expect(try await betaClient.send(.DELETE, "/v1/routes/acme-api").status == 404)
        #expect(try await betaClient.send(.PUT, "/v1/routes/acme-api", json: route).status == 404)
        #expect(try await betaClient.send(.GET, "/v1/routes/operator").status == 404)
        #expect(try await betaClient.send(.GET, "/v1/upstreams/acme-app").status == 404)
        // The admin token sees everything, as before.
        #expect((try await admin.send(.GET, "/v1/routes").json["routes"] as? [[String: Any]])?.count == 2)

        // A table of path × token kind.
        let revoked = try await token(admin, for: "beta")
        #expect(try await admin.send(.DELETE, "/v1/tenants/beta/tokens/\(revoked.id)").status == 200)
        try await TenantScopes.check(
            port: gateway.adminPort, tenantToken: acme.text, revokedToken: revoked.text, route: "acme-api", tenantBody: Self.acmeTenant)

        // Traffic on a tenant's route is counted by tenant.
        #expect(try await gateway.client.send(.GET, "/x", headers: [("host", "api.acme.example.com")]).status == 200)
        let metrics = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        #expect(metrics[#"portico_tenant_requests_total{tenant="acme",code="200"}"#] == 1)

        // Revocation is at once; a tenant with routes cannot be deleted.
        #expect(try await admin.send(.DELETE, "/v1/tenants/acme/tokens/\(acme.id)").status == 200)
        #expect(try await acmeClient.send(.GET, "/v1/routes").status == 401)
        #expect(try await admin.send(.DELETE, "/v1/tenants/acme/tokens/\(acme.id)").status == 404)
        // Tokens are never logged.
        for text in [acme.text, beta.text, revoked.text] {
            #expect(!gateway.process.log.contains(text))
            #expect(!gateway.process.log.contains(String(text.dropFirst(21))))
        }
        await upstream.stop()
    }

    @Test func quotasHoldUnderConcurrentCreationAndSurviveARestart() async throws {
        let gateway = try await ServingGateway.start(routes: "")
        let admin = AdminClient(port: gateway.adminPort)
        #expect(try await admin.send(.PUT, "/v1/tenants/acme", json: Self.acmeTenant).status == 200)
        let acme = try await token(admin, for: "acme")
        let client = AdminClient(port: gateway.adminPort, token: acme.text)
        #expect(try await client.send(.POST, "/v1/upstreams", json: #"{"name": "app", "endpoints": ["127.0.0.1:1"]}"#).status == 201)
        #expect(try await client.send(.POST, "/v1/upstreams", json: #"{"name": "app2", "endpoints": ["127.0.0.1:1"]}"#).status == 409)
        // Ten routes at once against a quota of two: exactly two are made.
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<10 {
                group.addTask {
                    try await client.send(
                        .POST, "/v1/routes", json: #"{"name": "r\#(index)", "hosts": ["r\#(index).acme.example.com"], "upstream": "app"}"#
                    ).status
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.sorted() == [201, 201] + Array(repeating: 409, count: 8))
        let refused = try await client.send(.POST, "/v1/routes", json: #"{"name": "more", "hosts": ["acme.example.com"], "upstream": "app"}"#)
        #expect(refused.json["error"] as? String == "quota_exceeded")
        // Ports: one, and the same name again is the same port.
        #expect(try await client.send(.POST, "/v1/tenants/acme/ports", json: #"{"name": "db"}"#).status == 201)
        #expect(try await client.send(.POST, "/v1/tenants/acme/ports", json: #"{"name": "db"}"#).status == 200)
        let portRefused = try await client.send(.POST, "/v1/tenants/acme/ports", json: #"{"name": "cache"}"#)
        #expect(portRefused.status == 409)
        #expect(portRefused.json["error"] as? String == "quota_exceeded")

        // Tenants, tokens and owners survive a restart.
        await gateway.process.stop()
        let again = try await ServingGateway.start(in: gateway.folder)
        let restarted = AdminClient(port: again.adminPort, token: acme.text)
        #expect((try await restarted.send(.GET, "/v1/routes").json["routes"] as? [[String: Any]])?.count == 2)
        #expect(try await restarted.send(.POST, "/v1/routes", json: #"{"name": "more", "hosts": ["acme.example.com"], "upstream": "app"}"#).status == 409)
        #expect(try await AdminClient(port: again.adminPort).send(.GET, "/v1/tenants/acme").json["quota"] as? [String: Int] == ["routes": 2, "upstreams": 1, "ports": 1])
        await again.stop()
    }
}

/// Every `/v1` path for each kind of caller (SPEC §15): the admin token, tenant acme's token,
/// a revoked one, none, and a wrong one.
enum TenantScopes {
    /// - Parameters:
    ///   - route: One of acme's routes.
    ///   - tenantBody: acme's definition, which the admin's `PUT /v1/tenants/acme` sends again.
    static func check(port: Int, tenantToken: String, revokedToken: String, route: String, tenantBody: String) async throws {
        let callers: [(String, AdminClient)] = [
            ("admin", AdminClient(port: port)), ("tenant", AdminClient(port: port, token: tenantToken)),
            ("revoked", AdminClient(port: port, token: revokedToken)), ("none", AdminClient(port: port, token: nil)),
            ("wrong", AdminClient(port: port, token: "ptk_nope")),
        ]
        let table: [(method: HTTPMethod, path: String, admin: Int, tenant: Int)] = [
            (.GET, "/v1/routes", 200, 200), (.GET, "/v1/upstreams", 200, 200), (.GET, "/v1/routes/\(route)", 200, 200),
            (.GET, "/v1/tenants/acme/ports", 200, 200), (.GET, "/v1/tenants/beta/ports", 200, 403),
            (.POST, "/v1/explain", 200, 200), (.GET, "/v1/config", 200, 403), (.PUT, "/v1/config", 422, 403),
            (.GET, "/v1/status", 200, 403), (.GET, "/v1/ports", 200, 403), (.GET, "/v1/config/versions", 200, 403),
            (.POST, "/v1/config/rollback", 400, 403), (.GET, "/v1/tenants", 200, 403), (.GET, "/v1/tenants/acme", 200, 403),
            (.PUT, "/v1/tenants/acme", 200, 403), (.POST, "/v1/tenants/acme/tokens", 201, 403),
            (.GET, "/v1/tenants/acme/tokens", 200, 403), (.DELETE, "/v1/tenants/acme", 409, 403),
        ]
        for row in table {
            for (kind, client) in callers {
                let body: String? =
                    switch (row.method, row.path) {
                    case (.POST, "/v1/explain"): #"{"method": "GET", "url": "http://api.acme.example.com/"}"#
                    case (.PUT, "/v1/config"): #"{"routes": "no"}"#
                    case (.POST, "/v1/config/rollback"): "{}"
                    case (.PUT, "/v1/tenants/acme"): tenantBody
                    default: nil
                    }
                let expected = kind == "admin" ? row.admin : kind == "tenant" ? row.tenant : 401
                let answer = try await client.send(row.method, row.path, json: body)
                #expect(answer.status == expected, "\(kind) \(row.method.rawValue) \(row.path): \(answer.body)")
                if expected == 403 { #expect(answer.json["error"] as? String == "forbidden") }
            }
        }
    }
}
