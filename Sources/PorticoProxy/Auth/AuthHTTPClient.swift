import AsyncHTTPClient
import NIOCore
import Synchronization

/// The one HTTP client of the auth checks (SPEC §13): forward-auth calls and JWKS fetches.
/// AsyncHTTPClient on the data plane's event loops, made on first use (a table without
/// `auth` never starts it); it follows no redirects (a forward-auth 302 is an answer) and
/// verifies HTTPS against the system's trust store.
final class AuthHTTPClient: Sendable {
    private let group: any EventLoopGroup
    private let state = Mutex<(client: HTTPClient?, shutDown: Bool)>((nil, false))

    init(group: any EventLoopGroup) {
        self.group = group
    }

    /// The client, made now if it is the first use; `nil` once shut down.
    var client: HTTPClient? {
        state.withLock { state in
            if state.shutDown { return nil }
            if let client = state.client { return client }
            var configuration = HTTPClient.Configuration()
            configuration.redirectConfiguration = .disallow
            configuration.decompression = .disabled
            configuration.timeout.connect = .seconds(5)
            let client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
            state.client = client
            return client
        }
    }

    /// Ends the client's connections; later uses find none.
    func shutdown() async {
        let client = state.withLock { state in
            state.shutDown = true
            return state.client.take()
        }
        try? await client?.shutdown()
    }
}
