import Metrics
import PorticoCore

/// A route's `auth` at run time (SPEC §13): its JWT verifier (over a shared ``JWKSSource``),
/// its forward-auth definition and the client that calls it, and its
/// `portico_auth_total{route,result}` counters.
final class RouteAuthorizer: Sendable {
    /// How a request's checks ended, as the metric counts it.
    enum Result: String, CaseIterable {
        case allowed, denied, error
    }

    let definition: AuthDefinition
    let jwt: JWTVerifier?
    /// Makes the forward-auth calls.
    let client: AuthHTTPClient
    private let counters: [Counter]

    init(definition: AuthDefinition, jwt: JWTVerifier?, client: AuthHTTPClient, route: String, metrics: GatewayMetrics) {
        self.definition = definition
        self.jwt = jwt
        self.client = client
        counters = Result.allCases.map { metrics.authCounter(route: route, result: $0.rawValue) }
    }

    func count(_ result: Result) {
        counters[Result.allCases.firstIndex(of: result) ?? 0].increment()
    }
}
