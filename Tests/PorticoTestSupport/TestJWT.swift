import Crypto
import Foundation
import JWTKit
import Synchronization
import _CryptoExtras

private let rsaKeys = Mutex<[_RSA.Signing.PrivateKey]>([])

/// A signing key for tests: its public half as a JWK, and tokens it signs (SPEC §13).
public struct TestSigningKey: Sendable {
    public let kid: String
    public let algorithm: String
    /// The public JWK, as JSON members.
    public let jwk: [String: String]
    private let signer: any JWTAlgorithm

    /// RS256, RS384 or RS512 over a 2048-bit key: the `variant`th of the few this process
    /// makes (generating RSA keys is slow, and the suite runs beside timing-sensitive tests).
    public static func rsa(kid: String, algorithm: String = "RS256", includeAlgorithm: Bool = true, variant: Int = 0)
        async throws -> TestSigningKey
    {
        let key = try Insecure.RSA.PrivateKey(backing: try rsaKeys.withLock { keys in
            while keys.count <= variant { keys.append(try _RSA.Signing.PrivateKey(keySize: .bits2048)) }
            return keys[variant]
        })
        let digest: JWTKit.DigestAlgorithm = algorithm == "RS384" ? .sha384 : algorithm == "RS512" ? .sha512 : .sha256
        let collection = await JWTKeyCollection().add(rsa: key, digestAlgorithm: digest, kid: JWKIdentifier(string: kid))
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        var jwk = ["kty": "RSA", "kid": kid, "n": TestJWT.base64URL(modulus), "e": TestJWT.base64URL(exponent), "use": "sig"]
        if includeAlgorithm { jwk["alg"] = algorithm }
        return TestSigningKey(kid: kid, algorithm: algorithm, jwk: jwk, signer: try await collection.getKey(for: JWKIdentifier(string: kid)))
    }

    /// ES256 (P-256) or ES384 (P-384).
    public static func ecdsa(kid: String, algorithm: String = "ES256") async throws -> TestSigningKey {
        let collection = JWTKeyCollection()
        let parameters: ECDSAParameters?
        let curve: String
        if algorithm == "ES384" {
            let key = ES384PrivateKey()
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            parameters = key.parameters
            curve = "P-384"
        } else {
            let key = ES256PrivateKey()
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: kid))
            parameters = key.parameters
            curve = "P-256"
        }
        let jwk = ["kty": "EC", "kid": kid, "crv": curve, "x": parameters?.x ?? "", "y": parameters?.y ?? "", "alg": algorithm]
        return TestSigningKey(kid: kid, algorithm: algorithm, jwk: jwk, signer: try await collection.getKey(for: JWKIdentifier(string: kid)))
    }

    /// EdDSA over Ed25519.
    public static func eddsa(kid: String) async throws -> TestSigningKey {
        let key = try EdDSA.PrivateKey(curve: .ed25519)
        let collection = try await JWTKeyCollection().add(eddsa: key, kid: JWKIdentifier(string: kid))
        let jwk = ["kty": "OKP", "kid": kid, "crv": "Ed25519", "x": TestJWT.base64URL(key.publicKey.rawRepresentation), "alg": "EdDSA"]
        return TestSigningKey(kid: kid, algorithm: "EdDSA", jwk: jwk, signer: try await collection.getKey(for: JWKIdentifier(string: kid)))
    }

    /// A token over `claims`, its header naming this key's `kid` (unless `kid` says otherwise)
    /// and algorithm.
    public func sign(_ claims: [String: Any], kid: String?? = .none, algorithm: String? = nil) throws -> String {
        var header: [String: Any] = ["typ": "JWT", "alg": algorithm ?? self.algorithm]
        switch kid {
        case .none: header["kid"] = self.kid
        case .some(.some(let other)): header["kid"] = other
        case .some(.none): break
        }
        let input = try TestJWT.encodedPart(header) + "." + TestJWT.encodedPart(claims)
        return input + "." + TestJWT.base64URL(Data(try signer.sign(Array(input.utf8))))
    }
}

/// JWKS documents and hand-made tokens for tests.
public enum TestJWT {
    /// A JWKS document holding `keys`' public JWKs.
    public static func jwks(_ keys: [TestSigningKey]) -> String {
        let document: [String: Any] = ["keys": keys.map(\.jwk)]
        return String(decoding: try! JSONSerialization.data(withJSONObject: document, options: [.sortedKeys]), as: UTF8.self)
    }

    /// Standard claims valid now: `iss`, `aud`, `sub`, `iat`, `exp` in an hour.
    public static func claims(
        issuer: String = "https://id.example.com", audience: Any = "api", subject: String = "user-1",
        now: Double = Date().timeIntervalSince1970, extra: [String: Any] = [:]
    ) -> [String: Any] {
        var claims: [String: Any] = ["iss": issuer, "aud": audience, "sub": subject, "iat": Int(now), "exp": Int(now) + 3600]
        claims.merge(extra) { $1 }
        return claims
    }

    /// An unsigned token (`alg: none`).
    public static func unsigned(_ claims: [String: Any], kid: String) throws -> String {
        try encodedPart(["alg": "none", "kid": kid]) + "." + encodedPart(claims) + "."
    }

    /// A token signed with HMAC-SHA256 keyed by `secret` (the confusion attack: a public key
    /// used as an HMAC secret).
    public static func hmac(_ claims: [String: Any], kid: String, secret: Data) throws -> String {
        let input = try encodedPart(["alg": "HS256", "kid": kid, "typ": "JWT"]) + "." + encodedPart(claims)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: secret))
        return input + "." + base64URL(Data(mac))
    }

    static func encodedPart(_ object: [String: Any]) throws -> String {
        base64URL(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    public static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
