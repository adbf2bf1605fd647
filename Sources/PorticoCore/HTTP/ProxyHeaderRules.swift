/// Which headers a proxy must not forward, and the forwarding headers it adds (SPEC §8).
public enum ProxyHeaderRules {
    /// Hop-by-hop headers of RFC 9110 §7.6.1 plus the legacy ones proxies also drop,
    /// lower-cased. Headers named in `Connection` are hop-by-hop as well.
    public static let hopByHop = Set(hopByHopNames)

    /// ``hopByHop`` in a fixed order, so that a name can be told by its index.
    public static let hopByHopNames = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

    /// Whether a field value starts or ends with a space or tab (optional whitespace, not
    /// part of the value: RFC 9112 §5.1).
    public static func hasSurroundingWhitespace(_ value: String) -> Bool {
        guard let first = value.utf8.first, let last = value.utf8.last else { return false }
        return first == 0x20 || first == 0x09 || last == 0x20 || last == 0x09
    }

    /// The value without its surrounding spaces and tabs.
    public static func trimmed(_ value: String) -> String {
        let bytes = value.utf8
        guard let start = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
            let end = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
        else { return "" }
        return String(decoding: bytes[start...end], as: UTF8.self)
    }

    /// Whether a header name (any case) is one of ``hopByHop``, without allocating.
    public static func isHopByHop(_ name: String) -> Bool {
        hopByHopIndex(name.utf8) != nil
    }

    /// The position in ``hopByHopNames`` of a header name (any case, as bytes), without
    /// allocating; `nil` when the name is not hop-by-hop. Inlinable, so that it is
    /// specialized for the caller's byte view (a generic call per header costs more than the
    /// comparison).
    @inlinable
    public static func hopByHopIndex<Bytes: Collection<UInt8>>(_ name: Bytes) -> Int? {
        // Every hop-by-hop name is 2 to 19 bytes and starts with c, k, p, t or u.
        let count = name.count
        guard count >= 2, count <= 19, let first = name.first else { return nil }
        switch first | 0x20 {
        case UInt8(ascii: "c"), UInt8(ascii: "k"), UInt8(ascii: "p"), UInt8(ascii: "t"), UInt8(ascii: "u"):
            return hopByHopNames.firstIndex { equalsIgnoringASCIICase(name, $0) }
        default:
            return nil
        }
    }

    /// Whether every token of a `Connection` value names a header that is hop-by-hop anyway
    /// (`keep-alive`, `upgrade`) or is `close`, so that the value asks nothing more to be
    /// removed than those and a header named `Close` (a name RFC 9110 §7.6.1 reserves for
    /// that reason). Scans the value in place: splitting it made an array per response.
    public static func namesOnlyHopByHop(connection value: String) -> Bool {
        let bytes = value.utf8
        var rest = bytes[...]
        while !rest.isEmpty {
            let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
            let token = rest[..<comma]
            rest = comma == rest.endIndex ? rest[comma...] : rest[bytes.index(after: comma)...]
            guard let start = token.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }),
                let end = token.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })
            else { continue }
            let name = token[start...end]
            if hopByHopIndex(name) == nil, !equalsIgnoringASCIICase(name, "close") { return false }
        }
        return true
    }

    /// Compares ASCII case-insensitively against a lower-case name.
    public static func equalsIgnoringASCIICase(_ name: String, _ lowercase: String) -> Bool {
        equalsIgnoringASCIICase(name.utf8, lowercase)
    }

    /// Compares bytes ASCII case-insensitively against a lower-case name.
    @inlinable
    public static func equalsIgnoringASCIICase<Bytes: Collection<UInt8>>(_ name: Bytes, _ lowercase: String) -> Bool {
        guard name.count == lowercase.utf8.count else { return false }
        return zip(name, lowercase.utf8).allSatisfy { byte, lower in
            byte == lower || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") && byte | 0x20 == lower)
        }
    }

    /// The added request headers.
    public enum Forwarded {
        public static let forwardedFor = "x-forwarded-for"
        public static let forwardedProto = "x-forwarded-proto"
        public static let forwardedHost = "x-forwarded-host"
        public static let requestID = "x-request-id"
    }

    /// Lower-cased tokens of `Connection` header values (`close, X-Foo` → `close`, `x-foo`).
    public static func connectionTokens<S: Sequence>(_ values: S) -> Set<String> where S.Element == String {
        var tokens: Set<String> = []
        for value in values {
            for token in value.split(separator: ",") {
                let trimmed = token.trimmingWhitespace().lowercased()
                if !trimmed.isEmpty { tokens.insert(trimmed) }
            }
        }
        return tokens
    }

    /// `X-Forwarded-For` for the upstream: the client address appended to any earlier list.
    public static func appendForwardedFor(existing: String?, client: String) -> String {
        guard let existing, !existing.isEmpty else { return client }
        return existing + ", " + client
    }
}
