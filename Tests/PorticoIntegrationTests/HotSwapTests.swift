import Foundation
import PorticoControl
import PorticoTestSupport
import Testing

/// Folder edits, drain of removed routes and graceful shutdown, on the real binary.
@Suite struct HotSwapTests {
    @Test func folderEditsGoLiveWithinTwoSecondsAndBrokenOnesAreRefused() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: gateway.adminPort)
        #expect(try await gateway.client.send(.GET, "/new/a").status == 404)

        // A new file written in place.
        let started = ContinuousClock.now
        try gateway.folder.write(
            "routes/zz-new.yaml", "routes: [{ name: new, match: { path: { prefix: /new } }, respond: { status: 203 } }]\n")
        var status = 404
        while status != 203, ContinuousClock.now - started < .seconds(5) {
            try await Task.sleep(for: .milliseconds(50))
            // A poll that fails on a busy machine is simply tried again; the expectations below decide.
            status = (try? await gateway.client.send(.GET, "/new/a").status) ?? status
        }
        #expect(status == 203)
        #expect(ContinuousClock.now - started < .seconds(2))

        // A broken edit changes nothing and shows in the status.
        try gateway.folder.write("routes/zz-new.yaml", "routes: [{ name: new, match: { path: { prefix: /new, exact: /x } }, respond: {} }]\n")
        var lastError: String?
        let brokenAt = ContinuousClock.now
        while lastError == nil, ContinuousClock.now - brokenAt < .seconds(5) {
            try await Task.sleep(for: .milliseconds(100))
            lastError = (try? await admin.send(.GET, "/v1/status").json["lastError"]) as? String
        }
        #expect(lastError?.contains("zz-new.yaml: routes[0].match.path: exactly one of prefix, exact, regex") == true)
        #expect(try await gateway.client.send(.GET, "/new/a").status == 203)
        #expect(gateway.process.log.contains("routes folder change refused"))

        // A rename into place replaces the file whole.
        try gateway.folder.write(".staging", "routes: [{ name: new, match: { path: { prefix: /new } }, respond: { status: 204 } }]\n")
        let renamed = rename(
            gateway.folder.url.appendingPathComponent(".staging").path,
            gateway.folder.url.appendingPathComponent("routes/zz-new.yaml").path)
        #expect(renamed == 0)
        let renamedAt = ContinuousClock.now
        while status != 204, ContinuousClock.now - renamedAt < .seconds(5) {
            try await Task.sleep(for: .milliseconds(50))
            // A poll that fails on a busy machine is simply tried again; the expectations below decide.
            status = (try? await gateway.client.send(.GET, "/new/a").status) ?? status
        }
        #expect(status == 204)
        #expect(try await admin.send(.GET, "/v1/status").json["lastError"] is NSNull)
        await gateway.stop()
        await upstream.stop()
    }

    /// Deletes the route of a running 3 s request under the given drain timeout.
    /// `statusAfter`: how long after the delete the status had been read.
    private func drain(timeout: String) async throws -> (
        reply: RawSocketClient.Reply, elapsed: Duration, status: [String: Any], statusAfter: Duration
    ) {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(
            routes: fileRoutes(upstreamPort: upstream.port), environment: ["PORTICO_DRAIN_TIMEOUT_SEC": timeout])
        let admin = AdminClient(port: gateway.adminPort)
        #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("long", prefix: "/slow")).status == 201)
        async let reply = RawSocketClient.send(
            "GET /slow?ms=3000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", port: gateway.port, timeout: .seconds(10))
        // The route is removed once the request runs (it reached the upstream), however
        // loaded the machine; the drain is timed from there.
        await upstream.waitForRequests(1)
        let removed = ContinuousClock.now
        #expect(try await admin.send(.DELETE, "/v1/routes/long").status == 200)
        // New requests see the new table at once.
        #expect(try await gateway.client.send(.GET, "/slow?ms=1").status == 404)
        let status = try await admin.send(.GET, "/v1/status").json
        let statusAfter = ContinuousClock.now - removed
        let result = try await reply
        let elapsed = ContinuousClock.now - removed
        await gateway.stop()
        await upstream.stop()
        return (result, elapsed, status, statusAfter)
    }

    @Test func aRemovedRouteIsCutAtTheDrainTimeout() async throws {
        let (reply, elapsed, status, statusAfter) = try await drain(timeout: "1")
        #expect(reply.closed)
        #expect(reply.status == nil, "the request should have been cut, got \(reply.text.prefix(40))")
        #expect(elapsed >= .milliseconds(1000))  // 1 s of drain after the delete
        #expect(elapsed < .milliseconds(2500))  // before the upstream's 3 s answer
        // The status lists the drain while it runs: checked when it was read before the
        // deadline (on a loaded machine this test has read it after the cut).
        let draining = status["draining"] as? [[String: Any]] ?? []
        guard statusAfter < .milliseconds(1000) else { return }
        #expect(draining.first?["route"] as? String == "long")
        #expect(draining.first?["inFlight"] as? Int == 1)
        #expect((draining.first?["deadline"] as? String)?.hasSuffix("Z") == true)
    }

    @Test func aRemovedRouteFinishesWithinTheDrainTimeout() async throws {
        let (reply, elapsed, _, _) = try await drain(timeout: "5")
        #expect(reply.status == 200)
        #expect(elapsed >= .milliseconds(2500))  // the upstream's 3 s answer, not cut early
    }

    @Test func sigtermLetsARunningRequestFinishAndExitsZero() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: catchAllRoutes(upstreamPort: upstream.port))
        // The upstream holds the request until released: the drain lasts as long as the test
        // needs, however loaded the machine. (With a fixed 1.5 s answer, a loaded CI run once
        // asked for readiness after the drain had ended and the admin API had stopped.)
        async let reply = RawSocketClient.send(
            "GET /held HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", port: gateway.port, timeout: .seconds(30))
        // SIGTERM once the request is running (it reached the upstream).
        await upstream.waitForRequests(1)
        let health = AdminClient(port: gateway.adminPort, token: nil)
        #expect(try await health.send(.GET, "/health/ready").status == 200)
        gateway.process.signal(SIGTERM)
        // While the request drains, the gateway tells load balancers it is not ready (once the
        // signal has been handled: asked again for up to 10 s).
        var during = try await health.send(.GET, "/health/ready")
        let signalHandledBy = ContinuousClock.now + .seconds(10)
        while during.status == 200, ContinuousClock.now < signalHandledBy {
            try await Task.sleep(for: .milliseconds(20))
            during = try await health.send(.GET, "/health/ready")
        }
        #expect(during.status == 503)
        #expect(during.json["status"] as? String == "not_ready")
        upstream.releaseHeld()
        #expect(try await reply.status == 200)
        #expect(try await gateway.process.waitForExit() == 0)
        await gateway.stop()
        await upstream.stop()
    }
}

@Suite struct SwapUnderLoadTests {
    /// 16 keep-alive connections load a stable route while 200 snapshot changes replace the
    /// table: not one request may fail or see anything but 200.
    @Test func twoHundredSwapsNeverDisturbAStableRoute() async throws {
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: fileRoutes(upstreamPort: upstream.port))
        let admin = AdminClient(port: gateway.adminPort)
        let client = gateway.client
        let loadEnds = ContinuousClock.now + .seconds(20)  // bound on time; the swaps end it sooner
        let swapsDone = SwapFlag()

        async let load: [Int] = withThrowingTaskGroup(of: [Int].self) { group in
            for connection in 0..<16 {
                group.addTask {
                    var statuses: [Int] = []
                    // Bounded in count and time: batches of 50 requests on one connection.
                    while !swapsDone.isSet, ContinuousClock.now < loadEnds, statuses.count < 20_000 {
                        let batch = try await client.sendSequentially((0..<50).map { "/file/\(connection)/\($0)" })
                        statuses += batch.map(\.status)
                    }
                    return statuses
                }
            }
            var all: [Int] = []
            for try await statuses in group { all += statuses }
            return all
        }

        var swapStatuses: [Int] = []
        for index in 0..<100 {
            swapStatuses.append(try await admin.send(.POST, "/v1/routes", json: apiRoute("churn-\(index)", prefix: "/churn/\(index)")).status)
            swapStatuses.append(try await admin.send(.DELETE, "/v1/routes/churn-\(index)").status)
        }
        swapsDone.set()
        let statuses = try await load
        #expect(swapStatuses.count == 200)
        #expect(swapStatuses.allSatisfy { $0 == 200 || $0 == 201 })
        #expect(statuses.count > 1000, "only \(statuses.count) requests ran during the swaps")
        #expect(statuses.filter { $0 != 200 }.isEmpty, "\(statuses.filter { $0 != 200 }.count) failed requests")
        await gateway.stop()
        await upstream.stop()
    }
}

/// A flag set once, read from several tasks.
final class SwapFlag: Sendable {
    private let flag = Readiness()
    var isSet: Bool { flag.isReady }
    func set() { flag.markReady() }
}
