import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What a test client received.
public struct TestResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    /// The body when it is at most `keepBodyUpTo` bytes (else empty).
    public var body: String
    /// The same body as bytes.
    public var bytes: [UInt8] = []
    /// Length and checksum of the whole body.
    public var checksum: BodyChecksum
}

/// A small HTTP/1.1 client for tests that streams request bodies and checksums responses,
/// so large transfers never sit in the test's memory. Loopback only.
public struct LoopbackHTTPClient: Sendable {
    public let port: Int
    public var host = "127.0.0.1"
    /// HTTPS (HTTP/1.1 by ALPN) when set.
    public var tls: TestTLS?
    /// Bytes written first on every connection, before TLS: a PROXY protocol header.
    public var proxyHeader: [UInt8]?

    public init(port: Int) {
        self.port = port
    }

    /// A request body of `total` deterministic bytes, written in `chunkSize` pieces.
    public struct StreamedBody: Sendable {
        public var total: Int
        public var chunkSize: Int
        public var chunked: Bool
        public init(total: Int, chunkSize: Int = 64 * 1024, chunked: Bool = false) {
            self.total = total
            self.chunkSize = chunkSize
            self.chunked = chunked
        }
    }

    /// Sends one request on a new connection and reads the response.
    public func send(
        _ method: HTTPMethod = .GET, _ uri: String, headers: [(String, String)] = [("host", "test.local")],
        body: String? = nil, streamedBody: StreamedBody? = nil, keepBodyUpTo: Int = 1 << 20
    ) async throws -> TestResponse {
        let channel = try await connect()
        return try await channel.executeThenClose { inbound, outbound in
            try await Self.exchange(
                inbound: inbound, outbound: outbound, method: method, uri: uri, headers: headers, body: body,
                streamedBody: streamedBody, keepBodyUpTo: keepBodyUpTo)
        }
    }

    /// Sends `count` GETs for `/r0`, `/r1`, … one after another, each on a new connection;
    /// returns their statuses.
    public func statusesOfGETs(_ count: Int) async throws -> [Int] {
        var statuses: [Int] = []
        for index in 0..<count { statuses.append(try await send(.GET, "/r\(index)").status) }
        return statuses
    }

    /// Sends requests one after another on one keep-alive connection.
    public func sendSequentially(_ uris: [String], headers: [(String, String)] = [("host", "test.local")]) async throws
        -> [TestResponse]
    {
        let channel = try await connect()
        return try await channel.executeThenClose { inbound, outbound in
            var responses: [TestResponse] = []
            var iterator = inbound.makeAsyncIterator()
            for uri in uris {
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)
                for (name, value) in headers { head.headers.add(name: name, value: value) }
                try await outbound.write(.head(head))
                try await outbound.write(.end(nil))
                responses.append(try await Self.readResponse(&iterator, keepBodyUpTo: 1 << 20))
            }
            return responses
        }
    }

    private func connect() async throws -> NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart> {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { [tls, proxyHeader] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let proxyHeader { try channel.pipeline.syncOperations.addHandler(PrefixWriter(bytes: proxyHeader)) }
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try tls.makeHandler(alpn: ["http/1.1"]))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
    }

    static func exchange(
        inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>,
        outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
        method: HTTPMethod, uri: String, headers: [(String, String)], body: String?, streamedBody: StreamedBody?,
        keepBodyUpTo: Int, beforeReading: (@Sendable () async throws -> Void)? = nil
    ) async throws -> TestResponse {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: uri)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let body {
            head.headers.replaceOrAdd(name: "content-length", value: String(body.utf8.count))
        } else if let streamedBody {
            if streamedBody.chunked {
                head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            } else {
                head.headers.replaceOrAdd(name: "content-length", value: String(streamedBody.total))
            }
        }
        try await outbound.write(.head(head))
        if let body {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body))))
        }
        // Upload and download run at once, so an echo of a large body cannot deadlock.
        return try await withThrowingTaskGroup(of: TestResponse?.self) { group in
            group.addTask {
                if let streamedBody {
                    var remaining = streamedBody.total
                    var index = 0
                    while remaining > 0 {
                        let size = min(streamedBody.chunkSize, remaining)
                        try await outbound.write(.body(.byteBuffer(TestBody.chunk(index: index, size: size))))
                        remaining -= size
                        index += 1
                    }
                }
                try await outbound.write(.end(nil))
                return nil
            }
            group.addTask {
                try await beforeReading?()
                var iterator = inbound.makeAsyncIterator()
                return try await readResponse(&iterator, keepBodyUpTo: keepBodyUpTo)
            }
            var response: TestResponse?
            for try await result in group {
                if let result { response = result }
            }
            return response!
        }
    }

    private static func readResponse(
        _ iterator: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator, keepBodyUpTo: Int
    ) async throws -> TestResponse {
        var response: TestResponse?
        var body = ByteBuffer()
        while let part = try await iterator.next() {
            switch part {
            case .head(let head):
                if head.status.code < 200 { continue }
                response = TestResponse(status: Int(head.status.code), headers: head.headers, body: "", checksum: BodyChecksum())
            case .body(var buffer):
                response?.checksum.update(buffer)
                if (response?.checksum.length ?? 0) <= keepBodyUpTo { body.writeBuffer(&buffer) }
            case .end:
                guard var response else { throw TestClientError.noResponse }
                if response.checksum.length <= keepBodyUpTo {
                    response.body = String(buffer: body)
                    response.bytes = Array(body.readableBytesView)
                }
                return response
            }
        }
        throw TestClientError.noResponse
    }
}

/// Failures of the test clients.
public enum TestClientError: Error {
    case noResponse
}

/// Sends raw bytes and returns everything the server sends back until it closes the
/// connection or `timeout` passes; for malformed-input tests.
public enum RawSocketClient {
    public struct Reply: Sendable {
        public var text: String
        /// Whether the server closed the connection.
        public var closed: Bool

        /// The status code of the first response line, if any.
        public var status: Int? {
            guard text.hasPrefix("HTTP/1.") else { return nil }
            let parts = text.split(separator: " ", maxSplits: 2)
            return parts.count > 1 ? Int(parts[1]) : nil
        }
    }

    /// - Parameter halfClose: close the sending side after the bytes, as a client that has
    ///   said everything does (a TCP echo answers and then closes).
    public static func send(_ bytes: [UInt8], port: Int, timeout: Duration = .seconds(10), halfClose: Bool = false)
        async throws -> Reply
    {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(bytes: bytes))
            if halfClose { outbound.finish() }
            return try await withThrowingTaskGroup(of: Reply?.self) { group in
                group.addTask {
                    var received = ByteBuffer()
                    do {
                        for try await var chunk in inbound {
                            received.writeBuffer(&chunk)
                        }
                    } catch {
                        // A reset after the answer still leaves the answer to look at.
                    }
                    return Reply(text: String(buffer: received), closed: !Task.isCancelled)
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                var reply: Reply?
                while let result = try await group.next() {
                    if let result {
                        reply = result
                        group.cancelAll()
                    } else {
                        group.cancelAll()  // timed out: the reader returns what it has
                    }
                }
                return reply ?? Reply(text: "", closed: false)
            }
        }
    }

    public static func send(_ text: String, port: Int, timeout: Duration = .seconds(10), halfClose: Bool = false)
        async throws -> Reply
    {
        try await send(Array(text.utf8), port: port, timeout: timeout, halfClose: halfClose)
    }
}

/// Writes its bytes as the first thing on a connection, below everything else.
final class PrefixWriter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let bytes: [UInt8]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
