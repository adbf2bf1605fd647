import Foundation
import PorticoTestSupport
import Testing

/// SPEC §14 through a `portico serve` process: dry runs change nothing, accepted changes and
/// `/v1/status` carry shadowed-route warnings, versions diff by name, `portico validate
/// --strict` fails on warnings.
@Suite struct ConfigReviewProcessTests {
    @Test func dryRunsWarningsAndDiffs() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: gateway.adminPort)
        let before = try await admin.send(.GET, "/v1/config")
        let version = try #require(before.json["version"] as? Int)

        let dry = try await admin.send(.POST, "/v1/routes?dryRun=true", json: apiRoute("twin", prefix: "/file"))
        #expect(dry.status == 200)
        #expect(dry.json["dryRun"] as? Bool == true)
        #expect(dry.json["valid"] as? Bool == true)
        let diff = try #require(dry.json["diff"] as? [String: Any])
        #expect((diff["routes"] as? [String: Any])?["added"] as? [String] == ["twin"])
        let warnings = try #require(dry.json["warnings"] as? [[String: Any]])
        #expect(warnings.first?["route"] as? String == "twin")
        #expect(warnings.first?["by"] as? String == "from-file")
        #expect(warnings.first?["code"] as? String == "shadowed")
        // Nothing changed: version, store, traffic.
        #expect(try await admin.send(.GET, "/v1/config").json["version"] as? Int == version)
        #expect(try await admin.send(.GET, "/v1/routes/twin").status == 404)
        // A dry run that would fail answers as the real call would.
        #expect(try await admin.send(.POST, "/v1/routes?dryRun=true", json: apiRoute("x", prefix: "/x", upstream: "nowhere")).status == 422)
        #expect(try await admin.send(.PUT, "/v1/config?dryRun=true", json: #"{"routes": [{"name": "from-file", "respond": {"status": 200}}]}"#).status == 409)
        #expect(try await admin.send(.POST, "/v1/routes?dryRun=maybe", json: apiRoute("x", prefix: "/x")).status == 400)
        let replaced = try await admin.send(
            .PUT, "/v1/config?dryRun=true", json: #"{"routes": [\#(apiRoute("one", prefix: "/one"))]}"#)
        #expect(replaced.status == 200)
        #expect(try await admin.send(.GET, "/v1/config").json["version"] as? Int == version)

        // The real change is accepted with its warning, which /v1/status shows too.
        let added = try await admin.send(.POST, "/v1/routes", json: apiRoute("twin", prefix: "/file"))
        #expect(added.status == 201)
        #expect((added.json["warnings"] as? [[String: Any]])?.first?["route"] as? String == "twin")
        let status = try await admin.send(.GET, "/v1/status")
        #expect((status.json["warnings"] as? [[String: Any]])?.map { $0["route"] as? String } == ["twin"])
        #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("other", prefix: "/other")).status == 201)

        // Diffs between kept versions, by name.
        let last = try await admin.send(.GET, "/v1/config/diff")
        #expect(last.status == 200)
        #expect(last.json["to"] as? Int == version + 2)
        #expect(last.json["from"] as? Int == version + 1)
        #expect((last.json["routes"] as? [String: Any])?["added"] as? [String] == ["other"])
        let both = try await admin.send(.GET, "/v1/config/diff?from=\(version)&to=\(version + 2)")
        #expect((both.json["routes"] as? [String: Any])?["added"] as? [String] == ["twin", "other"])
        #expect((both.json["upstreams"] as? [String: Any])?["changed"] as? [String] == [])
        #expect(try await admin.send(.GET, "/v1/config/diff?from=999").status == 404)
        await gateway.stop()
        await upstream.stop()
    }

    @Test func validateWarnsAndStrictFails() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write(
            "routes/a.yaml",
            "routes:\n  - { name: first, respond: { status: 200 } }\n  - { name: second, respond: { status: 201 } }\n")
        let lenient = try PorticoProcess.start(["validate", "routes"], directory: folder.url)
        #expect(try await lenient.waitForExit() == 0)
        #expect(lenient.log.contains("warning: routes/a.yaml: route second: can never be chosen: route first"))
        let strict = try PorticoProcess.start(["validate", "--strict", "routes"], directory: folder.url)
        #expect(try await strict.waitForExit() == 1)
    }

    @Test func versionsAcrossFilesAPIAndARestartAndARollback() async throws {
        let upstream = try await TestUpstream.start()
        var gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        var admin = AdminClient(port: gateway.adminPort)
        let start = try #require(try await admin.send(.GET, "/v1/config").json["version"] as? Int)
        #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("one", prefix: "/one")).status == 201)
        let kept = start + 1
        try gateway.folder.write("routes/extra.yaml", "routes: [{ name: extra, match: { path: { prefix: /extra } }, respond: { status: 204 } }]\n")
        var version = start
        for _ in 0..<100 where version != start + 2 {
            version = try await admin.send(.GET, "/v1/config").json["version"] as? Int ?? start
            if version != start + 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(version == start + 2)
        #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("two", prefix: "/two")).status == 201)
        #expect(try await admin.send(.DELETE, "/v1/routes/one").status == 200)
        #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("three", prefix: "/three")).status == 201)

        // Kept across a restart, which itself records nothing new.
        await gateway.process.stop()
        gateway = try await ServingGateway.start(in: gateway.folder)
        admin = AdminClient(port: gateway.adminPort)
        let listed = try #require(try await admin.send(.GET, "/v1/config/versions").json["versions"] as? [[String: Any]])
        #expect(listed.map { $0["version"] as? Int } == (start...(start + 5)).reversed().map { $0 })
        #expect(listed.map { $0["source"] as? String } == ["api", "api", "api", "files", "api", "start"])
        #expect(listed.first?["routes"] as? Int == 4)  // from-file, extra, two, three
        #expect(listed.first?["upstreams"] as? Int == 1)
        #expect((listed.first?["createdAt"] as? String)?.hasSuffix("Z") == true)

        // Back to the API part of `kept`: "one" returns, "two" and "three" go; the files stay.
        let rolledBack = try await admin.send(.POST, "/v1/config/rollback", json: #"{"version": \#(kept)}"#)
        #expect(rolledBack.status == 200)
        #expect(rolledBack.json["version"] as? Int == start + 6)
        #expect(try await gateway.client.send(.GET, "/one").status == 200)
        #expect(try await gateway.client.send(.GET, "/two").status == 404)
        #expect(try await gateway.client.send(.GET, "/extra").status == 204)
        #expect(try await admin.send(.GET, "/v1/config/versions").json["versions"].flatMap { ($0 as? [[String: Any]])?.first?["source"] as? String } == "rollback")
        #expect(try await admin.send(.POST, "/v1/config/rollback", json: #"{"version": 99999}"#).status == 404)
        #expect(try await admin.send(.POST, "/v1/config/rollback", json: #"{"version": "x"}"#).status == 400)
        // A name the version would restore is defined in a file now: 409.
        try gateway.folder.write("routes/three.yaml", "routes: [{ name: three, respond: { status: 200 } }]\n")
        for _ in 0..<100 {
            if try await gateway.client.send(.GET, "/three").status == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await admin.send(.POST, "/v1/config/rollback", json: #"{"version": \#(start + 5)}"#).status == 409)
        await gateway.stop()
        await upstream.stop()
    }

    @Test func explainByAPIAndCommandLine() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(
            routes: """
                upstreams: [{ name: hrm, endpoints: ["127.0.0.1:\(upstream.port)"] }]
                routes:
                  - { name: hrm, hosts: [api.veni.ai], match: { path: { prefix: /hrm } }, rewrite: { prefix: /v1 }, upstream: hrm }
                  - { name: canary, hosts: [api.veni.ai], match: { path: { prefix: /hrm }, headers: { x-canary: "1" } }, upstream: hrm }
                  - { name: wild, hosts: ["*.veni.ai"], match: { path: { prefix: /hrm } }, respond: { status: 200 } }
                """)
        let admin = AdminClient(port: gateway.adminPort)
        let answer = try await admin.send(
            .POST, "/v1/explain", json: #"{"method": "GET", "url": "https://api.veni.ai/hrm/users?x=1", "headers": {"x-canary": "1"}}"#)
        #expect(answer.status == 200)
        #expect(answer.json["route"] as? String == "canary")
        #expect(answer.json["upstream"] as? String == "hrm")
        #expect(answer.json["path"] as? String == "/hrm/users?x=1")
        #expect(answer.json["decidedBy"] as? String == "conditions")
        let candidates = try #require(answer.json["candidates"] as? [[String: Any]])
        #expect(candidates.map { $0["route"] as? String } == ["canary", "hrm", "wild"])
        #expect(candidates.map { $0["reason"] as? String }.last == "lost to canary by exact_host")
        let plain = try await admin.send(.POST, "/v1/explain", json: #"{"url": "http://api.veni.ai/hrm/users"}"#)
        #expect(plain.json["route"] as? String == "hrm")
        #expect(plain.json["path"] as? String == "/v1/users")
        #expect(plain.json["decidedBy"] as? String == "exact_host")
        let answered = try await admin.send(.POST, "/v1/explain", json: #"{"url": "http://x.veni.ai/hrm"}"#)
        #expect(answered.json["route"] as? String == "wild")
        #expect(answered.json["upstream"] is NSNull)
        #expect(answered.json["decidedBy"] as? String == "only_match")
        let none = try await admin.send(.POST, "/v1/explain", json: #"{"url": "http://elsewhere.test/"}"#)
        #expect(none.json["route"] is NSNull)
        #expect(try await admin.send(.POST, "/v1/explain", json: #"{"url": "/relative"}"#).status == 400)
        #expect(try await admin.send(.POST, "/v1/explain", json: #"{"method": 5, "url": "http://a/"}"#).status == 400)

        let command = try PorticoProcess.start(
            ["explain", "https://api.veni.ai/hrm/users?x=1", "-H", "x-canary: 1", "--admin-addr", "127.0.0.1:\(gateway.adminPort)",
             "--admin-token", ServingGateway.adminToken], directory: gateway.folder.url)
        #expect(try await command.waitForExit() == 0)
        #expect(command.log.contains("route     canary  (decided by conditions)"))
        #expect(command.log.contains("upstream  hrm"))
        #expect(command.log.contains("  wild: lost to canary by exact_host"))
        await gateway.stop()
        await upstream.stop()
    }
}
