import FoundationEssentials
import JWTKit
import PorticoCore
import Synchronization

/// A route's `auth.jwt` (SPEC §13): checks the bearer token's signature with a key of the
/// route's ``JWKSSource`` (jwt-kit's algorithms, chosen by `kid`; the token's `alg` must be
/// one SPEC §13 accepts and the key's own), then `exp`/`nbf` with the leeway, `iss` and `aud`.
///
/// Tokens whose signature and identity passed are kept, by their exact text and the key
/// set's generation, so a client sending the same token again costs a lookup and the time
/// check; a reloaded key set verifies every token again. At most ``maximumCachedTokens``
/// (``RecentlyUsedKeys``, as ``RateLimiter`` keeps its buckets).
final class JWTVerifier: Sendable {
    static let maximumCachedTokens = 10_000

    enum Verdict: Equatable {
        /// The headers `claimsToHeaders` sets.
        case valid([Header])
        /// `tokenSent`: the request had a bearer token (the answer says `invalid_token`).
        case invalid(tokenSent: Bool, reason: String)
        /// No key has the token's `kid`: worth a JWKS refresh, then one more try.
        case unknownKey
    }

    struct Header: Equatable, Sendable {
        let name: String
        let value: String
    }

    let definition: JWTAuthDefinition
    let source: JWKSSource
    private let cache = Mutex(RecentlyUsedKeys<Verified>(maximumKeys: JWTVerifier.maximumCachedTokens))

    private struct Verified {
        let generation: Int
        let claims: JWTClaims
        let headers: [Header]
    }

    init(definition: JWTAuthDefinition, source: JWKSSource) {
        self.definition = definition
        self.source = source
    }

    /// Checks the request's `Authorization` header at `now` (seconds since 1970).
    func verify(authorization: String?, now: Double) -> Verdict {
        guard let token = BearerToken.parse(authorization) else { return .invalid(tokenSent: false, reason: "no bearer token") }
        let keys = source.keys
        let text = String(token)
        if let verified = cached(text, generation: keys.generation) {
            if let problem = verified.claims.timeProblem(now: now) { return .invalid(tokenSent: true, reason: problem) }
            return .valid(verified.headers)
        }
        let parsed: (header: JWTHeader, payload: ClaimSet, signature: Data)
        do {
            parsed = try DefaultJWTParser().parse(Array(text.utf8), as: ClaimSet.self)
        } catch {
            return .invalid(tokenSent: true, reason: "malformed token")
        }
        guard let algorithm = parsed.header.alg, JWTAuthDefinition.algorithms.contains(algorithm) else {
            return .invalid(tokenSent: true, reason: "algorithm \(parsed.header.alg ?? "missing") not accepted")
        }
        let key: any JWTAlgorithm
        switch keys.lookup(kid: parsed.header.kid, algorithm: algorithm) {
        case .key(let found): key = found
        case .unknownKey: return .unknownKey
        case .wrongAlgorithm: return .invalid(tokenSent: true, reason: "key \(parsed.header.kid ?? "") is not for \(algorithm)")
        }
        guard let signed = text.utf8.lastIndex(of: UInt8(ascii: ".")),
            (try? key.verify(parsed.signature, signs: Array(text.utf8[..<signed]))) == true
        else { return .invalid(tokenSent: true, reason: "bad signature") }
        let claims = parsed.payload.claims
        if let problem = claims.identityProblem(for: definition) { return .invalid(tokenSent: true, reason: problem) }
        let headers = claims.headers(for: definition).map { Header(name: $0.0, value: $0.1) }
        remember(text, Verified(generation: keys.generation, claims: claims, headers: headers))
        if let problem = claims.timeProblem(now: now) { return .invalid(tokenSent: true, reason: problem) }
        return .valid(headers)
    }

    /// Tokens held now (both generations).
    var cachedTokenCount: Int { cache.withLock { $0.count } }

    /// The token's entry when it was verified with this key set; one verified with an
    /// earlier set is dropped.
    private func cached(_ token: String, generation: Int) -> Verified? {
        cache.withLock { cache in
            guard let verified = cache.take(token), verified.generation == generation else { return nil }
            cache.insert(verified, for: token)
            return verified
        }
    }

    private func remember(_ token: String, _ verified: Verified) {
        cache.withLock { $0.insert(verified, for: token) }
    }
}

/// A JWT payload read into ``JWTClaims``: `iss`, `aud` (a string or a list), `exp` and `nbf`
/// (numbers), and every string, number or boolean claim as text.
private struct ClaimSet: JWTPayload {
    var claims: JWTClaims

    private struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        var claims = JWTClaims()
        for key in container.allKeys {
            if let text = try? container.decode(String.self, forKey: key) {
                claims.values[key.stringValue] = text
            } else if let whole = try? container.decode(Int64.self, forKey: key) {
                claims.values[key.stringValue] = String(whole)
            } else if let number = try? container.decode(Double.self, forKey: key) {
                claims.values[key.stringValue] = number.isFinite ? String(number) : nil
            } else if let flag = try? container.decode(Bool.self, forKey: key) {
                claims.values[key.stringValue] = String(flag)
            }
        }
        claims.issuer = claims.values["iss"]
        let audience = Key(stringValue: "aud")
        if let list = try? container.decode([String].self, forKey: audience) {
            claims.audiences = list
        } else if let single = claims.values["aud"] {
            claims.audiences = [single]
        }
        claims.expiration = try Self.time(container, "exp")
        claims.notBefore = try Self.time(container, "nbf")
        self.claims = claims
    }

    /// A NumericDate claim; present but not a number: the token is malformed.
    private static func time(_ container: KeyedDecodingContainer<Key>, _ name: String) throws -> Double? {
        let key = Key(stringValue: name)
        guard container.contains(key) else { return nil }
        let value = try container.decode(Double.self, forKey: key)
        guard value.isFinite else { throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not finite") }
        return value
    }

    func encode(to encoder: any Encoder) throws {}

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
