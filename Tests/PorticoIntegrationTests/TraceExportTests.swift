import Foundation
import PorticoTestSupport
import Testing

/// OTLP/HTTP span export (SPEC §16), read by opentelemetry-proto's own decoder: the built
/// gateway exports one SERVER span per sampled proxied request to a receiver on loopback.
@Suite(.serialized) struct TraceExportTests {
    private static let client = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func sampledRequestsArriveAsServerSpans() async throws {
        let receiver = try await OTLPReceiver.start()
        defer { receiver.stop() }
        let upstream = try await TestUpstream.start()
        let gateway = try await ServingGateway.start(
            routes: catchAllRoutes(upstreamPort: upstream.port), environment: ["PORTICO_OTLP_ENDPOINT": receiver.endpoint])
        let before = UInt64(Date().timeIntervalSince1970 * 1e9)
        let continued = try await gateway.client.send(
            .GET, "/users/7?x=1", headers: [("host", "shop.example.com"), ("traceparent", Self.client), ("tracestate", "rojo=1")])
        let fresh = try await gateway.client.send(.POST, "/cart", headers: [("host", "shop.example.com")], body: "x")
        // Not exported: a client's unsampled trace.
        let unsampled = try await gateway.client.send(
            .GET, "/quiet", headers: [("host", "a"), ("traceparent", "00-11111111111111111111111111111111-2222222222222222-00")])
        #expect([continued.status, fresh.status, unsampled.status] == [200, 200, 200] as [Int])

        // Within the 5 s export interval.
        let spans = try await receiver.waitForSpans(2, timeout: .seconds(8))
        let after = UInt64(Date().timeIntervalSince1970 * 1e9)
        #expect(spans.allSatisfy { $0["decodeError"] == nil }, "\(spans)")
        let upstreamParent = try #require(Self.traceparent(in: continued.body))
        let span = try #require(spans.first { $0["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736" })
        // The span the upstream was told is its parent, a child of the client's.
        #expect("00-4bf92f3577b34da6a3ce929d0e0e4736-\(span["spanId"] as? String ?? "?")-01" == upstreamParent)
        #expect(span["parentSpanId"] as? String == "00f067aa0ba902b7")
        #expect(span["traceState"] as? String == "rojo=1")
        #expect(span["name"] as? String == "GET app")
        #expect(span["kind"] as? Int == 2)  // SPAN_KIND_SERVER
        #expect(span["status"] as? Int == 0)
        #expect(span["path"] as? String == "/v1/traces")
        #expect(span["contentType"] as? String == "application/x-protobuf")
        #expect((span["resource"] as? [String: Any])?["service.name"] as? String == "portico")
        let attributes = try #require(span["attributes"] as? [String: Any])
        #expect(attributes["http.request.method"] as? String == "GET")
        #expect(attributes["url.path"] as? String == "/users/7")
        #expect(attributes["http.route"] as? String == "app")
        #expect(attributes["http.response.status_code"] as? Int == 200)
        #expect(attributes["client.address"] as? String == "127.0.0.1")
        #expect(attributes["server.address"] as? String == "shop.example.com")
        #expect(attributes["portico.upstream.endpoint"] as? String == "127.0.0.1:\(upstream.port)")
        let start = try #require((span["start"] as? NSNumber)?.uint64Value)
        let end = try #require((span["end"] as? NSNumber)?.uint64Value)
        #expect(before <= start && start <= end && end <= after)

        let root = try #require(spans.first { $0["traceId"] as? String != "4bf92f3577b34da6a3ce929d0e0e4736" })
        #expect("00-\(root["traceId"] as? String ?? "?")-\(root["spanId"] as? String ?? "?")-01" == Self.traceparent(in: fresh.body))
        #expect(root["parentSpanId"] as? String == "")
        #expect(root["name"] as? String == "POST app")

        let metrics = prometheusSamples(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/metrics").body)
        #expect(metrics["portico_trace_spans_exported_total"] == 2)
        #expect(metrics["portico_trace_spans_dropped_total"] == 0)
        // What is queued when the gateway stops is sent before it exits.
        _ = try await gateway.client.send(.GET, "/last", headers: [("host", "a")])
        gateway.process.signal(SIGTERM)
        #expect(try await gateway.process.waitForExit() == 0)
        let last = receiver.spans.filter { ($0["attributes"] as? [String: Any])?["url.path"] as? String == "/last" }
        #expect(last.count == 1)
        #expect(receiver.spans.count == 3)
        gateway.folder.remove()
        await upstream.stop()
    }

    @Test func aBadEndpointIsAStartupError() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/app.yaml", "routes: [{ name: a, respond: { status: 200 } }]")
        let gateway = try PorticoProcess.start(
            ["--http-addr", "127.0.0.1:\(try await freeLoopbackPort())", "--admin-addr", "127.0.0.1:0"],
            environment: ["PORTICO_OTLP_ENDPOINT": "collector:4318"], directory: folder.url)
        #expect(try await gateway.waitForExit() != 0)
        #expect(gateway.log.contains("PORTICO_OTLP_ENDPOINT"))
        #expect(gateway.log.contains("collector:4318"))
    }

    private static func traceparent(in echo: String) -> String? {
        echo.split(separator: "\n").first { $0.hasPrefix("traceparent: ") }.map { String($0.dropFirst(13)) }
    }
}
