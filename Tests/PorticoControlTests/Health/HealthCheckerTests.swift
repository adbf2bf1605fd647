import Logging
import PorticoControl
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Synchronization
import Testing

/// The health checker's schedule and thresholds on a ``ManualClock`` with a scripted probe:
/// no sockets, no sleeps.
@Suite struct HealthCheckerTests {
    /// Answers checks from a script and records when each came.
    final class ScriptedProbe: Sendable {
        private let state = Mutex<(results: [Bool], calls: [Duration], healthAtCall: [Bool])>(([], [], []))
        let clock: ManualClock
        let dataPlane: DataPlane

        init(_ results: [Bool], clock: ManualClock, dataPlane: DataPlane) {
            state.withLock { $0.results = results }
            self.clock = clock
            self.dataPlane = dataPlane
        }

        var calls: [Duration] { state.withLock { $0.calls } }
        /// Whether the endpoint was in rotation when each check began.
        var healthAtCall: [Bool] { state.withLock { $0.healthAtCall } }

        func check(_ endpoint: Endpoint) -> Bool {
            let healthy = !dataPlane.snapshot.health.contains(upstream: "app", endpoint: endpoint)
            let now = clock.now.offset
            return state.withLock { state in
                state.calls.append(now)
                state.healthAtCall.append(healthy)
                return state.results.isEmpty ? true : state.results.removeFirst()
            }
        }
    }

    @Test func failuresAreConfirmedAtHalfTheIntervalAndThresholdsDecide() async throws {
        let table = try TestRoutes.table(
            """
            upstreams: [{ name: app, endpoints: ["127.0.0.1:9001"],
                          healthCheck: { path: /health, interval: 10s, unhealthyThreshold: 3, healthyThreshold: 2 } }]
            routes: [{ name: app, upstream: app }]
            """)
        let dataPlane = DataPlane(initialTable: table, logger: Logger(label: "test"))
        let clock = ManualClock()
        // pass, then three failures (out), then two passes (back), then passes.
        let probe = ScriptedProbe([true, false, false, false, true, true, true], clock: clock, dataPlane: dataPlane)
        let checker = HealthChecker(dataPlane: dataPlane, clock: clock, probe: { endpoint, _ in probe.check(endpoint) }, logger: Logger(label: "test"))
        let running = Task { await checker.run() }
        defer { running.cancel() }
        // Step the clock by the reconcile interval, each time once both loops (reconcile and
        // the endpoint's schedule) sleep again: 56 s of checks in a few milliseconds.
        for _ in 0..<224 {
            try await clock.waitForSleepers(2)
            clock.advance(by: .milliseconds(250))
        }
        try await clock.waitForSleepers(2)
        let seconds = probe.calls.map { Int($0.components.seconds) }
        // 0 pass; 10 fail (a change starts: the next check comes at half the interval);
        // 15, 20 fail: out at 20; 30 pass (a change starts); 35 pass: back; then every 10 s.
        #expect(seconds == [0, 10, 15, 20, 30, 35, 45, 55])
        #expect(probe.healthAtCall == [true, true, true, true, false, false, true, true])
        #expect(dataPlane.snapshot.health.keys.isEmpty)
    }
}
