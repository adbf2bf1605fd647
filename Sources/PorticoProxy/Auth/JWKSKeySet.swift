import FoundationEssentials
import JWTKit
import PorticoCore

/// The verifying keys of one JWKS document (SPEC §13), by `kid` and algorithm, as jwt-kit's
/// algorithms. Immutable: a reload makes a new set with a new ``generation``.
struct JWKSKeySet: Sendable {
    /// What a token's `kid` and `alg` find.
    enum Lookup {
        case key(any JWTAlgorithm)
        /// No key has that `kid` (or the token names none and the set has not exactly one key).
        case unknownKey
        /// The key exists, but not for that algorithm.
        case wrongAlgorithm
    }

    /// Numbers the sets a source has held; verified tokens are cached per generation.
    let generation: Int
    private let keys: [String: [String: any JWTAlgorithm]]

    static let empty = JWKSKeySet(generation: 0, keys: [:])

    private init(generation: Int, keys: [String: [String: any JWTAlgorithm]]) {
        self.generation = generation
        self.keys = keys
    }

    var keyIDs: [String] { keys.keys.sorted() }

    func lookup(kid: String?, algorithm: String) -> Lookup {
        let byAlgorithm: [String: any JWTAlgorithm]?
        if let kid {
            byAlgorithm = keys[kid]
        } else {
            byAlgorithm = keys.count == 1 ? keys.first?.value : nil
        }
        guard let byAlgorithm else { return .unknownKey }
        return byAlgorithm[algorithm].map { .key($0) } ?? .wrongAlgorithm
    }

    /// Reads a JWKS document as generation `generation`. A key jwt-kit cannot read, or whose
    /// algorithm SPEC §13 does not accept, is skipped and named in `skipped`; private parts
    /// are dropped. Throws when the document is not a JWKS.
    static func read(_ document: [UInt8], generation: Int) async throws -> (keys: JWKSKeySet, skipped: [String]) {
        let entries = try JSONDecoder().decode(KeyList.self, from: Data(document)).keys
        var keys: [String: [String: any JWTAlgorithm]] = [:]
        var skipped: [String] = []
        for (index, entry) in entries.enumerated() {
            guard case .success(var jwk) = entry.key else {
                if case .failure(let error) = entry.key { skipped.append("key \(index): \(error)") }
                continue
            }
            jwk.privateExponent = nil
            jwk.prime1 = nil
            jwk.prime2 = nil
            let kid = jwk.keyIdentifier?.string ?? ""
            let name = kid.isEmpty ? "key \(index)" : "kid \(kid)"
            if kid.isEmpty { jwk.keyIdentifier = JWKIdentifier(string: "") }
            var byAlgorithm = keys[kid] ?? [:]
            var problem: (any Error)?
            for algorithm in candidateAlgorithms(for: jwk) {
                // A collection per algorithm: jwt-kit keeps the first signer a JWK without `alg` makes.
                let collection = JWTKeyCollection()
                do {
                    try await collection.add(jwk: jwk)
                    let key = try await collection.getKey(for: jwk.keyIdentifier, alg: algorithm)
                    if key.name == algorithm { byAlgorithm[algorithm] = key }
                } catch {
                    problem = error
                }
            }
            guard !byAlgorithm.isEmpty else {
                let why = problem.map { "\($0)" }
                    ?? "no accepted algorithm (\(JWTAuthDefinition.algorithms.sorted().joined(separator: ", ")))"
                skipped.append("\(name): \(why)")
                continue
            }
            keys[kid] = byAlgorithm
        }
        return (JWKSKeySet(generation: generation, keys: keys), skipped)
    }

    /// A JWKS document's `keys`, each read on its own, so that one jwt-kit cannot read (an
    /// HMAC `oct` key, an unknown type) does not spoil the others.
    private struct KeyList: Decodable {
        struct Entry: Decodable {
            let key: Result<JWK, any Error>

            init(from decoder: any Decoder) throws {
                do { key = .success(try JWK(from: decoder)) } catch { key = .failure(error) }
            }
        }

        let keys: [Entry]
    }

    /// The accepted algorithms a key may verify: its own `alg`, else those of its type and curve.
    private static func candidateAlgorithms(for jwk: JWK) -> [String] {
        if let algorithm = jwk.algorithm?.rawValue {
            return JWTAuthDefinition.algorithms.contains(algorithm) ? [algorithm] : []
        }
        switch jwk.keyType {
        case .rsa: return ["RS256", "RS384", "RS512"]
        case .octetKeyPair: return ["EdDSA"]
        case .ecdsa:
            switch jwk.curve?.rawValue {
            case "P-256": return ["ES256"]
            case "P-384": return ["ES384"]
            default: return []
            }
        default: return []
        }
    }
}

/// `portico validate`'s check of a `jwksFile`: the key ids it would use, the keys it would
/// skip, or why it cannot be used at all.
public enum JWKSFileCheck {
    public struct Report: Sendable {
        public var keyIDs: [String] = []
        public var skipped: [String] = []
        /// Why the file cannot be used; `nil` when it can.
        public var problem: String?
    }

    /// Reads `file` (a `jwksFile`) of the routes folder `folder` as the gateway would.
    public static func check(file: String, inRoutesFolder folder: String) async -> Report {
        var report = Report()
        do {
            let path = AuthEnvironment.path(ofKeyFile: file, inRoutesFolder: folder)
            let (keys, skipped) = try await JWKSKeySet.read(try JWKSDocument.readFile(path), generation: 1)
            report.keyIDs = keys.keyIDs
            report.skipped = skipped
            if report.keyIDs.isEmpty { report.problem = "no usable key" }
        } catch {
            report.problem = "\(error)"
        }
        return report
    }
}
