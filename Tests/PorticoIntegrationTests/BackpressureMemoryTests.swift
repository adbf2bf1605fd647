import Foundation
import NIOCore
import NIOPosix
import PorticoTestSupport
import Testing

extension HeavyIntegrationTests {
    /// Large transfers stream through the gateway process without growing its memory: with a
    /// client that stops reading, the gateway stops reading from the upstream.
    @Suite(.serialized) struct BackpressureMemoryTests {
        static let size = 512 * 1024 * 1024

        @Test func aStalledClientDoesNotMakeTheGatewayBufferTheDownload() async throws {
            let upstream = try await TestUpstream.start()
            let serving = try await ServingGateway.start(routes: catchAllRoutes(upstreamPort: upstream.port))
            let gateway = serving.process
            let port = serving.port
            _ = try await serving.client.send(.GET, "/warm-up")
            let baseline = try #require(gateway.memoryKiB("VmRSS"))

            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
            let received = try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(
                    ByteBuffer(string: "GET /download?bytes=\(Self.size) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
                // Read nothing for a while: without backpressure the gateway would pull the
                // whole body from the fast upstream into memory now.
                try await Task.sleep(for: .seconds(2))
                let stalled = try #require(gateway.memoryKiB("VmRSS"))
                #expect(stalled - baseline < 64 * 1024, "RSS grew by \((stalled - baseline) / 1024) MiB while the client stalled")
                var total = 0
                for try await chunk in inbound {
                    total += chunk.readableBytes
                }
                return total
            }
            #expect(received > Self.size)  // body plus the response head
            let peak = try #require(gateway.memoryKiB("VmHWM"))
            #expect(peak - baseline < 64 * 1024, "peak RSS grew by \((peak - baseline) / 1024) MiB over the transfer")
            await serving.stop()
            await upstream.stop()
        }

        @Test func aStalledUpstreamDoesNotMakeTheGatewayBufferTheUpload() async throws {
            let upstream = try await TestUpstream.start()
            let serving = try await ServingGateway.start(routes: catchAllRoutes(upstreamPort: upstream.port))
            let gateway = serving.process
            _ = try await serving.client.send(.GET, "/warm-up")
            let baseline = try #require(gateway.memoryKiB("VmRSS"))

            let response = try await serving.client.send(
                .POST, "/stall", streamedBody: .init(total: Self.size, chunkSize: 256 * 1024))
            let expected = TestBody.checksum(total: Self.size, chunkSize: 256 * 1024)
            #expect(response.body == "\(expected.length) \(String(expected.value, radix: 16))")
            let peak = try #require(gateway.memoryKiB("VmHWM"))
            #expect(peak - baseline < 64 * 1024, "peak RSS grew by \((peak - baseline) / 1024) MiB over the upload")
            await serving.stop()
            await upstream.stop()
        }
    }
}
