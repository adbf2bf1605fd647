import Foundation

/// An OTLP/HTTP trace receiver on a loopback port: Python's `http.server` decoding each
/// export with the `opentelemetry-proto` package's own protobuf types, so what the gateway
/// sends is read by OpenTelemetry's decoder, not by ours. Each span becomes one JSON line of
/// ``spans``; a body it cannot decode becomes a line with `decodeError`.
///
/// In ``Mode/stall`` it reads each export and never answers, as a collector that hangs.
public final class OTLPReceiver: Sendable {
    public enum Mode: String, Sendable {
        case answer
        case stall
    }

    private let server: PythonServer
    private let output: URL

    public var port: Int { server.port }

    private init(server: PythonServer, output: URL) {
        self.server = server
        self.output = output
    }

    /// The base URL a gateway exports to (`PORTICO_OTLP_ENDPOINT`).
    public var endpoint: String { "http://127.0.0.1:\(port)" }

    static let script = """
        import http.server, json, sys, time
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
        port, mode, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        def value(any):
            kind = any.WhichOneof("value")
            return getattr(any, kind) if kind else None
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if mode == "stall":
                    time.sleep(3600)
                    return
                lines = []
                try:
                    request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                    for resource_spans in request.resource_spans:
                        resource = {kv.key: value(kv.value) for kv in resource_spans.resource.attributes}
                        for scope_spans in resource_spans.scope_spans:
                            for span in scope_spans.spans:
                                lines.append({
                                    "path": self.path, "contentType": self.headers.get("Content-Type"),
                                    "resource": resource, "scope": scope_spans.scope.name,
                                    "traceId": span.trace_id.hex(), "spanId": span.span_id.hex(),
                                    "parentSpanId": span.parent_span_id.hex(), "traceState": span.trace_state,
                                    "name": span.name, "kind": span.kind,
                                    "start": span.start_time_unix_nano, "end": span.end_time_unix_nano,
                                    "status": span.status.code,
                                    "attributes": {kv.key: value(kv.value) for kv in span.attributes},
                                })
                except Exception as error:
                    lines.append({"decodeError": str(error)})
                with open(out, "a") as file:
                    file.write("".join(json.dumps(line) + "\\n" for line in lines))
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        server.serve_forever()
        """

    /// Starts the receiver and waits until it accepts connections (at most 10 s). Fails,
    /// rather than skips, when Python lacks `opentelemetry-proto` (`.ci/run` installs it).
    public static func start(mode: Mode = .answer) async throws -> OTLPReceiver {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        check.arguments = ["python3", "-c", "import opentelemetry.proto.collector.trace.v1.trace_service_pb2"]
        check.standardOutput = FileHandle.nullDevice
        check.standardError = FileHandle.nullDevice
        try check.run()
        check.waitUntilExit()
        guard check.terminationStatus == 0 else {
            throw MissingPythonPackage(name: "opentelemetry-proto")
        }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-\(UUID().uuidString).jsonl")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        // No GET handler: a 501 says it listens.
        let server = try await PythonServer.start(
            script: script, arguments: [mode.rawValue, output.path], readyStatus: 501, name: "the OTLP receiver")
        return OTLPReceiver(server: server, output: output)
    }

    /// Every span received so far, decoded.
    public var spans: [[String: Any]] {
        guard let text = try? String(contentsOf: output, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Waits until at least `count` spans have arrived.
    public func waitForSpans(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let spans = self.spans
            if spans.count >= count { return spans }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PorticoProcessError.timedOut(waitingFor: "\(count) spans at the OTLP receiver (\(spans.count) so far)", log: "")
    }

    public func stop() {
        server.stop()
        try? FileManager.default.removeItem(at: output)
    }
}

/// A Python package a test's helper needs is not installed.
public struct MissingPythonPackage: Error, CustomStringConvertible {
    public let name: String
    public var description: String { "python3 lacks \(name): python3 -m pip install \(name) (.ci/run installs it)" }
}
