import Foundation
import PorticoTestSupport
import Testing

/// Routes with one file-defined route and upstream, for API tests.
func fileRoutes(upstreamPort: Int) -> String {
    """
    upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstreamPort)"] }]
    routes:
      - name: from-file
        match: { path: { prefix: /file } }
        upstream: app
    """
}

func apiRoute(_ name: String, prefix: String, upstream: String = "app") -> String {
    #"{"name": "\#(name)", "match": {"path": {"prefix": "\#(prefix)"}}, "upstream": "\#(upstream)"}"#
}

@Suite struct AdminAPITests {
    @Test func healthIsOpenAndV1NeedsTheToken() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: gateway.adminPort)
        let open = AdminClient(port: gateway.adminPort, token: nil)
        #expect(try await open.send(.GET, "/health/live").status == 200)
        #expect(try await open.send(.GET, "/health/ready").status == 200)
        let missing = try await open.send(.GET, "/v1/status")
        #expect(missing.status == 401)
        #expect(missing.json["error"] as? String == "unauthorized")
        #expect(try await AdminClient(port: gateway.adminPort, token: "wrong").send(.GET, "/v1/status").status == 401)
        let status = try await admin.send(.GET, "/v1/status")
        #expect(status.status == 200)
        #expect(status.json["routes"] as? Int == 1)
        #expect(status.json["upstreams"] as? Int == 1)
        #expect(status.json["draining"] as? [Any] != nil)
        #expect(status.json.keys.contains("lastError"))
        await gateway.stop()
        await upstream.stop()
    }

    @Test func generatesAPrivateTokenFileWhenNoTokenIsGiven() async throws {
        // An empty PORTICO_ADMIN_TOKEN counts as unset.
        let gateway = try await ServingGateway.start(
            routes: "", environment: ["PORTICO_ADMIN_TOKEN": "", "PORTICO_LOG_LEVEL": "info"])
        let path = gateway.folder.url.appendingPathComponent(".portico/admin.token").path
        let token = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(token.count >= 32)
        #expect(gateway.process.log.contains("admin.token"))
        #expect(!gateway.process.log.contains(token))
        #expect(try await AdminClient(port: gateway.adminPort, token: token).send(.GET, "/v1/status").status == 200)
        await gateway.stop()
    }

    @Test func routesAddedThroughTheAPIServeTrafficAndRefuseBadChanges() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: gateway.adminPort)
        #expect(try await gateway.client.send(.GET, "/api/x").status == 404)

        let created = try await admin.send(.POST, "/v1/routes", json: apiRoute("api", prefix: "/api"))
        #expect(created.status == 201)
        let version = try #require(created.header("etag"))
        let proxied = try await gateway.client.send(.GET, "/api/x")
        #expect(proxied.status == 200)
        #expect(proxied.body.hasPrefix("GET /api/x"))
        #expect(try await admin.send(.GET, "/v1/routes/api").json["upstream"] as? String == "app")
        #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("api", prefix: "/other")).status == 409)

        // NACK: an invalid change is refused whole; version and traffic stay.
        let invalid = try await admin.send(
            .POST, "/v1/routes",
            json: #"{"name": "bad", "match": {"path": {"prefix": "/b", "exact": "/c"}}, "upstream": "nowhere"}"#)
        #expect(invalid.status == 422)
        let details = invalid.json["details"] as? [[String: Any]] ?? []
        #expect(details.contains { $0["field"] as? String == "match.path" })
        let unknown = try await admin.send(.POST, "/v1/routes", json: apiRoute("bad", prefix: "/b", upstream: "nowhere"))
        #expect(unknown.status == 422)
        #expect(try await admin.send(.POST, "/v1/routes", json: "{not json").status == 400)
        let config = try await admin.send(.GET, "/v1/config")
        #expect(config.header("etag") == version)
        #expect(try await gateway.client.send(.GET, "/api/x").status == 200)

        let replaced = try await admin.send(
            .PUT, "/v1/routes/api", json: #"{"match": {"path": {"prefix": "/api"}}, "respond": {"status": 202, "body": "moved"}}"#)
        #expect(replaced.status == 200)
        #expect(try await gateway.client.send(.GET, "/api/x").status == 202)
        #expect(try await admin.send(.PUT, "/v1/routes/missing", json: apiRoute("missing", prefix: "/m")).status == 404)

        #expect(try await admin.send(.DELETE, "/v1/routes/api").status == 200)
        #expect(try await gateway.client.send(.GET, "/api/x").status == 404)
        #expect(try await admin.send(.DELETE, "/v1/routes/api").status == 404)
        await gateway.stop()
        await upstream.stop()
    }

    @Test func weightsChangeThroughTheAPIAndInvalidOnesAreNamed() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: "routes: []")
        let admin = AdminClient(port: gateway.adminPort)
        for (name, upstream) in [("v1", first), ("v2", second)] {
            let body = #"{"name": "\#(name)", "endpoints": ["127.0.0.1:\#(upstream.port)"]}"#
            #expect(try await admin.send(.POST, "/v1/upstreams", json: body).status == 201)
        }
        func split(_ v1: Int, _ v2: Int) -> String {
            #"{"name": "shop", "backends": [{"upstream": "v1", "weight": \#(v1)}, {"upstream": "v2", "weight": \#(v2)}]}"#
        }
        #expect(try await admin.send(.POST, "/v1/routes", json: split(100, 0)).status == 201)
        for index in 0..<5 { #expect(try await gateway.client.send(.GET, "/a\(index)").status == 200) }
        #expect(first.requestsReceived == 5 && second.requestsReceived == 0)
        #expect(try await admin.send(.PUT, "/v1/routes/shop", json: split(0, 100)).status == 200)
        for index in 0..<5 { #expect(try await gateway.client.send(.GET, "/b\(index)").status == 200) }
        #expect(first.requestsReceived == 5 && second.requestsReceived == 5)
        let shown = try await admin.send(.GET, "/v1/routes/shop").json["backends"] as? [[String: Any]]
        #expect(shown?.compactMap { $0["weight"] as? Int } == [0, 100])
        // An upstream a backend uses cannot go; an invalid weight is 422 naming the field.
        #expect(try await admin.send(.DELETE, "/v1/upstreams/v1").status == 409)
        let invalid = try await admin.send(.PUT, "/v1/routes/shop", json: split(0, 0))
        #expect(invalid.status == 422)
        let details = invalid.json["details"] as? [[String: Any]] ?? []
        #expect(details.contains { $0["field"] as? String == "backends" })
        await gateway.stop()
        await first.stop()
        await second.stop()
    }

    @Test func fileDefinedDefinitionsAreReadOnly() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: gateway.adminPort)
        let put = try await admin.send(.PUT, "/v1/routes/from-file", json: apiRoute("from-file", prefix: "/x"))
        #expect(put.status == 409)
        #expect((put.json["message"] as? String)?.contains("routes/app.yaml") == true)
        #expect(try await admin.send(.DELETE, "/v1/routes/from-file").status == 409)
        #expect(try await admin.send(.DELETE, "/v1/upstreams/app").status == 409)
        let config = #"{"upstreams": [], "routes": [\#(apiRoute("from-file", prefix: "/y"))]}"#
        #expect(try await admin.send(.PUT, "/v1/config", json: config).status == 409)
        await gateway.stop()
        await upstream.stop()
    }

    @Test func stateOfTheWorldConfigWithIfMatch() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: gateway.adminPort)
        let current = try await admin.send(.GET, "/v1/config")
        let etag = try #require(current.header("etag"))
        let body = #"""
            {"upstreams": [{"name": "second", "endpoints": ["127.0.0.1:\#(upstream.port)"]}],
             "routes": [\#(apiRoute("one", prefix: "/one", upstream: "second")), \#(apiRoute("two", prefix: "/two"))]}
            """#
        #expect(try await admin.send(.PUT, "/v1/config", json: body, headers: [("if-match", "\"999\"")]).status == 412)
        let accepted = try await admin.send(.PUT, "/v1/config", json: body, headers: [("if-match", etag)])
        #expect(accepted.status == 200)
        #expect(accepted.header("etag") != etag)
        #expect((accepted.json["routes"] as? [Any])?.count == 3)
        #expect(try await gateway.client.send(.GET, "/one").status == 200)
        // The old ETag is stale now.
        #expect(try await admin.send(.PUT, "/v1/config", json: body, headers: [("if-match", etag)]).status == 412)
        // An older version stays readable from the history.
        let versionNumber = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        let old = try await admin.send(.GET, "/v1/config?version=\(versionNumber)")
        #expect(old.status == 200)
        #expect((old.json["routes"] as? [Any])?.count == 1)
        // Upstream in use cannot go.
        #expect(try await admin.send(.DELETE, "/v1/upstreams/second").status == 409)
        await gateway.stop()
        await upstream.stop()
    }

    @Test func apiChangesSurviveARestart() async throws {
        let upstream = try await TestUpstream.start()
        let first = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: first.adminPort)
        #expect(try await admin.send(.POST, "/v1/upstreams", json: #"{"name": "up2", "endpoints": ["127.0.0.1:\#(upstream.port)"]}"#).status == 201)
        #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("kept", prefix: "/kept", upstream: "up2")).status == 201)
        let version = try await admin.send(.GET, "/v1/status").json["version"] as? Int ?? 0
        await first.process.stop()

        let second = try await ServingGateway.start(in: first.folder)
        #expect(try await second.client.send(.GET, "/kept/a").status == 200)
        let status = try await AdminClient(port: second.adminPort).send(.GET, "/v1/status")
        #expect(status.json["routes"] as? Int == 2)
        // Nothing changed across the restart, so nothing new was recorded (issue 14 #7).
        #expect(status.json["version"] as? Int == version)
        await second.stop()
        await upstream.stop()
    }

    @Test func logLinesAreJSONAndNeverCarryTheTokenOrAuthorization() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(
            routes: fileRoutes(upstreamPort: upstream.port), environment: ["PORTICO_LOG_LEVEL": "debug"])
        let admin = AdminClient(port: gateway.adminPort)
        _ = try await admin.send(.POST, "/v1/routes", json: apiRoute("r", prefix: "/r"))
        _ = try await AdminClient(port: gateway.adminPort, token: "wrong-secret").send(.GET, "/v1/status")
        _ = try await gateway.client.send(.GET, "/file/x", headers: [("host", "a"), ("authorization", "Bearer client-secret")])
        try await gateway.process.waitForLog(#""path":"/file/x""#)
        await gateway.process.stop()
        let lines = gateway.process.log.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count > 5)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not JSON: \(line)")
        }
        #expect(!gateway.process.log.contains(ServingGateway.adminToken))
        #expect(!gateway.process.log.contains("wrong-secret"))
        #expect(!gateway.process.log.contains("client-secret"))
        await gateway.stop()
        await upstream.stop()
    }
}
