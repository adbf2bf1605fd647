import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A loopback HTTP/1.1 server whose answers a test decides per request (an auth service, a
/// JWKS endpoint), keeping the heads it received.
public final class TestHTTPServer: Sendable {
    /// What the server answers one request with.
    public struct Answer: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: String
        /// Waits this long before answering (a slow service).
        public var delay: Duration?

        public init(status: Int, headers: [(String, String)] = [], body: String = "", delay: Duration? = nil) {
            self.status = status
            self.headers = headers
            self.body = body
            self.delay = delay
        }
    }

    public typealias Responder = @Sendable (HTTPRequestHead) -> Answer

    public let port: Int
    private let channel: any Channel
    private let responder: Mutex<Responder>
    private let heads = Mutex<[HTTPRequestHead]>([])
    private let box: Box

    /// The heads received so far.
    public var received: [HTTPRequestHead] { heads.withLock { $0 } }

    /// Answers the requests from now on with `responder`.
    public func answer(with responder: @escaping Responder) { self.responder.withLock { $0 = responder } }

    private init(port: Int, channel: any Channel, box: Box, responder: @escaping Responder) {
        self.port = port
        self.box = box
        self.channel = channel
        self.responder = Mutex(responder)
    }

    public static func start(_ responder: @escaping Responder) async throws -> TestHTTPServer {
        let box = Box()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                box.connections.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = TestHTTPServer(port: channel.localAddress?.port ?? 0, channel: channel, box: box, responder: responder)
        box.server.withLock { $0 = server }
        return server
    }

    /// Stops accepting and closes every connection (a client's pooled keep-alive one too).
    public func stop() async {
        try? await channel.close()
        for connection in box.connections.withLock({ $0 }) { try? await connection.close() }
    }

    fileprivate func respond(to head: HTTPRequestHead) -> Answer {
        heads.withLock { $0.append(head) }
        return responder.withLock { $0 }(head)
    }

    private final class Box: Sendable {
        let server = Mutex<TestHTTPServer?>(nil)
        let connections = Mutex<[any Channel]>([])
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        private let box: Box
        private var head: HTTPRequestHead?

        init(box: Box) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head, let server = box.server.withLock({ $0 }) else { return }
                let answer = server.respond(to: head)
                let write = { [self] in
                    var headers = HTTPHeaders(answer.headers)
                    headers.replaceOrAdd(name: "content-length", value: String(answer.body.utf8.count))
                    let response = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
                    context.write(self.wrapOutboundOut(.head(response)), promise: nil)
                    context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: answer.body)))), promise: nil)
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                }
                if let delay = answer.delay {
                    let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
                    context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) { write() }
                } else {
                    write()
                }
            }
        }
    }
}
