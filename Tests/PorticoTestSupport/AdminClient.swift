import Foundation
import NIOHTTP1
import PorticoControl

/// Calls the admin API of a gateway on loopback with its bearer token, through the same
/// ``AdminAPIClient`` the `portico ports` commands use.
public struct AdminClient: Sendable {
    public let port: Int
    public var token: String?

    public init(port: Int, token: String? = ServingGateway.adminToken) {
        self.port = port
        self.token = token
    }

    /// Sends a request with an optional JSON body; returns the response.
    public func send(
        _ method: HTTPMethod, _ path: String, json body: String? = nil, headers: [(String, String)] = []
    ) async throws -> AdminAPIClient.Response {
        try await AdminAPIClient(port: port, token: token).send(method, path, json: body, headers: headers)
    }
}

/// The samples of a Prometheus text exposition, by series (`name{labels}`).
public func prometheusSamples(_ text: String) -> [String: Double] {
    var result: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
        result[String(line[..<space])] = value
    }
    return result
}
