import Foundation
import NIOCore
import PorticoControl
import PorticoCore
import PorticoTestSupport
import Testing
import W3CTraceContext

@testable import PorticoProxy

/// The span export's pure parts (SPEC §16): the span an exchange makes, protobuf's wire
/// format, the bounded queue and the endpoint setting. The OTLP decoding of the whole
/// export is checked against opentelemetry-proto's decoder in `TraceExportTests`.
struct SpanExportTests {
    private static let client = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    private func record(status: Int, route: String? = "app", host: String? = "shop.example.com") -> ExchangeRecord {
        var record = ExchangeRecord(
            method: "POST", path: "/cart", host: host, requestID: nil, client: "192.0.2.7", routeName: route,
            startTime: .uptimeNanoseconds(1_000))
        record.status = status
        record.endpoint = Endpoint(host: "10.0.0.5", port: 8080)
        var dice: [UInt64] = [0x1111, 0x2222, 0x3333]
        record.trace = RequestTrace(traceparent: Self.client, tracestate: "rojo=1", sampleRate: 1, random: { dice.removeFirst() })
        return record
    }

    @Test func aSpanCarriesTheSpecsAttributes() throws {
        let span = try #require(FinishedSpan(record(status: 201), endUnixNanos: 5_000_000_000, elapsedNanos: 1_500_000))
        #expect(encodedName(of: span) == "POST app")
        #expect(span.startUnixNanos == 4_998_500_000)
        #expect(span.endUnixNanos == 5_000_000_000)
        #expect(!span.isError)
        #expect(
            attributes(of: span) == [
                "http.request.method": .string("POST"), "url.path": .string("/cart"), "http.route": .string("app"),
                "http.response.status_code": .int(201), "client.address": .string("192.0.2.7"),
                "server.address": .string("shop.example.com"), "portico.upstream.endpoint": .endpoint(Endpoint(host: "10.0.0.5", port: 8080)),
            ])
        #expect(span.trace.parent.map { withUnsafeBytes(of: $0.bytes) { Data($0) } } == Data([0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]))
    }

    @Test func anEndpointIsWrittenAsItsDescription() throws {
        for endpoint in [Endpoint(host: "10.0.0.5", port: 8080), Endpoint(host: "::1", port: 0), Endpoint(host: "b.example", port: 65535)] {
            var writer = ProtobufWriter()
            var record = record(status: 200)
            record.endpoint = endpoint
            let span = try #require(FinishedSpan(record, endUnixNanos: 1, elapsedNanos: 1))
            let bytes = OTLPTraceRequest.encode([span])
            writer.string(1, endpoint.description)
            #expect(bytes.indices.contains { bytes[$0...].starts(with: writer.bytes) }, "\(endpoint)")
        }
    }

    @Test func aServerErrorIsAnErrorSpanAndWhatIsMissingIsLeftOut() throws {
        let span = try #require(FinishedSpan(record(status: 502, route: nil, host: nil), endUnixNanos: 10, elapsedNanos: 20))
        #expect(span.isError)
        #expect(encodedName(of: span) == "POST")
        #expect(span.startUnixNanos == UInt64(10) &- 20)  // never traps on a clock that went back
        #expect(attributes(of: span)["http.route"] == nil && attributes(of: span)["server.address"] == nil)
        #expect(!FinishedSpan(record(status: 499), endUnixNanos: 1, elapsedNanos: 1)!.isError)
        var untraced = record(status: 200)
        untraced.trace = nil
        #expect(FinishedSpan(untraced, endUnixNanos: 1, elapsedNanos: 1) == nil)
    }

    @Test(arguments: [
        (UInt64(0), [0x00]), (1, [0x01]), (127, [0x7f]), (128, [0x80, 0x01]), (300, [0xac, 0x02]),
        (UInt64.max, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
    ] as [(UInt64, [UInt8])])
    func varints(value: UInt64, bytes: [UInt8]) {
        var writer = ProtobufWriter()
        writer.varint(value)
        #expect(writer.bytes == bytes)
    }

    @Test func fieldsAndNestedMessages() {
        var writer = ProtobufWriter()
        writer.fixed64(7, 0x0102_0304_0506_0708)
        writer.string(5, "GET")
        writer.message(15) { $0.varintField(3, 2) }
        writer.message(1) { TextBytes.appendDecimal(8080, to: &$0.bytes) }
        // An int attribute's value is its two's complement as a varint.
        writer.varintField(3, UInt64(bitPattern: -1))
        #expect(
            writer.bytes == [0x39, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, 0x2a, 0x03, 0x47, 0x45, 0x54, 0x7a, 0x02, 0x18, 0x02, 0x0a, 0x04, 0x38, 0x30, 0x38, 0x30]
                + [0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])
    }

    @Test func theQueueHoldsItsCapacityAndCountsWhatItDrops() throws {
        let endpoint = MetricsEndpoint()
        let queue = SpanQueue(capacity: 5, batchSize: 2, metrics: endpoint.metrics)
        let span = try #require(FinishedSpan(record(status: 200), endUnixNanos: 1, elapsedNanos: 1))
        for _ in 0..<8 { queue.offer(span) }
        #expect(queue.count == 5)
        #expect(dropped(endpoint) == 3)
        #expect(queue.takeBatch().count == 2)
        #expect(queue.takeBatch().count == 2)
        #expect(queue.takeBatch().count == 1)
        #expect(queue.takeBatch().isEmpty)
        queue.countDropped(4)
        #expect(dropped(endpoint) == 7)
    }

    @Test func aFullBatchWakesTheExporter() async throws {
        let queue = SpanQueue(capacity: 10, batchSize: 3, metrics: MetricsEndpoint().metrics)
        let span = try #require(FinishedSpan(record(status: 200), endUnixNanos: 1, elapsedNanos: 1))
        var wakeups = queue.wakeups.makeAsyncIterator()
        for _ in 0..<3 { queue.offer(span) }
        queue.finishWakeups()
        #expect(await wakeups.next() != nil)  // the third span
        #expect(await wakeups.next() == nil)  // and only once
    }

    @Test(arguments: [
        ("http://collector:4318", "http://collector:4318/v1/traces"),
        ("http://collector:4318/", "http://collector:4318/v1/traces"),
        ("https://otel.example.com/otlp", "https://otel.example.com/otlp/v1/traces"),
        ("http://127.0.0.1:4318/v1/traces", "http://127.0.0.1:4318/v1/traces"),
    ])
    func theTracesURL(base: String, url: String) {
        #expect(OTLPEndpoint.tracesURL(base: base) == url)
    }

    @Test(arguments: ["collector:4318", "grpc://collector:4317", "http://", "http://c:4318/?x=1", "", "http://u:p@c:4318"])
    func aBadEndpointIsRefused(base: String) {
        #expect(OTLPEndpoint.tracesURL(base: base) == nil)
    }

    private func attributes(of span: FinishedSpan) -> [String: SpanAttributeValue] {
        var attributes: [String: SpanAttributeValue] = [:]
        span.forEachAttribute { attributes[$0] = $1 }
        return attributes
    }

    /// The span's name as encoded: the text of the `Span.name` field (5, length-delimited).
    private func encodedName(of span: FinishedSpan) -> String? {
        let bytes = OTLPTraceRequest.encode([span])
        for method in ["POST app", "POST"] {
            let field = [0x2a, UInt8(method.utf8.count)] + Array(method.utf8) + [0x30]  // then the kind, field 6
            if bytes.indices.contains(where: { bytes[$0...].starts(with: field) }) { return method }
        }
        return nil
    }

    private func dropped(_ endpoint: MetricsEndpoint) -> Double? {
        var buffer: [UInt8] = []
        endpoint.registry.emit(into: &buffer)
        return prometheusSamples(String(decoding: buffer, as: UTF8.self))["portico_trace_spans_dropped_total"]
    }
}
