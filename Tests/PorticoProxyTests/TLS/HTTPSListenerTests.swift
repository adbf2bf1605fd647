import NIOCore
import NIOHTTP1
import NIOSSL
import PorticoProxy
import PorticoTestSupport
import Testing

/// The HTTPS listener on loopback: SNI, protocol versions, ALPN, HTTP/2 streams served by the
/// same proxy path as HTTP/1.1, and certificate swaps.
@Suite struct HTTPSListenerTests {
    private let api: TestCertificate
    private let wildcard: TestCertificate
    private let fallback: TestCertificate

    init() throws {
        api = try TestCertificate(dnsNames: ["api.veni.test"])
        wildcard = try TestCertificate(dnsNames: ["*.veni.test"])
        fallback = try TestCertificate(dnsNames: ["localhost"])
    }

    private func withHTTPSGateway(
        certificates: CertificateStore? = nil,
        _ body: (ProxyFixture, TestUpstream) async throws -> Void
    ) async throws {
        let upstream = try await TestUpstream.start()
        let store = try certificates ?? TestCertificate.store([("api", api), ("wildcard", wildcard), ("default", fallback)])
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstream.port)"] }]
                routes:
                  - { name: secure, match: { path: { prefix: /secure } }, httpsRedirect: true, respond: { status: 200, body: "over tls" } }
                  - { name: app, upstream: app }
                """, certificates: store)
        do {
            try await body(gateway, upstream)
        } catch {
            await gateway.stop()
            await upstream.stop()
            throw error
        }
        await gateway.stop()
        await upstream.stop()
    }

    @Test(arguments: [
        ("api.veni.test", "api"), ("a.veni.test", "wildcard"), ("a.b.veni.test", "default"), ("other.test", "default"),
    ])
    func theCertificateIsChosenByServerName(serverName: String, expected: String) async throws {
        let expectedDER = try ["api": api, "wildcard": wildcard, "default": fallback][expected]!.der()
        try await withHTTPSGateway { gateway, _ in
            let handshake = try await TestTLS(serverName: serverName).handshake(port: gateway.port)
            #expect(handshake.peerCertificate == expectedDER)
        }
    }

    @Test func aClientWithoutServerNameGetsTheDefaultCertificate() async throws {
        try await withHTTPSGateway { gateway, _ in
            let handshake = try await TestTLS(serverName: nil).handshake(port: gateway.port)
            #expect(handshake.peerCertificate == (try fallback.der()))
        }
    }

    @Test(arguments: [TLSVersion.tlsv1, .tlsv11])
    func versionsBelowTLS12AreRefused(version: TLSVersion) async throws {
        try await withHTTPSGateway { gateway, _ in
            await #expect(throws: (any Error).self) {
                _ = try await TestTLS(serverName: "api.veni.test", minimumVersion: .tlsv1, maximumVersion: version)
                    .handshake(port: gateway.port)
            }
            let modern = try await TestTLS(serverName: "api.veni.test", minimumVersion: .tlsv12, maximumVersion: .tlsv12)
                .handshake(port: gateway.port)
            #expect(modern.peerCertificate == (try api.der()))
        }
    }

    @Test func alpnOffersHTTP2ThenHTTP11() async throws {
        try await withHTTPSGateway { gateway, _ in
            let tls = TestTLS(serverName: "api.veni.test")
            let both = try await tls.handshake(port: gateway.port)
            let http11 = try await tls.handshake(port: gateway.port, alpn: ["http/1.1"])
            let none = try await tls.handshake(port: gateway.port, alpn: [])
            #expect(both.negotiatedProtocol == "h2")
            #expect(http11.negotiatedProtocol == "http/1.1")
            #expect(none.negotiatedProtocol == nil)
        }
    }

    @Test func http11OverTLSIsProxiedWithForwardedProtoHTTPS() async throws {
        try await withHTTPSGateway { gateway, _ in
            var client = LoopbackHTTPClient(port: gateway.port)
            client.tls = TestTLS(serverName: "api.veni.test")
            let response = try await client.send(.GET, "/hello", headers: [("host", "api.veni.test"), ("x-forwarded-proto", "http")])
            #expect(response.status == 200)
            #expect(response.body.contains("x-forwarded-proto: https\n"))
            #expect(!response.body.contains("x-forwarded-proto: http\n"))
            // httpsRedirect routes are served, not redirected, over TLS.
            let secure = try await client.send(.GET, "/secure/a", headers: [("host", "api.veni.test")])
            #expect(secure.status == 200)
            #expect(secure.body == "over tls")
        }
    }

    @Test func http2CarriesBodiesOverOneMebibyteBothWays() async throws {
        try await withHTTPSGateway { gateway, _ in
            let connection = try await HTTP2TestConnection.connect(port: gateway.port, tls: TestTLS(serverName: "api.veni.test"))
            let size = 3 * 1024 * 1024 + 17
            let download = try await connection.send(.GET, "/download?bytes=\(size)", authority: "api.veni.test")
            #expect(download.status == 200)
            #expect(download.checksum == TestBody.checksum(total: size, chunkSize: 64 * 1024))
            let echo = try await connection.send(
                .POST, "/echo", authority: "api.veni.test", streamedBody: .init(total: size, chunkSize: 16 * 1024))
            #expect(echo.status == 200)
            #expect(echo.checksum == TestBody.checksum(total: size, chunkSize: 16 * 1024))
            let upload = try await connection.send(
                .PUT, "/upload", authority: "api.veni.test", streamedBody: .init(total: size, chunkSize: 40_000))
            let sent = TestBody.checksum(total: size, chunkSize: 40_000)
            #expect(upload.body == "\(sent.length) \(String(sent.value, radix: 16))")
            let plain = try await connection.send(.GET, "/hello?x=1", authority: "api.veni.test")
            #expect(plain.body.hasPrefix("GET /hello?x=1\n"))
            #expect(plain.body.contains("host: api.veni.test\n"))
            #expect(plain.body.contains("x-forwarded-proto: https\n"))
            // Cookie crumbs of an HTTP/2 request reach the HTTP/1.1 upstream as one header.
            let crumbs = try await connection.send(
                .GET, "/cookies", authority: "api.veni.test", headers: [("cookie", "a=1"), ("cookie", "b=2")])
            #expect(crumbs.body.contains("cookie: a=1; b=2\n"))
            await connection.close()
        }
    }

    @Test func http2StreamsRunConcurrentlyOnOneConnection() async throws {
        try await withHTTPSGateway { gateway, upstream in
            let connection = try await HTTP2TestConnection.connect(port: gateway.port, tls: TestTLS(serverName: "a.veni.test"))
            // Twenty requests that each wait 1 s upstream: served at once (about 1 s), not one by
            // one (20 s); the bound leaves room for a loaded machine.
            let clock = ContinuousClock()
            let started = clock.now
            let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let response = try await connection.send(.GET, "/slow?ms=1000&n=\(index)", authority: "a.veni.test")
                        return (response.status, response.body)
                    }
                }
                var results: [(Int, String)] = []
                for try await result in group { results.append(result) }
                return results
            }
            let elapsed = clock.now - started
            #expect(statuses.count == 20)
            #expect(statuses.allSatisfy { $0.0 == 200 })
            #expect(elapsed < .seconds(10), "20 × 1 s took \(elapsed): streams were not concurrent (20 s one by one)")
            #expect(upstream.requestsReceived == 20)
            await connection.close()
        }
    }

    @Test func anUpstreamFailureAnswersTheStreamAndKeepsTheConnection() async throws {
        let closedPort = try refusingLoopbackPort()
        let store = try TestCertificate.store([("api", api)])
        let gateway = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: gone, endpoints: ["127.0.0.1:\(closedPort)"] }]
                routes: [{ name: gone, upstream: gone }]
                """, certificates: store)
        let connection = try await HTTP2TestConnection.connect(port: gateway.port, tls: TestTLS(serverName: "api.veni.test"))
        for attempt in 0..<3 {
            let response: TestResponse
            do {
                response = try await connection.send(.GET, "/x", authority: "api.veni.test")
            } catch {
                Issue.record("attempt \(attempt): \(error); gateway port \(gateway.port), closed port \(closedPort)")
                throw error
            }
            #expect(response.status == 502)
            #expect(response.body == #"{"error":"upstream_unreachable","route":"gone"}"#)
        }
        // An upload answered before its body is sent: the stream is not reset under the
        // client's writes; the rest of the body is read and dropped.
        let upload = try await connection.send(
            .POST, "/x", authority: "api.veni.test", streamedBody: .init(total: 2 * 1024 * 1024, chunkSize: 16 * 1024))
        #expect(upload.status == 502)
        let after = try await connection.send(.GET, "/x", authority: "api.veni.test")
        #expect(after.status == 502)
        await connection.close()
        await gateway.stop()
    }

    @Test func aSwappedCertificateSetServesNewConnectionsAndKeepsOldOnes() async throws {
        let store = try TestCertificate.store([("api", api)])
        try await withHTTPSGateway(certificates: store) { gateway, _ in
            let tls = TestTLS(serverName: "api.veni.test")
            let connection = try await HTTP2TestConnection.connect(port: gateway.port, tls: tls)
            let before = try await connection.send(.GET, "/before", authority: "api.veni.test")
            #expect(before.status == 200)

            let renewed = try TestCertificate(dnsNames: ["api.veni.test"])
            store.publish(CertificateSet.build([try renewed.loaded(name: "api")]).set)
            let handshake = try await tls.handshake(port: gateway.port)
            #expect(handshake.peerCertificate == (try renewed.der()))
            // The connection made before the swap goes on.
            let after = try await connection.send(.GET, "/after", authority: "api.veni.test")
            #expect(after.status == 200)
            await connection.close()
        }
    }
}
