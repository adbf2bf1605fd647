import Foundation
import NIOCore
import NIOPosix
import PorticoTestSupport
import Testing

extension HeavyIntegrationTests {
    /// What a swap drains, on the real binary (SPEC §5, issue 14 #8): a request or WebSocket
    /// pipe whose route is unchanged and whose endpoint stays runs on untouched; one whose
    /// endpoint was removed ends at the drain timeout.
    @Suite(.serialized) struct DrainScopeTests {
        private func upstream(_ name: String, _ ports: [Int], extra: String = "") -> String {
            #"{"name": "\#(name)", "endpoints": [\#(ports.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", "))]\#(extra)}"#
        }

        /// A masked client text frame.
        private func frame(_ text: String) -> ByteBuffer {
            let payload = Array(text.utf8)
            let mask: [UInt8] = [1, 2, 3, 4]
            return ByteBuffer(bytes: [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        }

        @Test func onlyWorkOnARemovedEndpointIsCutAtTheDrainTimeout() async throws {
            let first = try await TestUpstream.start()
            let second = try await TestUpstream.start()
            let echo = try await WebSocketEchoServer.start()
            let gateway = try await ServingGateway.start(routes: "", environment: ["PORTICO_DRAIN_TIMEOUT_SEC": "1"])
            let admin = AdminClient(port: gateway.adminPort)
            #expect(try await admin.send(.POST, "/v1/upstreams", json: upstream("slow", [first.port])).status == 201)
            #expect(try await admin.send(.POST, "/v1/upstreams", json: upstream("ws", [echo.port])).status == 201)
            #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("slow", prefix: "/slow", upstream: "slow")).status == 201)
            #expect(try await admin.send(.POST, "/v1/routes", json: apiRoute("ws", prefix: "/ws", upstream: "ws")).status == 201)

            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: gateway.port) { channel in
                    channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                }
            // A pipe the gateway wrongly keeps open is closed here after 20 s, so the reads below
            // end and the timing expectations report it.
            let watchdog = channel.channel.eventLoop.scheduleTask(in: .seconds(20)) { [channel = channel.channel] in channel.close(promise: nil) }
            defer { watchdog.cancel() }
            try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                var received = ByteBuffer()
                var closed = false
                /// Reads until `count` bytes are in, the pipe closes or 5 s pass.
                func read(_ count: Int) async throws -> Bool {
                    let deadline = ContinuousClock.now + .seconds(5)
                    while received.readableBytes < count, ContinuousClock.now < deadline {
                        guard var chunk = try await iterator.next() else {
                            closed = true
                            return false
                        }
                        received.writeBuffer(&chunk)
                    }
                    return received.readableBytes >= count
                }
                func echoes(_ text: String) async throws -> Bool {
                    try await outbound.write(frame(text))
                    guard try await read(2 + text.utf8.count) else { return false }
                    return received.readBytes(length: 2 + text.utf8.count) == [0x81, UInt8(text.utf8.count)] + Array(text.utf8)
                }
                try await outbound.write(
                    ByteBuffer(
                        string: "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
                while !String(buffer: received).contains("\r\n\r\n"), try await read(received.readableBytes + 1) {}
                let text = String(buffer: received)
                #expect(text.hasPrefix("HTTP/1.1 101"))
                received.moveReaderIndex(forwardBy: text.utf8.count)
                #expect(try await echoes("one"))

                // An endpoint added and a health check tuned (slow), a timeout tuned (ws) while a
                // 3 s request and the pipe run: neither is touched past the 1 s drain timeout.
                async let untouched = RawSocketClient.send(
                    "GET /slow?ms=3000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", port: gateway.port, timeout: .seconds(10))
                await first.waitForRequests(1)
                let tuned = upstream("slow", [first.port, second.port], extra: #", "healthCheck": {"path": "/health", "interval": "1s"}"#)
                #expect(try await admin.send(.PUT, "/v1/upstreams/slow", json: tuned).status == 200)
                #expect(try await admin.send(.PUT, "/v1/upstreams/ws", json: upstream("ws", [echo.port], extra: #", "connectTimeout": "3s""#)).status == 200)
                try await Task.sleep(for: .milliseconds(1600))
                #expect(try await echoes("two"), "the pipe was cut although its endpoint stayed")
                let reply = try await untouched
                #expect(reply.status == 200, "the request was cut although its endpoint stayed: \(reply.text.prefix(60))")

                // Now the endpoints serving a new request and the pipe are removed: both end at
                // the drain timeout.
                let before = (first.requestsReceived, second.requestsReceived)
                async let cut = RawSocketClient.send(
                    "GET /slow?ms=4000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", port: gateway.port, timeout: .seconds(10))
                await TestUpstream.waitForRequests([(first, before.0 + 1), (second, before.1 + 1)])
                let remaining = first.requestsReceived > before.0 ? second.port : first.port
                // Each drain is timed from just before the change that starts it: it cannot end
                // sooner than the drain timeout after that.
                let requestRemoved = ContinuousClock.now
                #expect(try await admin.send(.PUT, "/v1/upstreams/slow", json: upstream("slow", [remaining])).status == 200)
                let pipeRemoved = ContinuousClock.now
                #expect(try await admin.send(.PUT, "/v1/upstreams/ws", json: upstream("ws", [second.port])).status == 200)
                let cutReply = try await cut
                let requestElapsed = ContinuousClock.now - requestRemoved
                #expect(cutReply.status == nil, "the request on a removed endpoint ran on: \(cutReply.text.prefix(60))")
                // Cut at the drain timeout, before the upstream's 4 s answer.
                #expect(requestElapsed >= .milliseconds(1000) && requestElapsed < .milliseconds(3800), "cut after \(requestElapsed)")
                _ = try? await read(received.readableBytes + 1)
                #expect(closed, "the pipe to a removed endpoint stayed open")
                let pipeElapsed = ContinuousClock.now - pipeRemoved
                #expect(pipeElapsed >= .milliseconds(1000) && pipeElapsed < .milliseconds(6000), "pipe closed after \(pipeElapsed)")
            }
            await gateway.stop()
            await first.stop()
            await second.stop()
            await echo.stop()
        }
    }
}
