/// One entry of a route's weighted split (SPEC §12): an upstream and its share.
public struct WeightedBackend: Hashable, Sendable {
    /// The largest weight a backend takes.
    public static let maximumWeight = 10_000
    /// The most backends a route splits between.
    public static let maximumCount = 16

    public var upstream: String
    /// 0–10000; a request picks this backend with probability weight / sum of weights.
    public var weight: Int

    public init(upstream: String, weight: Int) {
        self.upstream = upstream
        self.weight = weight
    }
}

/// `requestHeaders` or `responseHeaders` of a route (SPEC §12). Names are kept as written
/// (they compare case-insensitively); a name stands in at most one of the three lists.
public struct HeaderModifiers: Hashable, Sendable {
    /// Replaces every value of each name.
    public var set: [(name: String, value: String)]
    /// Appends one value of each name.
    public var add: [(name: String, value: String)]
    /// Deletes every value of each name.
    public var remove: [String]

    /// Names no modification may touch: framing and hop-by-hop headers.
    public static let protectedNames: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "upgrade", "keep-alive", "proxy-connection", "te",
        "trailer",
    ]

    public init(set: [(name: String, value: String)] = [], add: [(name: String, value: String)] = [], remove: [String] = []) {
        self.set = set
        self.add = add
        self.remove = remove
    }

    public var isEmpty: Bool { self.set.isEmpty && add.isEmpty && remove.isEmpty }

    public static func == (lhs: HeaderModifiers, rhs: HeaderModifiers) -> Bool {
        lhs.set.elementsEqual(rhs.set, by: ==) && lhs.add.elementsEqual(rhs.add, by: ==) && lhs.remove == rhs.remove
    }

    public func hash(into hasher: inout Hasher) {
        for (name, value) in set { hasher.combine(name); hasher.combine(value) }
        hasher.combine(0 as UInt8)
        for (name, value) in add { hasher.combine(name); hasher.combine(value) }
        hasher.combine(remove)
    }
}

/// A route that answers with a redirect (SPEC §12, Gateway API `RequestRedirect`); every
/// field left `nil` keeps what the request had.
public struct RedirectDefinition: Hashable, Sendable {
    /// How the redirect replaces the path.
    public enum PathReplacement: Hashable, Sendable {
        /// Replaces the matched prefix, as `rewrite.prefix`.
        case prefix(String)
        /// Replaces the whole path.
        case full(String)
    }

    /// The statuses a redirect may answer with.
    public static let allowedStatuses: Set<Int> = [301, 302, 303, 307, 308]

    /// `http` or `https`.
    public var scheme: String?
    public var host: String?
    public var port: Int?
    public var path: PathReplacement?
    /// 301, 302, 303, 307 or 308.
    public var status: Int

    public init(scheme: String? = nil, host: String? = nil, port: Int? = nil, path: PathReplacement? = nil, status: Int = 302) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.status = status
    }
}

/// `Strict-Transport-Security` for a route's HTTPS responses (SPEC §12, RFC 6797).
public struct HSTSDefinition: Hashable, Sendable {
    /// The `maxAge` `preload` needs (one year).
    public static let preloadMinimumMaxAge = 31_536_000

    /// Seconds.
    public var maxAge: Int
    public var includeSubDomains: Bool
    public var preload: Bool

    public init(maxAge: Int, includeSubDomains: Bool = false, preload: Bool = false) {
        self.maxAge = maxAge
        self.includeSubDomains = includeSubDomains
        self.preload = preload
    }

    /// The header value: `max-age=N[; includeSubDomains][; preload]`.
    public var headerValue: String {
        "max-age=\(maxAge)" + (includeSubDomains ? "; includeSubDomains" : "") + (preload ? "; preload" : "")
    }
}
