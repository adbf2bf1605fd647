import PorticoCore
import Testing

@Suite struct EndpointHealthTests {
    @Test func threeFailuresTakeAnEndpointOutAndTwoPassesBringItBack() {
        var health = EndpointHealth()
        #expect(health.isHealthy)
        // A pass in the middle resets the streak: no flapping.
        #expect(!health.isChanging)
        let changes = [false, false, true, false, false, false].map { health.record(passed: $0) }
        #expect(changes == [false, false, false, false, false, true])
        #expect(!health.isHealthy)
        let back = [true, false, true, true].map { health.record(passed: $0) }
        #expect(back == [false, false, false, true])
        #expect(health.isHealthy)
    }

    @Test func thresholdsAreTheCheck() {
        var probe = EndpointHealth()
        _ = probe.record(passed: false)
        #expect(probe.isChanging, "a failed check of a healthy endpoint starts a change")
        _ = probe.record(passed: true)
        #expect(!probe.isChanging)
        var health = EndpointHealth(healthyThreshold: 1, unhealthyThreshold: 1)
        let out = health.record(passed: false)
        #expect(out && !health.isHealthy)
        let back = health.record(passed: true)
        #expect(back && health.isHealthy)
    }
}
