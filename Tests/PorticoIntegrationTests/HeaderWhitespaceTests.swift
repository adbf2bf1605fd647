import Foundation
import PorticoTestSupport
import Testing

extension HeavyIntegrationTests {
    /// An upstream whose header values carry surrounding whitespace, as Python's `http.server`
    /// sends `Server: name ` with an empty `sys_version` (issue 14 #4).
    @Suite(.serialized) struct HeaderWhitespaceTests {
        static let h2load = ["/usr/bin/h2load", "/usr/local/bin/h2load"].first { FileManager.default.isExecutableFile(atPath: $0) }

        @Test(.enabled(if: h2load != nil || ProcessInfo.processInfo.environment["CI"] != nil, "h2load is not installed; .ci/run installs nghttp2-client"))
        func everyHTTP2StreamSucceedsAndHTTP1ValuesAreTrimmed() async throws {
            let python = try await PythonUpstream.start()
            defer { python.stop() }
            let folder = try TemporaryFolder()
            try TestCertificate(dnsNames: ["localhost"]).write(to: folder, name: "localhost")
            try folder.write("routes/app.yaml", catchAllRoutes(upstreamPort: python.port))
            let gateway = try await ServingGateway.start(in: folder)

            // HTTP/1.1: the values arrive without their surrounding whitespace.
            let reply = try await RawSocketClient.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", port: gateway.port)
            #expect(reply.status == 200)
            let head = reply.text.lowercased()
            #expect(head.contains("\r\nserver: name\r\n"), "\(reply.text)")
            #expect(head.contains("\r\nx-padded: padded\r\n"), "\(reply.text)")

            // HTTP/2 with nghttp2's client, which refuses malformed field values (RFC 9113 §8.2.1).
            let h2load = try #require(Self.h2load)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: h2load)
            process.arguments = ["-n", "300", "-c", "3", "-m", "10", "https://127.0.0.1:\(gateway.httpsPort)/"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let deadline = ContinuousClock.now + .seconds(60)
            while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning { process.terminate() }
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(output.contains("300 succeeded, 0 failed, 0 errored"), "\(output)")
            await gateway.stop()
        }
    }
}
