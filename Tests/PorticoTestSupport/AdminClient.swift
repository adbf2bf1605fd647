import Foundation
import NIOHTTP1

/// Calls the admin API of a gateway on loopback, with its bearer token.
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
    ) async throws -> TestResponse {
        var allHeaders: [(String, String)] = [("host", "localhost")] + headers
        if let token { allHeaders.append(("authorization", "Bearer \(token)")) }
        if body != nil { allHeaders.append(("content-type", "application/json")) }
        return try await LoopbackHTTPClient(port: port).send(method, path, headers: allHeaders, body: body)
    }
}

extension TestResponse {
    /// The body parsed as a JSON object (empty when it is not one).
    public var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}
