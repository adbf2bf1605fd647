/// Which headers a proxy must not forward, and the forwarding headers it adds (SPEC §8).
public enum ProxyHeaderRules {
    /// Hop-by-hop headers of RFC 9110 §7.6.1 plus the legacy ones proxies also drop,
    /// lower-cased. Headers named in `Connection` are hop-by-hop as well.
    public static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authenticate", "proxy-authorization",
    ]

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
