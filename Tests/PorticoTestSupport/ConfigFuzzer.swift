import Foundation
import PorticoCore

/// A seeded, reproducible random source (SplitMix64): a failing fuzz case is found again
/// from the seed its test prints.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed a fuzz test runs with: `PORTICO_FUZZ_SEED` when set (to replay a failure),
    /// else `fallback`, fixed so that CI runs the same cases every time.
    public static func seed(fallback: UInt64) -> UInt64 {
        ProcessInfo.processInfo.environment["PORTICO_FUZZ_SEED"].flatMap { UInt64($0) } ?? fallback
    }
}

/// Makes route documents for fuzzing: a valid document that uses every field, with fields
/// replaced by values of random kinds — extreme numbers, long strings, deep nesting, unicode.
public struct ConfigFuzzer {
    public var random: SeededRandom

    public init(seed: UInt64) {
        random = SeededRandom(seed: seed)
    }

    /// A valid document naming every field the decoder knows.
    public static let valid: ConfigValue = [
        "upstreams": [
            [
                "name": "u", "endpoints": ["127.0.0.1:5500", "localhost:1"], "connectTimeout": "2s",
                "healthCheck": ["path": "/health", "interval": "5s", "timeout": "1s", "healthyThreshold": 2, "unhealthyThreshold": 3],
                "loadBalancing": "least_request", "maxRequestsPerConnection": 100, "maxConnections": 10,
                "maxPendingRequests": 5, "outlierDetection": ["consecutiveFailures": 5, "baseEjectionTime": "30s", "maxEjectionPercent": 50],
                "retryBudget": ["percent": 20, "minRetries": 3],
            ]
        ],
        "routes": [
            [
                "name": "r", "hosts": ["api.example.com", "*.example.com"],
                "match": ["path": ["prefix": "/api"], "methods": ["GET", "POST"], "headers": ["x-canary": "1"]],
                "upstream": "u", "rewrite": ["prefix": "/"], "timeout": "30s", "httpsRedirect": true, "compression": false,
                "retries": ["attempts": 2, "on": ["connect-failure", 503, "5xx"], "perTryTimeout": "500ms"],
                "cors": [
                    "allowOrigins": ["https://app.example.com", "*"], "allowMethods": ["GET"], "allowHeaders": ["Authorization"],
                    "exposeHeaders": ["X-Request-Id"], "allowCredentials": true, "maxAge": 600,
                ],
                "requestHeaders": ["set": ["X-Env": "prod"], "remove": ["X-Debug"]], "hsts": ["maxAge": 31_536_000],
                "allowFrom": ["10.0.0.0/8", "2001:db8::/32"], "denyFrom": ["10.1.0.0/16"],
                "rateLimit": ["requests": 10, "per": "1s", "burst": 5, "key": "header:x-key"],
                "auth": [
                    "jwt": [
                        "issuer": "https://id.example.com", "audiences": ["api"], "jwksFile": "keys/id.jwks",
                        "claimsToHeaders": ["sub": "X-User-Id"],
                    ],
                    "forward": [
                        "url": "http://127.0.0.1:9000/verify", "timeout": "2s", "requestHeaders": ["Authorization"],
                        "responseHeaders": ["X-User-Id"],
                    ],
                ],
            ],
            ["name": "s", "match": ["path": ["regex": "/items/[0-9]+"]], "respond": ["status": 201, "body": "made"]],
        ],
    ]

    /// Numbers and number-like strings at and past every boundary a field could have.
    static let extremes: [ConfigValue] = [
        .integer(0), .integer(-1), .integer(1), .integer(.max), .integer(.min), .integer(65535), .integer(65536),
        .integer(1_000_000_001), .double(-0.0), .double(0.5), .double(1e308), .double(-1e308), .double(9.223372036854775807e18),
        .double(1.8446744073709552e19), .double(.leastNonzeroMagnitude), .double(1e-300), "1e308", "1e308s", "-0",
        "NaN", "nan", "inf", "-inf", "Infinity", "99999999999999999999s", "9223372036854775808m", "18446744073709551616",
        "0x1p1023s", "1e-400ms", "", " ", "5", "500ms", "2m", "1h", "-5s", "5 s", "5ss", "ms", "s",
    ]

    /// A value of a random kind.
    public mutating func randomValue(depth: Int = 0) -> ConfigValue {
        switch Int.random(in: 0..<11, using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2, 3: return Self.extremes.randomElement(using: &random)!
        case 4: return .integer(Int.random(in: Int.min...Int.max, using: &random))
        case 5: return .double(Double(bitPattern: random.next()))
        case 6: return .string(randomString())
        case 7: return .string(String(repeating: "a", count: Int.random(in: 100...4_000, using: &random)))
        case 8 where depth < 40:
            return .array((0..<Int.random(in: 0...3, using: &random)).map { _ in randomValue(depth: depth + 1) })
        case 9 where depth < 40:
            return .object((0..<Int.random(in: 0...3, using: &random)).map { _ in (key: randomString(), value: randomValue(depth: depth + 1)) })
        case 10:
            // Deep nesting.
            var value: ConfigValue = "leaf"
            for _ in 0..<Int.random(in: 1...200, using: &random) { value = Bool.random(using: &random) ? [value] : ["k": value] }
            return value
        default: return .string("x")
        }
    }

    /// A short string of random characters: ASCII, controls, quotes, unicode, emoji.
    public mutating func randomString() -> String {
        let pieces = ["a", "/", ".", "*", ":", "%2e", "%", "\0", "\n", "\"", "'", "\\", "é", "日本", "🦊", "\u{202E}", " ", "-", "_", "{", "}", "[", "]", "#", "&", "?"]
        return (0..<Int.random(in: 0...12, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    /// The valid document with one to four fields (or list items, or the whole) replaced,
    /// added or removed.
    public mutating func mutatedDocument() -> ConfigValue {
        var document = Self.valid
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            document = mutate(document, depth: 0)
        }
        return document
    }

    /// The valid document with one of its scalar fields (a duration, a count, a name, a
    /// flag) set to one of the boundary ``extremes``: the mutations most likely to reach a
    /// conversion deep in the decoder.
    public mutating func documentWithAnExtremeField() -> ConfigValue {
        var leaves = 0
        Self.countLeaves(Self.valid, into: &leaves)
        var target = Int.random(in: 0..<leaves, using: &random)
        let extreme = Self.extremes.randomElement(using: &random)!
        return Self.replacingLeaf(Self.valid, at: &target, with: extreme)
    }

    private static func countLeaves(_ value: ConfigValue, into count: inout Int) {
        switch value {
        case .object(let pairs): for pair in pairs { countLeaves(pair.value, into: &count) }
        case .array(let items): for item in items { countLeaves(item, into: &count) }
        default: count += 1
        }
    }

    private static func replacingLeaf(_ value: ConfigValue, at index: inout Int, with replacement: ConfigValue) -> ConfigValue {
        switch value {
        case .object(let pairs):
            return .object(pairs.map { (key: $0.key, value: replacingLeaf($0.value, at: &index, with: replacement)) })
        case .array(let items):
            return .array(items.map { replacingLeaf($0, at: &index, with: replacement) })
        default:
            defer { index -= 1 }
            return index == 0 ? replacement : value
        }
    }

    private mutating func mutate(_ value: ConfigValue, depth: Int) -> ConfigValue {
        // Stop here and replace, more likely the deeper we are.
        if Int.random(in: 0..<6, using: &random) < depth { return randomValue() }
        switch value {
        case .object(var pairs):
            guard !pairs.isEmpty else { return randomValue() }
            switch Int.random(in: 0..<10, using: &random) {
            case 0: pairs.append((key: randomString(), value: randomValue()))
            case 1: pairs.remove(at: Int.random(in: 0..<pairs.count, using: &random))
            case 2: pairs.append(pairs[Int.random(in: 0..<pairs.count, using: &random)])  // a key given twice
            default:
                let index = Int.random(in: 0..<pairs.count, using: &random)
                pairs[index].value = mutate(pairs[index].value, depth: depth + 1)
            }
            return .object(pairs)
        case .array(var items):
            guard !items.isEmpty else { return .array([randomValue()]) }
            switch Int.random(in: 0..<6, using: &random) {
            case 0: items.append(items[Int.random(in: 0..<items.count, using: &random)])  // a duplicate name
            case 1: items.remove(at: Int.random(in: 0..<items.count, using: &random))
            default:
                let index = Int.random(in: 0..<items.count, using: &random)
                items[index] = mutate(items[index], depth: depth + 1)
            }
            return .array(items)
        default:
            return randomValue()
        }
    }

    /// Flips, inserts or deletes a few random bytes of a document's text.
    public mutating func mutatedText(_ text: String) -> String {
        var bytes = Array(text.utf8)
        for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
            let index = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
            case 1: bytes.insert(UInt8.random(in: 0...255, using: &random), at: index)
            default: bytes.remove(at: index)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension ConfigValue {
    /// The value as JSON text; `nil` where JSON has no spelling for it (NaN, infinities).
    public var fuzzJSONText: String? {
        (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) }
    }
}
