import NIOCore
import NIOHTTP1
import NIOPosix
import PorticoCore

/// One active health check: `GET path` on an endpoint over a new connection; it passes with
/// a 2xx or 3xx answer within `timeout` (nginx's rule).
enum HealthProbe {
    static func check(_ endpoint: Endpoint, path: String, timeout: Duration, group: EventLoopGroup) async -> Bool {
        await withTaskGroup(of: Bool.self) { probes in
            probes.addTask { (try? await request(endpoint, path: path, timeout: timeout, group: group)) ?? false }
            probes.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let passed = await probes.next() ?? false
            probes.cancelAll()
            return passed
        }
    }

    private static func request(_ endpoint: Endpoint, path: String, timeout: Duration, group: EventLoopGroup) async throws -> Bool {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.milliseconds(timeout.wholeMilliseconds))
            .connect(host: endpoint.host, port: endpoint.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
            head.headers.add(name: "host", value: endpoint.description)
            head.headers.add(name: "user-agent", value: "portico-health-check")
            head.headers.add(name: "connection", value: "close")
            try await outbound.write(.head(head))
            try await outbound.write(.end(nil))
            for try await part in inbound {
                if case .head(let response) = part, response.status.code >= 200 {
                    return (200..<400).contains(Int(response.status.code))
                }
            }
            return false
        }
    }
}
