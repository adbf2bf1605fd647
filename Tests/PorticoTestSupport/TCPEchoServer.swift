import NIOCore
import NIOPosix

/// A TCP server on 127.0.0.1 that echoes what it reads and closes when the client half-closes;
/// with a `greeting`, it first sends that to each new connection (to tell two servers apart).
public final class TCPEchoServer: Sendable {
    public let port: Int
    private let channel: Channel

    private init(port: Int, channel: Channel) {
        self.port = port
        self.channel = channel
    }

    public static func start(greeting: String? = nil) async throws -> TCPEchoServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture { try child.pipeline.syncOperations.addHandler(EchoHandler(greeting: greeting)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TCPEchoServer(port: channel.localAddress!.port!, channel: channel)
    }

    public func stop() async {
        try? await channel.close()
    }
}

private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let greeting: String?

    init(greeting: String?) {
        self.greeting = greeting
    }

    func channelActive(context: ChannelHandlerContext) {
        if let greeting { context.writeAndFlush(NIOAny(ByteBuffer(string: greeting)), promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            context.close(promise: nil)
        }
    }
}
