import Foundation
import PorticoTestSupport
import Testing

/// Active health checks and connect-failure retries in a real `portico` process.
@Suite struct UpstreamResilienceTests {
    private func routes(_ endpoints: [Int], healthCheck: Bool = true, interval: String = "200ms") -> String {
        let list = endpoints.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", ")
        let check = healthCheck ? ", healthCheck: { path: /health, interval: \(interval) }" : ""
        return """
            upstreams: [{ name: app, endpoints: [\(list)]\(check) }]
            routes: [{ name: app, upstream: app }]
            """
    }

    @Test func anEndpointFailingItsHealthCheckLeavesTheRotationAndComesBack() async throws {
        let good = try await TestUpstream.start()
        let flaky = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: routes([good.port, flaky.port]))
        let first = try await gateway.client.statusesOfGETs(10)
        #expect(first.allSatisfy { $0 == 200 }, "\(first) \(gateway.process.log.suffix(1500))")
        #expect(flaky.requestsReceived > 0)

        flaky.setHealthStatus(503)
        // Out after 3 failed checks 200 ms apart; well within 2 s on a loaded machine.
        try await gateway.process.waitForLog("failed its health checks", timeout: .seconds(5))
        let before = flaky.requestsReceived
        #expect(try await gateway.client.statusesOfGETs(20).allSatisfy { $0 == 200 })
        #expect(flaky.requestsReceived == before, "an endpoint out of rotation received traffic")
        let metrics = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        #expect(metrics[#"portico_upstream_endpoint_healthy{upstream="app",endpoint="127.0.0.1:\#(flaky.port)"}"#] == 0)
        #expect(metrics[#"portico_upstream_endpoint_healthy{upstream="app",endpoint="127.0.0.1:\#(good.port)"}"#] == 1)

        flaky.setHealthStatus(200)
        try await gateway.process.waitForLog("passed its health checks", timeout: .seconds(5))
        #expect(try await gateway.client.statusesOfGETs(10).allSatisfy { $0 == 200 })
        #expect(flaky.requestsReceived > before, "the endpoint did not come back")
        #expect(flaky.healthChecksReceived >= 5)

        // Every endpoint unhealthy: 503 naming the route.
        good.setHealthStatus(500)
        flaky.setHealthStatus(500)
        let deadline = ContinuousClock.now + .seconds(5)
        var response = try await gateway.client.send(.GET, "/x")
        while response.status != 503, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            response = try await gateway.client.send(.GET, "/x")
        }
        #expect(response.status == 503)
        #expect(response.body == #"{"error":"no_healthy_upstream","route":"app"}"#)

        // An endpoint removed from the upstream is no longer checked, and its gauge goes.
        try gateway.folder.write("routes/app.yaml", routes([good.port]))
        let flakyGauge = #"portico_upstream_endpoint_healthy{upstream="app",endpoint="127.0.0.1:\#(flaky.port)"}"#
        var samples = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        let removal = ContinuousClock.now + .seconds(10)
        while samples[flakyGauge] != nil, ContinuousClock.now < removal {
            try await Task.sleep(for: .milliseconds(100))
            samples = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        }
        #expect(samples[flakyGauge] == nil)
        let checks = flaky.healthChecksReceived
        try await Task.sleep(for: .milliseconds(600))
        #expect(flaky.healthChecksReceived <= checks + 1, "a removed endpoint is still checked")
        await gateway.stop()
        await good.stop()
        await flaky.stop()
    }

    @Test func aFailingEndpointIsOutWithinTwoIntervals() async throws {
        let good = try await TestUpstream.start()
        let flaky = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(routes: routes([good.port, flaky.port], interval: "2s"))
        try await waitUntil("the endpoint was checked") { flaky.healthChecksReceived > 0 }
        flaky.setHealthStatus(503)
        let failing = ContinuousClock.now
        try await gateway.process.waitForLog("failed its health checks", timeout: .seconds(15))
        let elapsed = ContinuousClock.now - failing
        // Three failed checks are still needed (two confirmations at half the interval, at
        // least 2 s), and the first comes within an interval: out within two intervals
        // (4 s; 1.5 s allowed for the log to reach the test on a loaded machine, where a
        // check every full interval would take up to 6 s). HealthCheckerTests times the
        // checks exactly, with the clock passed in.
        #expect(elapsed >= .milliseconds(1900) && elapsed < .milliseconds(5500), "out after \(elapsed)")
        let before = flaky.requestsReceived
        #expect(try await gateway.client.statusesOfGETs(10).allSatisfy { $0 == 200 })
        #expect(flaky.requestsReceived == before)
        await gateway.stop()
        await good.stop()
        await flaky.stop()
    }

    @Test func aRefusedConnectionIsRetriedOnAnotherEndpoint() async throws {
        let live = try await TestUpstream.start()
        let gone = try refusingLoopbackPort()
        let gateway = try await ServingGateway.start(routes: routes([gone, live.port], healthCheck: false))
        // Round robin sends every other request to the closed port first; none may fail,
        // whatever the method (nothing reached an upstream before the retry).
        #expect(try await gateway.client.statusesOfGETs(10).allSatisfy { $0 == 200 })
        let post = try await gateway.client.send(.POST, "/upload", body: "hello")
        #expect(post.status == 200)
        let second = try await gateway.client.send(.POST, "/upload", body: "hello")
        #expect(second.status == 200)
        #expect(live.requestsReceived == 12)
        let metrics = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        #expect(metrics[#"portico_upstream_retries_total{upstream="app",kind="connect"}"#] == 6)
        #expect(metrics[#"portico_upstream_errors_total{upstream="app",kind="connect"}"#] == 6)
        await gateway.stop()
        await live.stop()
    }

    @Test func killingOneOfTwoEndpointsUnderLoadGivesNoClientErrors() async throws {
        // The endpoints are `portico` processes answering by themselves, so one can be killed
        // outright (SIGKILL: its port refuses connections, its connections reset).
        let endpointRoutes = "routes: [{ name: ok, respond: { status: 200, body: ok } }]\n"
        let first = try await ServingGateway.start(routes: endpointRoutes)
        let second = try await ServingGateway.start(routes: endpointRoutes)
        let gateway = try await ServingGateway.start(routes: routes([first.port, second.port], healthCheck: false))
        // Four clients, 60 GETs each (bounded); the second endpoint dies a little way in.
        let failures = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in 0..<4 {
                group.addTask {
                    var failures: [String] = []
                    for index in 0..<60 {
                        let response = try await gateway.client.send(.GET, "/c\(client)/\(index)")
                        if response.status != 200 { failures.append("\(response.status) \(response.body)") }
                    }
                    return failures
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(200))
                second.process.signal(SIGKILL)
                return []
            }
            var all: [String] = []
            for try await failures in group { all += failures }
            return all
        }
        #expect(failures.isEmpty, "\(failures); \(gateway.process.log.split(separator: "\n").filter { $0.contains("\"error\"") }.suffix(5))")
        await gateway.stop()
        await first.stop()
        await second.stop()
    }

    @Test func retriesEjectionsAndOverflowAreCountedAndBadLimitsAreRefusedNamingTheField() async throws {
        let failing = try await TestUpstream.start()
        let healthy = try await TestUpstream.start()
        failing.setAnswerStatus(503)
        let gateway = try await ServingGateway.start(
            routes: """
                upstreams:
                  - name: app
                    endpoints: ["127.0.0.1:\(failing.port)", "127.0.0.1:\(healthy.port)"]
                    outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 30s }
                  - { name: small, endpoints: ["127.0.0.1:\(healthy.port)"], maxConnections: 1, maxPendingRequests: 0 }
                routes:
                  - { name: small, match: { path: { prefix: /small } }, rewrite: { prefix: / }, upstream: small, timeout: 20s }
                  - { name: app, upstream: app, retries: { attempts: 1, on: [503] } }
                """)
        // The first request meets the 503, is retried on the other endpoint, and the failing
        // endpoint is ejected: no client sees the 503.
        #expect(try await gateway.client.statusesOfGETs(6).allSatisfy { $0 == 200 })
        #expect(failing.requestsReceived == 1)

        // One connection allowed and none may wait: a second request at once is refused.
        async let slow = gateway.client.send(.GET, "/small/slow?ms=4000")
        try await waitUntil("the slow request reached the upstream") { healthy.requestsReceived == 7 }
        let refused = try await gateway.client.send(.GET, "/small/now")
        #expect(healthy.requestsReceived == 7, "the refused request was not answered at once")
        #expect(refused.status == 503)
        #expect(refused.body == #"{"error":"upstream_overflow","route":"small"}"#)
        #expect(try await slow.status == 200)

        let metrics = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        #expect(metrics[#"portico_upstream_retries_total{upstream="app",kind="status"}"#] == 1)
        #expect(metrics[#"portico_upstream_ejections_total{upstream="app",endpoint="127.0.0.1:\#(failing.port)"}"#] == 1)
        #expect(metrics[#"portico_upstream_overflow_total{upstream="small",kind="pending"}"#] == 1)

        // Limits are validated like every other field.
        let admin = AdminClient(port: gateway.adminPort)
        let invalid = try await admin.send(
            .POST, "/v1/upstreams",
            json: #"{"name": "bad", "endpoints": ["127.0.0.1:1"], "maxConnections": 0, "outlierDetection": {"maxEjectionPercent": 120}}"#)
        #expect(invalid.status == 422)
        let fields = Set((invalid.json["details"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String })
        #expect(fields == ["maxConnections", "outlierDetection.maxEjectionPercent"])
        await gateway.stop()
        await failing.stop()
        await healthy.stop()
    }
}
