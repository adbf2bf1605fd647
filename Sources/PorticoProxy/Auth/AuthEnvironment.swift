import AsyncHTTPClient
import FoundationEssentials
import Logging
import NIOCore
import PorticoCore

/// What the auth checks need from the process: the one HTTP client, the routes folder that
/// `jwksFile` paths are relative to, and a logger for JWKS loads.
struct AuthEnvironment: Sendable {
    /// A URL's JWKS is fetched this often (SPEC §13).
    static let urlRefreshInterval: Duration = .seconds(300)
    /// The largest JWKS document read.
    static let maximumDocumentBytes = 1 << 20

    let client: AuthHTTPClient
    var routesDirectory: String?
    var logger: Logger
    /// How often a `jwksFile` is checked for changes.
    var filePollInterval: Duration = .seconds(1)

    func origin(of keys: JWTAuthDefinition.KeySource) -> JWKSSource.Origin {
        switch keys {
        case .url(let url): return .url(url)
        case .file(let path): return .file(Self.path(ofKeyFile: path, inRoutesFolder: routesDirectory))
        }
    }

    /// Where a `jwksFile` is: relative to the routes folder.
    static func path(ofKeyFile file: String, inRoutesFolder folder: String?) -> String {
        guard let folder, !folder.isEmpty else { return file }
        return folder.hasSuffix("/") ? folder + file : folder + "/" + file
    }

    /// A source for `origin`, not started.
    func makeSource(_ origin: JWKSSource.Origin) -> JWKSSource {
        switch origin {
        case .file(let path):
            return JWKSSource(origin: origin, pollInterval: filePollInterval, logger: logger) {
                try JWKSDocument.readFile(path)
            }
        case .url(let url):
            let client = self.client
            return JWKSSource(origin: origin, pollInterval: Self.urlRefreshInterval, logger: logger) {
                guard let http = client.client else { throw JWKSDocument.Failure.shutDown }
                let response = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
                guard response.status == .ok else { throw JWKSDocument.Failure.status(Int(response.status.code)) }
                return Array(buffer: try await response.body.collect(upTo: Self.maximumDocumentBytes))
            }
        }
    }
}

/// Reading a JWKS document.
enum JWKSDocument {
    enum Failure: Error, CustomStringConvertible {
        case status(Int)
        case tooLarge
        case shutDown

        var description: String {
            switch self {
            case .status(let code): return "answered \(code)"
            case .tooLarge: return "larger than \(AuthEnvironment.maximumDocumentBytes) bytes"
            case .shutDown: return "the gateway is shutting down"
            }
        }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count <= AuthEnvironment.maximumDocumentBytes else { throw Failure.tooLarge }
        return Array(data)
    }
}
