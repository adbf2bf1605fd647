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
}
