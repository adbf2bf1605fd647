import Foundation
import PorticoTestSupport
import Testing

extension HeavyIntegrationTests {
    /// Several `portico` processes sharing one PostgreSQL store (SPEC §2 `PORTICO_STATE`).
    /// Each test makes its own throwaway cluster on a loopback port.
    @Suite(.serialized, .enabled(if: TestPostgres.shouldRun, "needs a PostgreSQL server (Debian's postgresql)"))
    struct SharedStoreTests {
        private func withReplicas(
            _ count: Int, _ body: (TestPostgres, [ServingGateway]) async throws -> Void
        ) async throws {
            let database = try await TestPostgres.start()
            var replicas: [ServingGateway] = []
            do {
                for _ in 0..<count {
                    replicas.append(
                        try await ServingGateway.start(
                            routes: "routes: [{ name: local, match: { path: { prefix: /local } }, respond: { status: 200, body: local } }]\n",
                            arguments: ["--state", database.url]))
                }
                try await body(database, replicas)
            } catch {
                for replica in replicas { await replica.stop() }
                await database.destroy()
                throw error
            }
            for replica in replicas { await replica.stop() }
            await database.destroy()
        }

        private func addRoute(_ name: String, on replica: ServingGateway) async throws -> Int {
            try await AdminClient(port: replica.adminPort).send(
                .POST, "/v1/routes",
                json: #"{"name": "\#(name)", "match": {"path": {"prefix": "/\#(name)"}}, "respond": {"status": 200, "body": "\#(name)"}}"#
            ).status
        }

        private func version(of replica: ServingGateway) async throws -> Int? {
            try await AdminClient(port: replica.adminPort).send(.GET, "/v1/config").json["version"] as? Int
        }

        /// Polls `replica` until `path` answers 200, for at most `limit`; returns how long it took.
        private func timeUntilServed(_ path: String, by replica: ServingGateway, limit: Duration = .seconds(5)) async throws -> Duration {
            let started = ContinuousClock.now
            while ContinuousClock.now - started < limit {
                if try await replica.client.send(.GET, path).status == 200 { return ContinuousClock.now - started }
                try await Task.sleep(for: .milliseconds(20))
            }
            return ContinuousClock.now - started
        }

        @Test func aRouteAddedOnOneReplicaIsServedByTheOthersWithinASecond() async throws {
            try await withReplicas(3) { _, replicas in
                #expect(try await addRoute("shared", on: replicas[0]) == 201)
                for replica in replicas.dropFirst() {
                    let elapsed = try await timeUntilServed("/shared", by: replica)
                    #expect(elapsed < .seconds(1), "served after \(elapsed)")
                }
                let versions = try await replicas.asyncMap { try await version(of: $0) }
                #expect(Set(versions).count == 1, "replicas disagree on the version: \(versions)")
                // The other way round, and a deletion.
                #expect(try await addRoute("back", on: replicas[2]) == 201)
                #expect(try await timeUntilServed("/back", by: replicas[0]) < .seconds(1))
                #expect(try await AdminClient(port: replicas[1].adminPort).send(.DELETE, "/v1/routes/shared").status == 200)
                let started = ContinuousClock.now
                while try await replicas[0].client.send(.GET, "/shared").status != 404, ContinuousClock.now - started < .seconds(5) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(ContinuousClock.now - started < .seconds(1))
            }
        }

        @Test func versionsAndARollbackOnTheSharedStore() async throws {
            try await withReplicas(2) { _, replicas in
                let start = try #require(try await version(of: replicas[0]))
                #expect(try await addRoute("kept", on: replicas[0]) == 201)
                #expect(try await addRoute("later", on: replicas[1]) == 201)
                let admin = AdminClient(port: replicas[1].adminPort)
                let listed = try #require(try await admin.send(.GET, "/v1/config/versions").json["versions"] as? [[String: Any]])
                #expect(listed.prefix(2).map { $0["version"] as? Int } == [start + 2, start + 1])
                #expect(listed.prefix(2).map { $0["source"] as? String } == ["api", "api"])
                #expect(listed.first?["routes"] as? Int == 3)
                // Rolled back on one replica, served so by the other.
                #expect(try await admin.send(.POST, "/v1/config/rollback", json: #"{"version": \#(start + 1)}"#).status == 200)
                let started = ContinuousClock.now
                while try await replicas[0].client.send(.GET, "/later").status != 404, ContinuousClock.now - started < .seconds(5) {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(try await replicas[0].client.send(.GET, "/later").status == 404)
                #expect(try await replicas[0].client.send(.GET, "/kept").status == 200)
                let after = try await AdminClient(port: replicas[0].adminPort).send(.GET, "/v1/config/versions")
                #expect((after.json["versions"] as? [[String: Any]])?.first?["source"] as? String == "rollback")
            }
        }

        @Test func allocationsSplitAcrossTwoReplicasAtOnceAreDistinct() async throws {
            try await withReplicas(2) { _, replicas in
                let ports = try await withThrowingTaskGroup(of: Int?.self) { group in
                    for index in 0..<100 {
                        let admin = AdminClient(port: replicas[index % 2].adminPort)
                        group.addTask {
                            try await admin.send(.POST, "/v1/tenants/t\(index % 7)/ports", json: #"{"name": "n\#(index)"}"#).json["port"] as? Int
                        }
                    }
                    var ports: [Int] = []
                    for try await port in group { if let port { ports.append(port) } }
                    return ports
                }
                #expect(ports.count == 100)
                #expect(Set(ports).count == 100)
                // Each replica learns the other's allocations.
                try await Task.sleep(for: .milliseconds(1500))
                for replica in replicas {
                    #expect(try await AdminClient(port: replica.adminPort).send(.GET, "/v1/ports").json["allocated"] as? Int == 100)
                }
            }
        }

        @Test func aPatchedTargetOnOneReplicaReachesTheOther() async throws {
            try await withReplicas(2) { _, replicas in
                let (first, second) = (AdminClient(port: replicas[0].adminPort), AdminClient(port: replicas[1].adminPort))
                let port = try #require(
                    try await first.send(.POST, "/v1/tenants/acme/ports", json: #"{"name": "db", "target": "127.0.0.1:5432"}"#)
                        .json["port"] as? Int)
                let patched = try await second.send(.PATCH, "/v1/tenants/acme/ports/db", json: #"{"target": "127.0.0.1:6543"}"#)
                #expect(patched.status == 200, "\(patched.body)")
                #expect(patched.json["port"] as? Int == port)
                func target(on admin: AdminClient) async throws -> String? {
                    (try await admin.send(.GET, "/v1/tenants/acme/ports").json["allocations"] as? [[String: Any]])?.first?["target"] as? String
                }
                let started = ContinuousClock.now
                while ContinuousClock.now - started < .seconds(5), try await target(on: first) != "127.0.0.1:6543" {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await target(on: first) == "127.0.0.1:6543", "after \(ContinuousClock.now - started)")
            }
        }

        @Test func tenantTokensAndQuotasHoldAcrossReplicas() async throws {
            try await withReplicas(2) { _, replicas in
                let (first, second) = (AdminClient(port: replicas[0].adminPort), AdminClient(port: replicas[1].adminPort))
                let tenant = #"{"hosts": ["*.acme.example.com"], "quota": {"routes": 3, "ports": 2}}"#
                #expect(try await first.send(.PUT, "/v1/tenants/acme", json: tenant).status == 200)
                #expect(try await second.send(.PUT, "/v1/tenants/beta", json: #"{"hosts": ["a.acme.example.com"]}"#).status == 409)
                let made = try await first.send(.POST, "/v1/tenants/acme/tokens")
                let token = try #require(made.json["token"] as? String)
                let id = try #require(made.json["id"] as? String)
                let onFirst = AdminClient(port: replicas[0].adminPort, token: token)
                let onSecond = AdminClient(port: replicas[1].adminPort, token: token)
                // The other replica accepts the token within a second.
                var started = ContinuousClock.now
                while ContinuousClock.now - started < .seconds(3), try await onSecond.send(.GET, "/v1/routes").status != 200 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(ContinuousClock.now - started < .seconds(1), "accepted after \(ContinuousClock.now - started)")
                #expect(try await onSecond.send(.GET, "/v1/config").status == 403)

                // Twelve routes at once, split over both replicas, against a quota of three.
                #expect(try await onFirst.send(.POST, "/v1/upstreams", json: #"{"name": "app", "endpoints": ["127.0.0.1:1"]}"#).status == 201)
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<12 {
                        let client = index % 2 == 0 ? onFirst : onSecond
                        group.addTask {
                            try await client.send(
                                .POST, "/v1/routes",
                                json: #"{"name": "r\#(index)", "hosts": ["r\#(index).acme.example.com"], "upstream": "app"}"#
                            ).status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == 201 }.count == 3, "\(statuses)")
                #expect(statuses.allSatisfy { $0 == 201 || $0 == 409 }, "\(statuses)")
                let ports = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<8 {
                        let client = index % 2 == 0 ? onFirst : onSecond
                        group.addTask { try await client.send(.POST, "/v1/tenants/acme/ports", json: #"{"name": "p\#(index)"}"#).status }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(ports.filter { $0 == 201 }.count == 2, "\(ports)")

                // Every path, on the replica that did not make the tokens.
                let spare = try #require(try await first.send(.POST, "/v1/tenants/acme/tokens").json as [String: Any]?)
                let spareID = try #require(spare["id"] as? String)
                #expect(try await first.send(.DELETE, "/v1/tenants/acme/tokens/\(spareID)").status == 200)
                try await Task.sleep(for: .seconds(1))
                let route = try #require(
                    (try await onSecond.send(.GET, "/v1/routes").json["routes"] as? [[String: Any]])?.first?["name"] as? String)
                try await TenantScopes.check(
                    port: replicas[1].adminPort, tenantToken: token, revokedToken: try #require(spare["token"] as? String), route: route,
                    tenantBody: tenant)

                // Revoked on one replica, refused on the other within a second.
                #expect(try await first.send(.DELETE, "/v1/tenants/acme/tokens/\(id)").status == 200)
                #expect(try await onFirst.send(.GET, "/v1/routes").status == 401)
                started = ContinuousClock.now
                while ContinuousClock.now - started < .seconds(3), try await onSecond.send(.GET, "/v1/routes").status != 401 {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(ContinuousClock.now - started < .seconds(1), "refused after \(ContinuousClock.now - started)")
            }
        }

        @Test func aRestartedReplicaServesTheCurrentVersionAtOnce() async throws {
            try await withReplicas(2) { database, replicas in
                await replicas[1].process.stop()
                #expect(try await addRoute("while-away", on: replicas[0]) == 201)
                let restarted = try await ServingGateway.start(in: replicas[1].folder, arguments: ["--state", database.url])
                let response = try await restarted.client.send(.GET, "/while-away")
                #expect(response.status == 200)
                #expect(try await version(of: restarted) == (try await version(of: replicas[0])))
                await restarted.process.stop()
            }
        }

        @Test func restartingAReplicaThatChangedNothingRecordsNoVersion() async throws {
            try await withReplicas(2) { database, replicas in
                #expect(try await addRoute("kept", on: replicas[0]) == 201)
                let before = try await version(of: replicas[0])
                for _ in 0..<2 {
                    await replicas[1].process.stop()
                    let restarted = try await ServingGateway.start(in: replicas[1].folder, arguments: ["--state", database.url])
                    #expect(try await version(of: restarted) == before)
                    await restarted.process.stop()
                }
                // The other replica saw no new version either (it would have adopted one within a second).
                try await Task.sleep(for: .milliseconds(1200))
                #expect(try await version(of: replicas[0]) == before)
            }
        }

        @Test func ofConcurrentPutsWithTheSameIfMatchOnTwoReplicasExactlyOneIsAccepted() async throws {
            try await withReplicas(2) { _, replicas in
                let current = try #require(try await version(of: replicas[0]))
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<8 {
                        let admin = AdminClient(port: replicas[index % 2].adminPort)
                        let body = #"{"routes": [{"name": "w\#(index)", "respond": {"status": 200}}]}"#
                        group.addTask { try await admin.send(.PUT, "/v1/config", json: body, headers: [("If-Match", "\"\(current)\"")]).status }
                    }
                    var statuses: [Int] = []
                    for try await status in group { statuses.append(status) }
                    return statuses
                }
                #expect(statuses.sorted() == [200] + Array(repeating: 412, count: 7), "\(statuses)")
            }
        }

        @Test func losingTheDatabaseKeepsTrafficAndRefusesWritesThenCatchesUp() async throws {
            try await withReplicas(2) { database, replicas in
                #expect(try await addRoute("before", on: replicas[0]) == 201)
                // Set-up only (the one-second propagation is the test above): served at all.
                let propagated = try await timeUntilServed("/before", by: replicas[1])
                #expect(propagated < .seconds(5), "served after \(propagated)")
                try await database.stop()

                for replica in replicas {
                    #expect(try await replica.client.send(.GET, "/before").status == 200)
                    #expect(try await replica.client.send(.GET, "/local").status == 200)
                }
                let started = ContinuousClock.now
                let refused = try await AdminClient(port: replicas[0].adminPort).send(
                    .POST, "/v1/routes", json: #"{"name": "during", "respond": {"status": 200}}"#)
                #expect(refused.status == 503)
                #expect(refused.json["error"] as? String == "store_unavailable")
                #expect(ContinuousClock.now - started < .seconds(8), "the write hung for \(ContinuousClock.now - started)")
                #expect(try await replicas[1].client.send(.GET, "/before").status == 200)

                try await database.restart()
                // The replicas reconnect on their own; a new write propagates.
                var status = 0
                let deadline = ContinuousClock.now + .seconds(15)
                while status != 201, ContinuousClock.now < deadline {
                    status = try await addRoute("after", on: replicas[0])
                    if status != 201 { try await Task.sleep(for: .milliseconds(250)) }
                }
                #expect(status == 201, "\(replicas[0].process.log.suffix(3000))")
                try? replicas[0].process.log.write(toFile: "/tmp/replica0.log", atomically: true, encoding: .utf8)
                #expect(try await timeUntilServed("/after", by: replicas[1]) < .seconds(3))
            }
        }
    }
}

extension Array {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
