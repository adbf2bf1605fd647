import PorticoCore
import PorticoProxy
import Testing

@Suite struct OutlierDetectorTests {
    let a = Endpoint(host: "10.0.0.1", port: 80)
    let b = Endpoint(host: "10.0.0.2", port: 80)
    let policy = OutlierDetectionDefinition(consecutiveFailures: 3, baseEjectionTime: .seconds(10), maxEjectionPercent: 50)

    @Test func consecutiveFailuresEjectAndASuccessStartsTheCountAgain() {
        let detector = OutlierDetector()
        let now = ContinuousClock.now
        #expect(detector.recordFailure(a, policy: policy, endpoints: [a, b], now: now) == nil)
        #expect(detector.recordFailure(a, policy: policy, endpoints: [a, b], now: now) == nil)
        detector.recordSuccess(a, now: now)
        #expect(detector.recordFailure(a, policy: policy, endpoints: [a, b], now: now) == nil)
        #expect(detector.recordFailure(a, policy: policy, endpoints: [a, b], now: now) == nil)
        let ejection = detector.recordFailure(a, policy: policy, endpoints: [a, b], now: now)
        #expect(ejection == OutlierDetector.Ejection(endpoint: a, duration: .seconds(10), count: 1))
        #expect(detector.isEjected(a, now: now + .seconds(9)))
        #expect(!detector.isEjected(a, now: now + .seconds(10)))
        #expect(!detector.isEjected(b, now: now))
    }

    @Test func aRepeatEjectionLastsLongerAndAQuietPeriodStartsOver() {
        let detector = OutlierDetector()
        var now = ContinuousClock.now
        func fail(times: Int) -> OutlierDetector.Ejection? {
            var last: OutlierDetector.Ejection?
            for _ in 0..<times { last = detector.recordFailure(a, policy: policy, endpoints: [a, b], now: now) }
            return last
        }
        #expect(fail(times: 3)?.duration == .seconds(10))
        now += .seconds(11)  // back, and failing again at once
        #expect(fail(times: 3)?.duration == .seconds(20))
        now += .seconds(21)
        #expect(fail(times: 3)?.duration == .seconds(30))
        // Back for longer than its last ejection lasted: the next one is short again.
        now += .seconds(30 + 31)
        #expect(fail(times: 3)?.duration == .seconds(10))
    }

    @Test func neverMoreThanTheMaximumShareAndNeverTheLastEndpoint() {
        #expect(OutlierDetector.maxEjected(of: 1, percent: 100) == 0)
        #expect(OutlierDetector.maxEjected(of: 2, percent: 10) == 1)
        #expect(OutlierDetector.maxEjected(of: 2, percent: 100) == 1)
        #expect(OutlierDetector.maxEjected(of: 10, percent: 50) == 5)
        let detector = OutlierDetector()
        let now = ContinuousClock.now
        let single = OutlierDetectionDefinition(consecutiveFailures: 1)
        #expect(detector.recordFailure(a, policy: single, endpoints: [a], now: now) == nil)
        #expect(detector.recordFailure(a, policy: single, endpoints: [a, b], now: now) != nil)
        #expect(detector.recordFailure(b, policy: single, endpoints: [a, b], now: now) == nil)
        #expect(!detector.isEjected(b, now: now))
    }
}
