import PorticoCore
import Testing

/// The pure parts of `auth.jwt` (SPEC §13): the bearer token of `Authorization`, and the
/// time, issuer and audience checks with the 60 s leeway.
@Suite struct JWTClaimsTests {
    @Test(arguments: [
        ("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer abc", "abc"), ("BEARER   abc  ", "abc"), ("  Bearer abc", "abc"),
        ("Bearer", nil), ("Bearer ", nil), ("Bearer    ", nil), ("Bearerabc", nil), ("Basic abc", nil), ("Bearer\tabc", nil),
        ("", nil), ("Béarer abc", nil),
    ] as [(String, String?)])
    func bearerTokens(header: String, token: String?) {
        #expect(BearerToken.parse(header).map(String.init) == token)
    }

    @Test func timeWithTheLeeway() {
        let claims = JWTClaims(expiration: 1000, notBefore: 500)
        #expect(claims.timeProblem(now: 1059) == nil)
        #expect(claims.timeProblem(now: 1060) == "expired")
        #expect(claims.timeProblem(now: 440) == nil)
        #expect(claims.timeProblem(now: 439) == "not yet valid")
        #expect(JWTClaims().timeProblem(now: 1e12) == nil)
    }

    @Test func issuerAndAudience() {
        let definition = JWTAuthDefinition(issuer: "https://id", audiences: ["api", "web"], keys: .url("http://k/"))
        #expect(JWTClaims(issuer: "https://id", audiences: ["web"]).identityProblem(for: definition) == nil)
        #expect(JWTClaims(issuer: "https://id/", audiences: ["web"]).identityProblem(for: definition) == "wrong issuer")
        #expect(JWTClaims(audiences: ["web"]).identityProblem(for: definition) == "wrong issuer")
        #expect(JWTClaims(issuer: "https://id", audiences: []).identityProblem(for: definition) == "wrong audience")
        #expect(JWTClaims(issuer: "https://id", audiences: ["Api"]).identityProblem(for: definition) == "wrong audience")
        // Neither given: any issuer and audience.
        #expect(JWTClaims().identityProblem(for: JWTAuthDefinition(keys: .url("http://k/"))) == nil)
    }

    @Test func claimsBecomeHeadersInTheDefinitionsOrder() {
        let definition = JWTAuthDefinition(
            keys: .url("http://k/"), claimsToHeaders: [.init(claim: "sub", header: "X-User"), .init(claim: "missing", header: "X-M"), .init(claim: "org", header: "X-Org")])
        let headers = JWTClaims(values: ["sub": "u1", "org": "acme"]).headers(for: definition)
        #expect(headers.map(\.0) == ["X-User", "X-Org"])
        #expect(headers.map(\.1) == ["u1", "acme"])
    }
}
