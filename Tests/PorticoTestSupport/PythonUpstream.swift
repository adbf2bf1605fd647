import Foundation

/// Python's own `http.server` on a loopback port, as a second, independent upstream
/// implementation: lenient with whatever a gateway forwards, and sending what Python sends
/// (`Server: name ` with a trailing space when `sys_version` is empty).
///
/// Every request is answered `200 ok` with the header `X-Padded: "\t padded \t"`, and the
/// connection is closed after it.
public final class PythonUpstream: Sendable {
    private let server: PythonServer

    public var port: Int { server.port }

    private init(server: PythonServer) {
        self.server = server
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
        PythonUpstream(server: try await PythonServer.start(script: script, readyStatus: 200, name: "python3 http.server"))
    }

    public func stop() {
        server.stop()
    }
}
