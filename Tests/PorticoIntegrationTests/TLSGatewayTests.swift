import Foundation
import NIOCore
import PorticoTestSupport
import Testing

/// The HTTPS listener of a real `portico` process: certificates from `certs/`, reloads,
/// bad pairs, the `certs dev` and `validate --certs` commands, and HTTP/2 backpressure.
@Suite struct TLSGatewayTests {
    @Test func certificatesFromTheFolderAreServedBySNIAndABrokenPairIsSkipped() async throws {
        let upstream = try await TestUpstream.start()
        let folder = try TemporaryFolder()
        let api = try TestCertificate(dnsNames: ["api.veni.test"])
        let wildcard = try TestCertificate(dnsNames: ["*.veni.test"])
        try api.write(to: folder, name: "api")
        try wildcard.write(to: folder, name: "wildcard")
        // A key that belongs to another certificate, and a certificate without its key.
        try folder.write("certs/broken.crt", try TestCertificate(dnsNames: ["broken.veni.test"]).certificatePEM)
        try folder.write("certs/broken.key", try TestCertificate(dnsNames: ["other.test"]).privateKeyPEM)
        try folder.write("certs/lonely.crt", api.certificatePEM)
        try folder.write("routes/app.yaml", catchAllRoutes(upstreamPort: upstream.port))
        let serving = try await ServingGateway.start(in: folder)

        let exact = try await TestTLS(serverName: "api.veni.test").handshake(port: serving.httpsPort)
        #expect(exact.peerCertificate == (try api.der()))
        let covered = try await TestTLS(serverName: "shop.veni.test").handshake(port: serving.httpsPort)
        #expect(covered.peerCertificate == (try wildcard.der()))
        // broken.veni.test is not served by the broken pair: the wildcard covers it.
        let skipped = try await TestTLS(serverName: "broken.veni.test").handshake(port: serving.httpsPort)
        #expect(skipped.peerCertificate == (try wildcard.der()))
        #expect(serving.process.log.contains("certs/broken.crt, broken.key: the private key does not belong to the certificate; skipped"))
        #expect(serving.process.log.contains("certs/lonely.crt: no lonely.key beside it; skipped"))

        let connection = try await HTTP2TestConnection.connect(port: serving.httpsPort, tls: TestTLS(serverName: "api.veni.test"))
        let response = try await connection.send(.GET, "/over-h2", authority: "api.veni.test")
        #expect(response.status == 200)
        #expect(response.body.contains("x-forwarded-proto: https\n"))
        await connection.close()
        _ = try? await TestTLS(serverName: "api.veni.test", minimumVersion: .tlsv1, maximumVersion: .tlsv11)
            .handshake(port: serving.httpsPort)

        let metrics = try await AdminClient(port: serving.adminPort, token: nil).send(.GET, "/metrics")
        let samples = prometheusSamples(metrics.body)
        #expect(samples[#"portico_tls_handshakes_total{result="success"}"#] == 4)
        #expect(samples[#"portico_tls_handshakes_total{result="failure"}"#] == 1)
        #expect(samples[#"portico_requests_total{route="app",code="200"}"#] == 1)
        await serving.stop()
        await upstream.stop()
    }

    @Test func aReplacedCertificateIsServedWithinSecondsWithoutDroppingConnections() async throws {
        let upstream = try await TestUpstream.start()
        let folder = try TemporaryFolder()
        let first = try TestCertificate(dnsNames: ["api.veni.test"])
        try first.write(to: folder, name: "api")
        try folder.write("routes/app.yaml", catchAllRoutes(upstreamPort: upstream.port))
        let serving = try await ServingGateway.start(in: folder)
        let tls = TestTLS(serverName: "api.veni.test")
        let connection = try await HTTP2TestConnection.connect(port: serving.httpsPort, tls: tls)
        let before = try await connection.send(.GET, "/before", authority: "api.veni.test")
        #expect(before.status == 200)

        // As a renewal writes it: the key first (for a moment it does not match the old
        // certificate, and the old pair stays in use), then the certificate.
        let renewed = try TestCertificate(dnsNames: ["api.veni.test"])
        try folder.write("certs/api.key", renewed.privateKeyPEM)
        try await Task.sleep(for: .milliseconds(900))
        let between = try await tls.handshake(port: serving.httpsPort)
        #expect(between.peerCertificate == (try first.der()))
        try folder.write("certs/api.crt", renewed.certificatePEM)
        let written = ContinuousClock.now
        var served: [UInt8] = []
        while ContinuousClock.now - written < .seconds(5) {
            served = try await tls.handshake(port: serving.httpsPort).peerCertificate
            if served == (try renewed.der()) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(served == (try renewed.der()), "the renewed certificate was not served within 5 s")
        let after = try await connection.send(.GET, "/after", authority: "api.veni.test")
        #expect(after.status == 200)
        await connection.close()
        await serving.stop()
        await upstream.stop()
    }

    @Test func httpsStartsWhenTheFirstCertificateArrives() async throws {
        let serving = try await ServingGateway.start(routes: "routes: [{ name: hello, respond: { status: 200, body: hi } }]\n")
        #expect(serving.process.log.contains("HTTPS is off until one is added"))
        await #expect(throws: (any Error).self) {
            _ = try await TestTLS(serverName: "localhost").handshake(port: serving.httpsPort)
        }
        let certificate = try TestCertificate(dnsNames: ["localhost"])
        try certificate.write(to: serving.folder, name: "localhost")
        try await serving.process.waitForLog("\"protocol\":\"https\"", timeout: .seconds(5))
        var client = LoopbackHTTPClient(port: serving.httpsPort)
        client.tls = TestTLS(serverName: "localhost")
        let response = try await client.send(.GET, "/", headers: [("host", "localhost")])
        #expect(response.body == "hi")
        await serving.stop()
    }

    @Test func certsDevWritesAPairThatValidatesAndServes() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let dev = try PorticoProcess.start(["certs", "dev"], directory: folder.url)
        #expect(try await dev.waitForExit() == 0)
        let keyPath = folder.url.appendingPathComponent("certs/localhost.key").path
        let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let again = try PorticoProcess.start(["certs", "dev"], directory: folder.url)
        #expect(try await again.waitForExit() == 1)
        #expect(again.log.contains("already exists; use --force"))

        try folder.write("routes/a.yaml", "routes: [{ name: a, respond: { status: 200 } }]\n")
        let valid = try PorticoProcess.start(["validate", "routes", "--certs", "certs"], directory: folder.url)
        #expect(try await valid.waitForExit() == 0)
        #expect(valid.log.contains("certs: valid (1 certificate)"))

        try folder.write("certs/bad.crt", "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        try folder.write("certs/bad.key", "nothing")
        let invalid = try PorticoProcess.start(["validate", "routes", "--certs", "certs"], directory: folder.url)
        #expect(try await invalid.waitForExit() == 1)
        #expect(invalid.log.contains("portico: certs/bad.crt, bad.key: the certificate is not valid PEM"))

        // The development certificate serves localhost over HTTPS.
        try FileManager.default.removeItem(atPath: folder.url.appendingPathComponent("certs/bad.crt").path)
        try FileManager.default.removeItem(atPath: folder.url.appendingPathComponent("certs/bad.key").path)
        let serving = try await ServingGateway.start(in: folder)
        var client = LoopbackHTTPClient(port: serving.httpsPort)
        client.tls = TestTLS(serverName: "localhost")
        let response = try await client.send(.GET, "/", headers: [("host", "localhost")])
        #expect(response.status == 200)
        await serving.process.stop()
    }
}

extension HeavyIntegrationTests {
    /// HTTP/2 streams keep backpressure end to end in the gateway process.
    @Suite(.serialized) struct HTTP2BackpressureTests {
        static let size = 128 * 1024 * 1024

        private func withTLSGateway(_ body: (ServingGateway, HTTP2TestConnection) async throws -> Void) async throws {
            let upstream = try await TestUpstream.start()
            let folder = try TemporaryFolder()
            try TestCertificate(dnsNames: ["api.veni.test"]).write(to: folder, name: "api")
            try folder.write("routes/app.yaml", catchAllRoutes(upstreamPort: upstream.port))
            let serving = try await ServingGateway.start(in: folder)
            let connection = try await HTTP2TestConnection.connect(port: serving.httpsPort, tls: TestTLS(serverName: "api.veni.test"))
            _ = try await connection.send(.GET, "/warm-up", authority: "api.veni.test")
            try await body(serving, connection)
            await connection.close()
            await serving.stop()
            await upstream.stop()
        }

        @Test func aStalledHTTP2StreamDoesNotMakeTheGatewayBufferTheDownload() async throws {
            try await withTLSGateway { serving, connection in
                let gateway = serving.process
                let baseline = try #require(gateway.memoryKiB("VmRSS"))
                let response = try await connection.send(.GET, "/download?bytes=\(Self.size)", authority: "api.veni.test") {
                    try await Task.sleep(for: .seconds(2))
                    let stalled = try #require(gateway.memoryKiB("VmRSS"))
                    #expect(stalled - baseline < 48 * 1024, "RSS grew by \((stalled - baseline) / 1024) MiB while the stream stalled")
                }
                #expect(response.checksum == TestBody.checksum(total: Self.size, chunkSize: 64 * 1024))
                let peak = try #require(gateway.memoryKiB("VmHWM"))
                #expect(peak - baseline < 64 * 1024, "peak RSS grew by \((peak - baseline) / 1024) MiB over the transfer")
            }
        }

        @Test func aStalledUpstreamDoesNotMakeTheGatewayBufferAnHTTP2Upload() async throws {
            try await withTLSGateway { serving, connection in
                let gateway = serving.process
                let baseline = try #require(gateway.memoryKiB("VmRSS"))
                let response = try await connection.send(
                    .POST, "/stall", authority: "api.veni.test", streamedBody: .init(total: Self.size, chunkSize: 256 * 1024))
                let expected = TestBody.checksum(total: Self.size, chunkSize: 256 * 1024)
                #expect(response.body == "\(expected.length) \(String(expected.value, radix: 16))")
                let peak = try #require(gateway.memoryKiB("VmHWM"))
                #expect(peak - baseline < 64 * 1024, "peak RSS grew by \((peak - baseline) / 1024) MiB over the upload")
            }
        }
    }
}
