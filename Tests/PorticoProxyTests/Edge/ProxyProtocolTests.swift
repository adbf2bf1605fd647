import NIOCore
import NIOPosix
import PorticoCore
import PorticoProxy
import PorticoTestSupport
import Testing

/// `PORTICO_PROXY_PROTOCOL=on` on loopback (SPEC §13): the header's source is the peer for
/// every purpose, over HTTP and HTTPS; a connection without a header is closed.
@Suite struct ProxyProtocolTests {
    private func seen(_ response: TestResponse, _ name: String) -> [String] {
        response.body.split(separator: "\n").compactMap { line in
            line.hasPrefix(name + ": ") ? String(line.dropFirst(name.count + 2)) : nil
        }
    }

    private let v1 = Array("PROXY TCP4 203.0.113.7 10.0.0.1 56324 8080\r\n".utf8)
    private let routes = { (port: Int) in
        """
        upstreams: [{ name: app, endpoints: ["127.0.0.1:\(port)"] }]
        routes: [{ name: app, upstream: app, allowFrom: ["203.0.113.0/24", "2001:db8::/32"] }]
        """
    }

    @Test func theHeadersSourceIsThePeerOverHTTP() async throws {
        var configuration = ProxyConfiguration()
        configuration.proxyProtocol = true
        try await withGateway(routes: routes, configuration: configuration) { gateway, upstream in
            var client = gateway.client
            client.proxyHeader = v1
            let response = try await client.send(.GET, "/a", headers: [("host", "a"), ("x-forwarded-for", "6.6.6.6")])
            #expect(response.status == 200)
            #expect(seen(response, "x-real-ip") == ["203.0.113.7"])
            #expect(seen(response, "x-forwarded-for") == ["6.6.6.6, 203.0.113.7"])
            // v2, IPv6.
            let source: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [9]
            let addresses = source + [UInt8](repeating: 0, count: 16) + [0, 1, 0, 2]
            client.proxyHeader = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0, 36] + addresses
            let v2 = try await client.send(.GET, "/b")
            #expect(v2.status == 200)
            #expect(seen(v2, "x-real-ip") == ["2001:db8::9"])
            // Without a header: closed, nothing proxied.
            await #expect(throws: (any Error).self) { _ = try await gateway.client.send(.GET, "/c") }
            #expect(upstream.requestsReceived == 2)
        }
    }

    @Test func theHeadersSourceIsThePeerOverHTTPS() async throws {
        let certificate = try TestCertificate(dnsNames: ["shop.test"])
        let upstream = try await TestUpstream.start()
        var configuration = ProxyConfiguration()
        configuration.proxyProtocol = true
        let gateway = try await ProxyFixture.start(
            routes: routes(upstream.port), configuration: configuration, certificates: try TestCertificate.store([("shop", certificate)]))
        var client = gateway.client
        client.tls = TestTLS(serverName: "shop.test")
        client.proxyHeader = v1
        let response = try await client.send(.GET, "/a", headers: [("host", "shop.test")])
        #expect(response.status == 200)
        #expect(seen(response, "x-real-ip") == ["203.0.113.7"])
        await gateway.stop()
        await upstream.stop()
    }
}
