import NIOHTTP1
import PorticoProxy
import PorticoTestSupport
import Testing

/// Serialized: three 64 MiB checksums at once would starve the other tests of CPU.
@Suite(.serialized) struct ProxyStreamingTests {
    static let size = 64 * 1024 * 1024

    @Test func streamsA64MiBUploadWithAMatchingChecksum() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(
                .POST, "/upload", streamedBody: .init(total: Self.size, chunkSize: 256 * 1024))
            let expected = TestBody.checksum(total: Self.size, chunkSize: 256 * 1024)
            #expect(response.status == 200)
            #expect(response.body == "\(expected.length) \(String(expected.value, radix: 16))")
        }
    }

    @Test func streamsA64MiBDownloadWithAMatchingChecksum() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            for chunked in [false, true] {
                let response = try await gateway.client.send(
                    .GET, "/download?bytes=\(Self.size)" + (chunked ? "&chunked=1" : ""), keepBodyUpTo: 0)
                #expect(response.status == 200)
                #expect(response.checksum == TestBody.checksum(total: Self.size, chunkSize: 64 * 1024))
            }
        }
    }

    @Test func echoesA64MiBChunkedBodyBothWaysAtOnce() async throws {
        try await withGateway(routes: standardRoutes) { gateway, _ in
            let response = try await gateway.client.send(
                .POST, "/echo", streamedBody: .init(total: Self.size, chunkSize: 64 * 1024, chunked: true), keepBodyUpTo: 0)
            #expect(response.status == 200)
            #expect(response.checksum == TestBody.checksum(total: Self.size, chunkSize: 64 * 1024))
        }
    }
}

@Suite struct UpstreamConnectionReuseTests {
    @Test func twoHundredSequentialRequestsReuseAFewConnections() async throws {
        try await withGateway(routes: standardRoutes) { gateway, upstream in
            // Clients on new connections land on any event loop; each loop keeps its own pool.
            for index in 0..<100 {
                let response = try await gateway.client.send(.GET, "/r/\(index)")
                #expect(response.status == 200)
            }
            let responses = try await gateway.client.sendSequentially((0..<100).map { "/k/\($0)" })
            #expect(responses.allSatisfy { $0.status == 200 })
            #expect(upstream.requestsReceived == 200)
            #expect(upstream.connectionsAccepted <= 4, "opened \(upstream.connectionsAccepted) upstream connections")
        }
    }

    @Test func roundRobinsAcrossEndpoints() async throws {
        let first = try await TestUpstream.start()
        let second = try await TestUpstream.start()
        let fixture = try await ProxyFixture.start(
            routes: """
                upstreams: [{ name: pair, endpoints: ["127.0.0.1:\(first.port)", "127.0.0.1:\(second.port)"] }]
                routes: [{ name: pair, upstream: pair }]
                """)
        for index in 0..<20 {
            let response = try await fixture.client.send(.GET, "/\(index)")
            #expect(response.status == 200)
        }
        #expect(first.requestsReceived == 10)
        #expect(second.requestsReceived == 10)
        await fixture.stop()
        await first.stop()
        await second.stop()
    }
}
