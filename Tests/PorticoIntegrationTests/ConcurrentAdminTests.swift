import Foundation
import PorticoControl
import PorticoTestSupport
import Testing

extension HeavyIntegrationTests {
    /// Admin calls that arrive at once on the real binary with its embedded SQLite store
    /// (issue 14 #5, #6, #7, #9).
    @Suite(.serialized) struct ConcurrentAdminTests {
        private func respondRoute(_ name: String) -> String {
            #"{"name": "\#(name)", "match": {"path": {"prefix": "/\#(name)"}}, "respond": {"status": 200, "body": "\#(name)"}}"#
        }

        @Test func concurrentRoutesPortsAndDeletesAreAllKeptAcrossARestart() async throws {
            let environment = ["PORTICO_PORT_START": "21300", "PORTICO_PORT_END": "21399"]
            let gateway = try await ServingGateway.start(routes: "", environment: environment)
            let admin = AdminClient(port: gateway.adminPort)
            for index in 0..<20 {
                #expect(try await admin.send(.POST, "/v1/routes", json: respondRoute("old-\(index)")).status == 201)
            }
            let before = try await admin.send(.GET, "/v1/config").json["version"] as? Int ?? 0

            // 50 route POSTs, 50 port allocations and 20 DELETEs, all at once.
            enum Call: Sendable { case route(Int), port(Int), delete(Int) }
            let calls = (0..<50).map(Call.route) + (0..<50).map(Call.port) + (0..<20).map(Call.delete)
            let answers = try await withThrowingTaskGroup(of: (Call, Int, Int?).self) { group in
                for call in calls {
                    group.addTask {
                        let response: AdminAPIClient.Response
                        switch call {
                        case .route(let index): response = try await admin.send(.POST, "/v1/routes", json: respondRoute("new-\(index)"))
                        case .port(let index):
                            response = try await admin.send(.POST, "/v1/tenants/t\(index % 5)/ports", json: #"{"name": "p\#(index)"}"#)
                        case .delete(let index): response = try await admin.send(.DELETE, "/v1/routes/old-\(index)")
                        }
                        return (call, response.status, response.json["port"] as? Int)
                    }
                }
                var answers: [(Call, Int, Int?)] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
            let statuses = answers.map(\.1)
            #expect(statuses.filter { $0 >= 500 }.isEmpty, "\(statuses.filter { $0 >= 500 }.count) answers of 5xx")
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 201 }, "\(Set(statuses))")
            var allocated: [String: Int] = [:]
            for case (.port(let index), 201, let port) in answers { allocated["p\(index)"] = port }
            #expect(allocated.count == 50)
            #expect(Set(allocated.values).count == 50)
            let after = try await admin.send(.GET, "/v1/config").json["version"] as? Int ?? 0
            #expect(after == before + 70, "70 changes, \(after - before) versions")
            await gateway.process.stop()

            // Every answered change survives the restart, and each port stays where it was.
            let restarted = try await ServingGateway.start(in: gateway.folder, environment: environment)
            let again = AdminClient(port: restarted.adminPort)
            let config = try await again.send(.GET, "/v1/config").json
            #expect(config["version"] as? Int == after)
            let names = Set((config["routes"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
            #expect(names == Set((0..<50).map { "new-\($0)" }))
            let ports = try await again.send(.GET, "/v1/ports").json["allocations"] as? [[String: Any]] ?? []
            var kept: [String: Int] = [:]
            for allocation in ports { kept[allocation["name"] as? String ?? "?"] = allocation["port"] as? Int }
            #expect(kept == allocated)
            await restarted.stop()
        }

        @Test func ofEightConcurrentPutsWithTheSameIfMatchExactlyOneIsAccepted() async throws {
            let gateway = try await ServingGateway.start(routes: "")
            let admin = AdminClient(port: gateway.adminPort)
            let version = try await admin.send(.GET, "/v1/config").json["version"] as? Int ?? 0
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<8 {
                    let route = respondRoute("w\(index)")
                    group.addTask {
                        try await admin.send(
                            .PUT, "/v1/config", json: #"{"routes": [\#(route)]}"#,
                            headers: [("If-Match", "\"\(version)\"")]
                        ).status
                    }
                }
                var statuses: [Int] = []
                for try await status in group { statuses.append(status) }
                return statuses
            }
            #expect(statuses.sorted() == [200] + Array(repeating: 412, count: 7), "\(statuses)")

            // Single routes honour If-Match too (SPEC §14).
            let now = try await admin.send(.GET, "/v1/config").json["version"] as? Int ?? 0
            let name = try #require((try await admin.send(.GET, "/v1/routes").json["routes"] as? [[String: Any]])?.first?["name"] as? String)
            #expect(try await admin.send(.PUT, "/v1/routes/\(name)", json: respondRoute(name), headers: [("If-Match", "\"\(now - 1)\"")]).status == 412)
            #expect(try await admin.send(.DELETE, "/v1/routes/\(name)", headers: [("If-Match", "\"\(now - 1)\"")]).status == 412)
            #expect(try await admin.send(.DELETE, "/v1/routes/\(name)", headers: [("If-Match", "\"\(now)\"")]).status == 200)
            await gateway.stop()
        }

        @Test func anUnknownAdminPathIsAJSONErrorAndTheTokenPathIsLoggedAbsolute() async throws {
            let folder = try TemporaryFolder()
            try folder.write("routes/a.yaml", "")
            // No PORTICO_ADMIN_TOKEN: a token is generated into the state folder.
            let gateway = try await ServingGateway.start(in: folder, environment: ["PORTICO_ADMIN_TOKEN": ""])
            let token = try String(contentsOf: folder.url.appendingPathComponent(".portico/admin.token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let tokenPath = folder.url.appendingPathComponent(".portico/admin.token").standardizedFileURL.path
            #expect(gateway.process.log.contains(tokenPath), "the log names the token file by its absolute path")
            for (path, auth) in [("/v1/nothing-here", true), ("/nowhere", false)] {
                let response = try await AdminClient(port: gateway.adminPort, token: auth ? token : nil).send(.GET, path)
                #expect(response.status == 404)
                #expect(response.json["error"] as? String == "not_found", "\(path): \(response.body)")
                #expect(response.header("content-type")?.hasPrefix("application/json") == true)
            }
            // Versions no store can hold: not kept (404), or not a version at all (400).
            let admin = AdminClient(port: gateway.adminPort, token: token)
            #expect(try await admin.send(.GET, "/v1/config?version=18446744073709551615").status == 404)
            #expect(try await admin.send(.GET, "/v1/config?version=9223372036854775807").status == 404)
            #expect(try await admin.send(.GET, "/v1/config?version=99999999999999999999").status == 400)
            #expect(try await admin.send(.GET, "/v1/config?version=-1").status == 400)
            await gateway.stop()
        }
    }
}
