import Foundation
import Logging
import NIOPosix
import PorticoCore
@testable import PorticoProxy
import PorticoTestSupport
import Synchronization
import Testing

/// `auth.jwt` (SPEC §13): signatures by jwt-kit for every accepted algorithm, time with the
/// leeway, issuer and audience, and the tokens that must never pass.
@Suite struct JWTVerifierTests {
    static let now = Date().timeIntervalSince1970
    private let definition = JWTAuthDefinition(
        issuer: "https://id.example.com", audiences: ["api"], keys: .file("unused"),
        claimsToHeaders: [.init(claim: "sub", header: "X-User-Id"), .init(claim: "tenant", header: "X-Tenant")])

    /// A verifier over a source that serves `document` (changeable), loaded once.
    private func verifier(_ document: Document, definition: JWTAuthDefinition? = nil) async throws -> JWTVerifier {
        let source = JWKSSource(origin: .file("test"), pollInterval: .seconds(3600), refreshInterval: .zero, logger: Logger(label: "t")) {
            Array(document.text.withLock { $0 }.utf8)
        }
        try await source.refresh(on: MultiThreadedEventLoopGroup.singleton.next())?.get()
        return JWTVerifier(definition: definition ?? self.definition, source: source)
    }

    @Test(arguments: ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"])
    func everyAcceptedAlgorithmVerifies(algorithm: String) async throws {
        let key: TestSigningKey
        switch algorithm {
        case "ES256", "ES384": key = try await .ecdsa(kid: "k-\(algorithm)", algorithm: algorithm)
        case "EdDSA": key = try await .eddsa(kid: "k-ed")
        default: key = try await .rsa(kid: "k-\(algorithm)", algorithm: algorithm)
        }
        let verifier = try await verifier(Document(TestJWT.jwks([key])))
        let token = try key.sign(TestJWT.claims(now: Self.now, extra: ["tenant": "acme"]))
        #expect(
            verifier.verify(authorization: "Bearer " + token, now: Self.now)
                == .valid([JWTVerifier.Header(name: "X-User-Id", value: "user-1"), JWTVerifier.Header(name: "X-Tenant", value: "acme")]))
    }

    @Test func anRSAKeyWithoutAlgTakesEachRSAAlgorithm() async throws {
        let key = try await TestSigningKey.rsa(kid: "plain", algorithm: "RS384", includeAlgorithm: false)
        let verifier = try await verifier(Document(TestJWT.jwks([key])))
        guard case .valid = verifier.verify(authorization: "Bearer " + (try key.sign(TestJWT.claims(now: Self.now))), now: Self.now)
        else { Issue.record("RS384 by a key without alg"); return }
    }

    @Test func timeIssuerAndAudience() async throws {
        let key = try await TestSigningKey.ecdsa(kid: "ec")
        let verifier = try await verifier(Document(TestJWT.jwks([key])))
        let now = Self.now
        func verdict(_ claims: [String: Any]) throws -> JWTVerifier.Verdict {
            verifier.verify(authorization: "Bearer " + (try key.sign(claims)), now: now)
        }
        func reason(_ claims: [String: Any]) throws -> String? {
            if case .invalid(true, let reason) = try verdict(claims) { return reason }
            return nil
        }
        #expect(try reason(TestJWT.claims(now: now, extra: ["exp": Int(now) - 61])) == "expired")
        #expect(try reason(TestJWT.claims(now: now, extra: ["nbf": Int(now) + 61])) == "not yet valid")
        #expect(try reason(TestJWT.claims(issuer: "https://evil.example.com", now: now)) == "wrong issuer")
        #expect(try reason(TestJWT.claims(audience: "other", now: now)) == "wrong audience")
        #expect(try reason(TestJWT.claims(audience: ["other", "more"], now: now)) == "wrong audience")
        #expect(try reason(TestJWT.claims(now: now, extra: ["exp": "soon"])) == "malformed token")
        // Within the 60 s leeway, a list audience holding one of `audiences`, no exp at all.
        for claims in [
            TestJWT.claims(now: now, extra: ["exp": Int(now) - 30]), TestJWT.claims(now: now, extra: ["nbf": Int(now) + 30]),
            TestJWT.claims(audience: ["other", "api"], now: now), ["iss": "https://id.example.com", "aud": "api", "sub": "s"],
        ] {
            guard case .valid = try verdict(claims) else { Issue.record("refused \(claims)"); continue }
        }
    }

    @Test func tokensThatMustNeverPass() async throws {
        let key = try await TestSigningKey.rsa(kid: "rsa")
        let impostor = try await TestSigningKey.rsa(kid: "rsa", variant: 1)
        let verifier = try await verifier(Document(TestJWT.jwks([key])))
        let claims = TestJWT.claims(now: Self.now)
        func reason(_ authorization: String?) -> String? {
            switch verifier.verify(authorization: authorization, now: Self.now) {
            case .invalid(_, let reason): return reason
            case .unknownKey: return "unknown key"
            case .valid: return nil
            }
        }
        let good = try key.sign(claims)
        #expect(reason("Bearer " + (try impostor.sign(claims))) == "bad signature")
        #expect(reason("Bearer " + (try TestJWT.unsigned(claims, kid: "rsa"))) == "algorithm none not accepted")
        // The JWKS's own public key (its modulus, or the JWK's text) as an HMAC secret.
        let modulus = Data(base64Encoded: base64(key.jwk["n"] ?? "")) ?? Data()
        for secret in [modulus, Data(TestJWT.jwks([key]).utf8)] {
            #expect(reason("Bearer " + (try TestJWT.hmac(claims, kid: "rsa", secret: secret))) == "algorithm HS256 not accepted")
        }
        #expect(reason("Bearer " + (try key.sign(claims, algorithm: "RS512"))) == "key rsa is not for RS512")
        #expect(reason("Bearer " + (try key.sign(claims, kid: "other"))) == "unknown key")
        // A signature moved onto other claims.
        let parts = good.split(separator: ".")
        let forged = try TestJWT.unsigned(TestJWT.claims(subject: "admin", now: Self.now), kid: "rsa").split(separator: ".")
        #expect(reason("Bearer \(parts[0]).\(forged[1]).\(parts[2])") == "bad signature")
        #expect(reason("Bearer not.a.token") == "malformed token")
        #expect(reason("Bearer " + good) == nil)
        #expect(reason("bearer   " + good + " ") == nil)
        // No bearer token: nothing "sent" (no invalid_token in the answer).
        for authorization in [nil, "", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer    "] {
            #expect(verifier.verify(authorization: authorization, now: Self.now) == .invalid(tokenSent: false, reason: "no bearer token"))
        }
    }

    @Test func verifiedTokensAreCachedByKeySetAndStillTimed() async throws {
        let first = try await TestSigningKey.eddsa(kid: "one")
        let second = try await TestSigningKey.eddsa(kid: "two")
        let document = Document(TestJWT.jwks([first]))
        let verifier = try await verifier(document)
        let token = "Bearer " + (try first.sign(TestJWT.claims(now: Self.now)))
        guard case .valid = verifier.verify(authorization: token, now: Self.now) else { Issue.record("refused"); return }
        #expect(verifier.cachedTokenCount == 1)
        guard case .valid = verifier.verify(authorization: token, now: Self.now + 10) else { Issue.record("refused"); return }
        #expect(verifier.cachedTokenCount == 1)
        // The cached token still expires.
        #expect(verifier.verify(authorization: token, now: Self.now + 3600 + 61) == .invalid(tokenSent: true, reason: "expired"))
        // Rotated out of the JWKS: the cache does not outlive the key.
        document.text.withLock { $0 = TestJWT.jwks([second]) }
        try await verifier.source.refresh(on: MultiThreadedEventLoopGroup.singleton.next())?.get()
        #expect(verifier.verify(authorization: token, now: Self.now) == .unknownKey)
        guard case .valid = verifier.verify(authorization: "Bearer " + (try second.sign(TestJWT.claims(now: Self.now))), now: Self.now)
        else { Issue.record("the new key's token refused"); return }
    }

    @Test func aTokenBeforeTheFirstLoadDoesNotUseUpTheUnknownKidLoad() async throws {
        let loads = Mutex(0)
        // Not started: as a request that arrives before the load at start has begun.
        let source = JWKSSource(origin: .file("test"), pollInterval: .seconds(3600), refreshInterval: .seconds(60), logger: Logger(label: "t")) {
            loads.withLock { $0 += 1 }
            return Array("{\"keys\": []}".utf8)
        }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await source.refresh(on: loop)?.get()
        // The issuer rotates soon after: an unknown kid still gets its load.
        let rotated = try #require(source.refresh(on: loop))
        try await rotated.get()
        #expect(loads.withLock { $0 } == 2)
        // And then waits its turn.
        #expect(source.refresh(on: loop) == nil)
    }

    @Test func aBadDocumentKeepsTheKeysHeldAndBadKeysAreSkipped() async throws {
        let key = try await TestSigningKey.ecdsa(kid: "ec", algorithm: "ES384")
        let document = Document(TestJWT.jwks([key]))
        let verifier = try await verifier(document)
        let token = "Bearer " + (try key.sign(TestJWT.claims(now: Self.now)))
        document.text.withLock { $0 = "{ not json" }
        try await verifier.source.refresh(on: MultiThreadedEventLoopGroup.singleton.next())?.get()
        guard case .valid = verifier.verify(authorization: token, now: Self.now) else { Issue.record("keys lost"); return }
        // An HMAC key and a broken RSA key next to a good one: only the good one is kept.
        let mixed = #"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"},{"kty":"RSA","kid":"bad","n":"AA","e":"AQAB","alg":"RS256"},"#
            + (TestJWT.jwks([key]).dropFirst(9))
        let (keys, skipped) = try await JWKSKeySet.read(Array(mixed.utf8), generation: 1)
        #expect(keys.keyIDs == ["ec"])
        #expect(skipped.count == 2)
    }

    @Test func mutatedAndHostileTokensNeverCrashNorPass() async throws {
        let key = try await TestSigningKey.ecdsa(kid: "ec")
        let verifier = try await verifier(Document(TestJWT.jwks([key])))
        let good = Array(try key.sign(TestJWT.claims(now: Self.now)).utf8)
        var random = SeededRandom(seed: 13)
        let alphabet = Array("AZaz09-_.=+/ \"{}:,é".utf8)
        for _ in 0..<3000 {
            var token = good
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let index = Int.random(in: 0..<token.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: token[index] = alphabet.randomElement(using: &random)!
                case 1: token.remove(at: index)
                default: token.insert(alphabet.randomElement(using: &random)!, at: index)
                }
                if token.isEmpty { token = [UInt8(ascii: ".")] }
            }
            guard token != good else { continue }
            if case .valid = verifier.verify(authorization: "Bearer " + String(decoding: token, as: UTF8.self), now: Self.now) {
                // Only a change base64url decoding ignores (a padding bit of the last character) may pass.
                #expect(token.count == good.count)
            }
        }
        // Claims at every extreme a JSON number takes.
        for value in [1e308, -1e308, 9.3e18, -9.3e18, 0.5, 0] as [Double] {
            for name in ["exp", "nbf", "iat"] {
                _ = verifier.verify(authorization: "Bearer " + (try key.sign(TestJWT.claims(now: Self.now, extra: [name: value]))), now: Self.now)
            }
        }
        _ = verifier.verify(authorization: "Bearer " + String(repeating: "a.", count: 50_000), now: Self.now)
    }

    /// A JWKS document a test changes.
    final class Document: Sendable {
        let text: Mutex<String>
        init(_ text: String) { self.text = Mutex(text) }
    }

    private func base64(_ url: String) -> String {
        let text = url.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return text + String(repeating: "=", count: (4 - text.count % 4) % 4)
    }
}
