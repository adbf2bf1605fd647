import NIOCore
import NIOPosix

/// A WebSocket client on loopback for tests: opens the upgrade through the gateway, then
/// sends masked text frames and reads the unmasked frames an echo server returns.
public final class WebSocketTestClient: @unchecked Sendable {
    // Used by one test task at a time.
    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var received = ByteBuffer()

    public struct HandshakeFailed: Error, CustomStringConvertible {
        public let response: String
        public var description: String { "the upgrade was not accepted: \(response)" }
    }

    private init(channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) throws {
        self.channel = channel
        // The channel is used without executeThenClose: close() ends it.
        iterator = channel.inbound.makeAsyncIterator()
        outbound = channel.outbound
    }

    /// Connects to the gateway on `port` and upgrades `path`; throws unless the answer is 101.
    public static func open(port: Int, path: String, host: String = "a") async throws -> WebSocketTestClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        let client = try WebSocketTestClient(channel: channel)
        try await client.outbound.write(
            ByteBuffer(
                string: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        let head = try await client.readHead()
        guard head.lowercased().hasPrefix("http/1.1 101") else { throw HandshakeFailed(response: head) }
        return client
    }

    /// Sends `text` in one frame and returns the text of the frame that comes back.
    public func echo(_ text: String) async throws -> String? {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        let frame = [0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        try await outbound.write(ByteBuffer(bytes: frame))
        try await read(atLeast: 2 + payload.count)
        guard received.readableBytes >= 2 + payload.count, let header = received.readBytes(length: 2), header[0] == 0x81,
            Int(header[1]) == payload.count, let body = received.readBytes(length: payload.count)
        else { return nil }
        return String(decoding: body, as: UTF8.self)
    }

    public func close() async {
        try? await channel.channel.close()
    }

    private func readHead() async throws -> String {
        let deadline = ContinuousClock.now + .seconds(10)
        while !String(buffer: received).contains("\r\n\r\n"), ContinuousClock.now < deadline {
            guard var chunk = try await iterator.next() else { break }
            received.writeBuffer(&chunk)
        }
        let text = String(buffer: received)
        guard let end = text.range(of: "\r\n\r\n") else { return text }
        received.moveReaderIndex(forwardBy: text.utf8.distance(from: text.startIndex, to: end.upperBound))
        return String(text[..<end.lowerBound])
    }

    private func read(atLeast count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while received.readableBytes < count, ContinuousClock.now < deadline {
            guard var chunk = try await iterator.next() else { return }
            received.writeBuffer(&chunk)
        }
    }
}
