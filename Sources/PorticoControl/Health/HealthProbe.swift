import NIOCore
import NIOHTTP1
import PorticoCore

/// One active health check: `GET path` on an endpoint over a new connection; it passes with
/// a 2xx or 3xx answer within `timeout` (nginx's rule).
enum HealthProbe {
    static func check(_ endpoint: Endpoint, path: String, timeout: Duration, group: EventLoopGroup) async -> Bool {
        var client = AdminAPIClient(host: endpoint.host, port: endpoint.port, token: nil)
        client.connectTimeout = timeout
        client.group = group
        return await withTaskGroup(of: Bool.self) { [client] probes in
            probes.addTask {
                let response = try? await client.send(.GET, path, headers: [("user-agent", "portico-health-check")])
                return response.map { (200..<400).contains($0.status) } ?? false
            }
            probes.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let passed = await probes.next() ?? false
            probes.cancelAll()
            return passed
        }
    }
}
