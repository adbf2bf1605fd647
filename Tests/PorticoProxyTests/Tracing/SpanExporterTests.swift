import Foundation
import Logging
import PorticoControl
import PorticoProxy
import PorticoTestSupport
import Testing

/// A collector that hangs or is down (SPEC §16): requests keep their latency, the queue
/// stays within its capacity, and every span lost is counted.
@Suite(.serialized) struct SpanExporterTests {
    /// Sends `count` requests one after another; their latencies, sorted.
    private func latencies(_ count: Int, through gateway: ProxyFixture) async throws -> [Duration] {
        var latencies: [Duration] = []
        for index in 0..<count {
            let start = ContinuousClock.now
            let response = try await gateway.client.send(.GET, "/r/\(index)", headers: [("host", "a")])
            latencies.append(ContinuousClock.now - start)
            #expect(response.status == 200)
        }
        return latencies.sorted()
    }

    private func withExporter<T>(
        to url: String, capacity: Int, batchSize: Int, timeout: Duration,
        _ body: (ProxyFixture, SpanQueue, MetricsEndpoint) async throws -> T
    ) async throws -> T {
        let upstream = try await TestUpstream.start()
        let metrics = MetricsEndpoint()
        let queue = SpanQueue(capacity: capacity, batchSize: batchSize, metrics: metrics.metrics)
        let exporter = SpanExporter(
            queue: queue, tracesURL: url, interval: .milliseconds(100), timeout: timeout, logger: Logger(label: "test"))
        let exporting = Task { await exporter.run(shutdownTimeout: .milliseconds(200)) }
        let gateway = try await ProxyFixture.start(routes: catchAllRoutes(upstreamPort: upstream.port), metrics: metrics.metrics, spans: queue)
        defer { exporting.cancel() }
        do {
            let result = try await body(gateway, queue, metrics)
            await gateway.stop()
            exporting.cancel()
            await exporting.value
            await upstream.stop()
            return result
        } catch {
            await gateway.stop()
            await upstream.stop()
            throw error
        }
    }

    @Test func aStalledCollectorCostsSpansNotLatency() async throws {
        let receiver = try await OTLPReceiver.start(mode: .stall)
        defer { receiver.stop() }
        // The same requests without export, for comparison.
        let baseline = try await withGateway(routes: { catchAllRoutes(upstreamPort: $0) }) { gateway, _ in try await latencies(300, through: gateway) }
        let (stalled, dropped, queued) = try await withExporter(
            to: receiver.endpoint + "/v1/traces", capacity: 64, batchSize: 16, timeout: .seconds(60)
        ) { gateway, queue, metrics in
            let stalled = try await latencies(300, through: gateway)
            return (stalled, samples(metrics)["portico_trace_spans_dropped_total"] ?? -1, queue.count)
        }
        // The exporter took one batch (1–16 spans) and waits on it; the queue is full.
        #expect(queued == 64)
        #expect((300.0 - 64 - 16)...(300.0 - 64 - 1) ~= dropped)
        let median = (baseline: baseline[150], stalled: stalled[150])
        print("latency without export: median \(median.baseline), max \(baseline.last!); collector stalled: median \(median.stalled), max \(stalled.last!)")
        // Not held by the export (its timeout is 60 s): within noise of the run without it.
        #expect(stalled.last! < .seconds(1))
        #expect(median.stalled < median.baseline * 3 + .milliseconds(5))
    }

    @Test func aCollectorThatIsDownCostsItsBatches() async throws {
        let port = try refusingLoopbackPort()
        try await withExporter(to: "http://127.0.0.1:\(port)/v1/traces", capacity: 64, batchSize: 8, timeout: .milliseconds(500)) {
            gateway, queue, metrics in
            _ = try await latencies(40, through: gateway)
            try await waitUntil("40 spans counted dropped") { samples(metrics)["portico_trace_spans_dropped_total"] == 40 }
            #expect(samples(metrics)["portico_trace_spans_exported_total"] == 0)
            #expect(queue.count == 0)
        }
    }

    private func samples(_ metrics: MetricsEndpoint) -> [String: Double] {
        var buffer: [UInt8] = []
        metrics.registry.emit(into: &buffer)
        return prometheusSamples(String(decoding: buffer, as: UTF8.self))
    }
}
