import Foundation

/// Python's own `http.server` on a loopback port, as a second, independent upstream
/// implementation: lenient with whatever a gateway forwards, and sending what Python sends
/// (`Server: name ` with a trailing space when `sys_version` is empty).
///
/// Every request is answered `200 ok` with the header `X-Padded: "\t padded \t"`, and the
/// connection is closed after it.
public final class PythonUpstream: Sendable {
    public let port: Int
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    static let script = """
        import http.server, sys
        class Handler(http.server.BaseHTTPRequestHandler):
            server_version = "name"
            sys_version = ""
            protocol_version = "HTTP/1.1"
            def answer(self):
                self.close_connection = True
                self.send_response(200)
                self.send_header("X-Padded", "\\t padded \\t")
                self.send_header("Content-Length", "2")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")
            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = answer
            def log_message(self, *args):
                pass
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
        """

    /// Starts the server and waits until it accepts connections (at most 10 s).
    public static func start() async throws -> PythonUpstream {
        let port = try await freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, String(port)]
        // Its own output: an inherited pipe would keep the test runner's output open.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        StartedProcesses.add(process.processIdentifier)  // killed at exit whatever happens to the test
        let upstream = PythonUpstream(port: port, process: process)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let reply = try? await RawSocketClient.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n", port: port, timeout: .seconds(1)),
                reply.status == 200
            {
                return upstream
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        upstream.stop()
        throw PorticoProcessError.timedOut(waitingFor: "python3 http.server on port \(port)", log: "")
    }

    /// Stops the server: SIGTERM, then SIGKILL if it is still running a second later (a
    /// server that inherited an ignored SIGTERM outlived its test once).
    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
