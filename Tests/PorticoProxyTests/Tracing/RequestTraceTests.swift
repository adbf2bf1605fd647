import PorticoCore
@testable import PorticoProxy
import PorticoTestSupport
import Testing

/// W3C Trace Context on proxied requests (SPEC §16): which `traceparent` values continue the
/// client's trace, which start a new one, the sampled flag, and `tracestate`.
@Suite struct RequestTraceTests {
    static let client = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    /// A fixed sequence of random numbers.
    final class Dice {
        var values: [UInt64]
        init(_ values: [UInt64]) { self.values = values }
        func next() -> UInt64 { values.isEmpty ? 0xABCD : values.removeFirst() }
    }

    private func trace(_ traceparent: String?, _ tracestate: String? = nil, rate: Double = 1, dice: [UInt64] = [0x1111, 0x2222, 0x3333, 0x4444])
        -> RequestTrace
    {
        let dice = Dice(dice)
        return RequestTrace(traceparent: traceparent, tracestate: tracestate, sampleRate: rate, random: dice.next)
    }

    @Test func aValidTraceparentContinuesTheClientsTrace() {
        let continued = trace(Self.client, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE")
        #expect(continued.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(continued.parent?.description == "00f067aa0ba902b7")
        #expect(continued.spanID == "0000000000001111")
        #expect(continued.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000001111-01")
        #expect(continued.tracestate == "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE")
        // The client's unsampled flag is kept whatever the rate.
        let unsampled = trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", rate: 1)
        #expect(unsampled.traceparent.hasSuffix("-00"))
        // A bad tracestate is dropped, the traceparent still counts.
        let badState = trace(Self.client, "not a list entry")
        #expect(badState.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(badState.tracestate == nil)
    }

    @Test(arguments: [
        nil, "", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ] as [String?])
    func anythingElseStartsANewTrace(traceparent: String?) {
        let fresh = trace(traceparent, "rojo=1")
        #expect(fresh.parent == nil)
        #expect(fresh.traceID == "00000000000022220000000000003333")
        #expect(fresh.spanID == "0000000000001111")
        #expect(fresh.traceparent == "00-00000000000022220000000000003333-0000000000001111-01")
        #expect(fresh.tracestate == nil)  // a new trace carries no vendor state
    }

    @Test func newTracesAreSampledAtTheRate() {
        #expect(trace(nil, rate: 0).traceparent.hasSuffix("-00"))
        #expect(trace(nil, rate: 1).traceparent.hasSuffix("-01"))
        // The fourth draw decides: below the rate's share of 2^64 samples.
        #expect(trace(nil, rate: 0.5, dice: [1, 2, 3, UInt64.max / 4]).traceparent.hasSuffix("-01"))
        #expect(trace(nil, rate: 0.5, dice: [1, 2, 3, UInt64.max / 4 * 3]).traceparent.hasSuffix("-00"))
        // Ids are never all zero.
        #expect(trace(nil, dice: [0, 0, 0, 0]).traceID != "00000000000000000000000000000000")
    }

    @Test func theUpstreamGetsTheGatewaysSpan() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let continued = try await gateway.client.send(
                .GET, "/app/x", headers: [("host", "a"), ("traceparent", Self.client), ("tracestate", "rojo=1")])
            let lines = continued.body.split(separator: "\n").map(String.init)
            let traceparent = try #require(lines.first { $0.hasPrefix("traceparent: ") }?.dropFirst(13))
            #expect(traceparent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
            #expect(!traceparent.contains("00f067aa0ba902b7"))
            #expect(lines.contains("tracestate: rojo=1"))
            let fresh = try await gateway.client.send(.GET, "/app/x", headers: [("host", "a"), ("tracestate", "rojo=1")])
            let freshLines = fresh.body.split(separator: "\n").map(String.init)
            #expect(freshLines.contains { $0.hasPrefix("traceparent: 00-") && $0.hasSuffix("-01") })
            #expect(!freshLines.contains { $0.hasPrefix("tracestate:") })
        }
    }
}
