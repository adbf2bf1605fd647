import PorticoCore
import Testing

private let policy = CORSPolicy(
    CORSDefinition(
        allowOrigins: ["https://app.veni.ai", "https://*.veni.ai"], allowMethods: ["GET", "POST", "PUT", "DELETE"],
        allowHeaders: ["Authorization", "Content-Type"], exposeHeaders: ["X-Request-Id"], allowCredentials: true,
        maxAge: 600))

@Suite struct CORSPolicyTests {
    @Test(arguments: [
        ("https://app.veni.ai", true), ("HTTPS://APP.VENI.AI", true), ("https://a.veni.ai", true), ("https://a.b.veni.ai", true),
        ("https://veni.ai", false), ("http://app.veni.ai", false), ("https://evilveni.ai", false),
        ("https://app.veni.ai.evil.com", false), ("null", false),
    ])
    func matchesOrigins(origin: String, allowed: Bool) {
        #expect(policy.allows(origin: origin) == allowed)
    }

    @Test func allowedPreflightEchoesOriginAndListsTheRest() {
        let answer = policy.preflight(origin: "https://a.veni.ai", requestMethod: "PUT", requestHeaders: "authorization, Content-Type")
        #expect(answer == .allowed([
            ("access-control-allow-origin", "https://a.veni.ai"),
            ("access-control-allow-methods", "GET, POST, PUT, DELETE"),
            ("access-control-allow-headers", "authorization, content-type"),
            ("access-control-max-age", "600"),
            ("access-control-allow-credentials", "true"),
            ("vary", "Origin"),
        ]))
    }

    @Test(arguments: [
        ("https://other.com", "GET", nil),
        ("https://a.veni.ai", "PATCH", nil),
        ("https://a.veni.ai", "GET", "x-secret"),
    ] as [(String, String, String?)])
    func refusesWhatIsNotAllowed(origin: String, method: String, headers: String?) {
        #expect(policy.preflight(origin: origin, requestMethod: method, requestHeaders: headers) == .refused)
    }

    @Test func safelistedHeadersNeedNoListing() {
        guard case .allowed = policy.preflight(origin: "https://app.veni.ai", requestMethod: "GET", requestHeaders: "Accept, Accept-Language") else {
            Issue.record("safelisted headers refused")
            return
        }
    }

    @Test func anyOriginIsStarWithoutCredentialsAndEchoedWithThem() {
        let open = CORSPolicy(CORSDefinition(allowOrigins: ["*"], allowMethods: ["GET"]))
        #expect(open.responseHeaders(origin: "https://x.com")?.first?.1 == "*")
        let credentialed = CORSPolicy(CORSDefinition(allowOrigins: ["*"], allowMethods: ["GET"], allowCredentials: true))
        #expect(credentialed.responseHeaders(origin: "https://x.com")?.first?.1 == "https://x.com")
        #expect(credentialed.responseHeaders(origin: "https://x.com")?.contains { $0 == ("access-control-allow-credentials", "true") } == true)
    }

    @Test func actualResponsesOfAllowedOriginsOnly() {
        let headers = policy.responseHeaders(origin: "https://app.veni.ai") ?? []
        #expect(headers.contains { $0 == ("access-control-allow-origin", "https://app.veni.ai") })
        #expect(headers.contains { $0 == ("access-control-expose-headers", "X-Request-Id") })
        #expect(policy.responseHeaders(origin: "https://other.com") == nil)
    }

    @Test func withoutListedMethodsOnlySafelistedOnesPass() {
        let minimal = CORSPolicy(CORSDefinition(allowOrigins: ["https://a.com"]))
        if case .refused = minimal.preflight(origin: "https://a.com", requestMethod: "GET", requestHeaders: nil) {
            Issue.record("GET refused")
        }
        #expect(minimal.preflight(origin: "https://a.com", requestMethod: "DELETE", requestHeaders: nil) == .refused)
    }
}
