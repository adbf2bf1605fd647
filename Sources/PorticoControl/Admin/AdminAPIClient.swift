import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 client, one request per connection: of the admin API for the `portico
/// ports` commands and the tests, and of upstream endpoints for the active health checks.
public struct AdminAPIClient: Sendable {
    /// What the admin API answered.
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(name: String, value: String)]
        public var body: String

        /// The first value of a header, by case-insensitive name.
        public func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        /// The body as a JSON object (empty when it is not one).
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        }
    }

    public let host: String
    public let port: Int
    public let token: String?
    /// Time allowed to open the connection.
    public var connectTimeout: Duration = .seconds(5)
    /// The event loops the connection runs on (the gateway passes its own).
    public var group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    public init(host: String = "127.0.0.1", port: Int, token: String?) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// Sends one request on a new connection; `body` is sent as JSON.
    public func send(_ method: HTTPMethod, _ path: String, json body: String? = nil, headers: [(String, String)] = [])
        async throws -> Response
    {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(connectTimeout.wholeMilliseconds))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "host", value: "\(host):\(port)")
        head.headers.add(name: "connection", value: "close")
        if let token { head.headers.add(name: "authorization", value: "Bearer \(token)") }
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let body {
            head.headers.add(name: "content-type", value: "application/json")
            head.headers.add(name: "content-length", value: String(body.utf8.count))
        }
        let requestHead = head
        return try await channel.executeThenClose { inbound, outbound in
            // One write for the whole request: the server may answer and close as soon as it
            // has the head, and a separate write of the end would then fail.
            var parts: [HTTPClientRequestPart] = [.head(requestHead)]
            if let body { parts.append(.body(.byteBuffer(ByteBuffer(string: body)))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            var response: Response?
            var collected = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let head) where head.status.code >= 200:
                    response = Response(status: Int(head.status.code), headers: head.headers.map { ($0.name, $0.value) }, body: "")
                case .head: continue
                case .body(var buffer): collected.writeBuffer(&buffer)
                case .end:
                    guard var response else { throw AdminAPIClientError.noResponse }
                    response.body = String(buffer: collected)
                    return response
                }
            }
            throw AdminAPIClientError.noResponse
        }
    }
}

/// The admin API closed the connection without a complete answer.
public enum AdminAPIClientError: Error {
    case noResponse
}
