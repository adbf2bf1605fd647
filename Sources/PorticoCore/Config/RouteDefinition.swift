/// How a route matches the request path (SPEC §4).
public enum PathMatch: Hashable, Sendable {
    /// Matches the prefix on path-segment boundaries; stored without a trailing `/` (except `/`).
    case prefix(String)
    /// Matches the whole path exactly.
    case exact(String)
    /// A regular expression that must match the whole path.
    case regex(String)
}

/// A request header that must be present with exactly this value.
public struct HeaderCondition: Hashable, Sendable {
    /// The header name, lower-cased.
    public var name: String
    /// The exact value required.
    public var value: String

    public init(name: String, value: String) {
        self.name = name.lowercased()
        self.value = value
    }
}

/// A cookie or query parameter that must be present with exactly this value (SPEC §12);
/// the name compares exactly.
public struct ValueCondition: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// What a route requires of a request besides its host.
public struct RouteMatch: Hashable, Sendable {
    /// The path condition; `prefix("/")` by default.
    public var path: PathMatch
    /// Allowed methods (upper-case); `nil` allows every method.
    public var methods: [String]?
    /// Headers that must match exactly, in definition order.
    public var headers: [HeaderCondition]
    /// Cookies that must match exactly.
    public var cookies: [ValueCondition]
    /// Query parameters that must match exactly (compared percent-decoded).
    public var query: [ValueCondition]

    public init(
        path: PathMatch = .prefix("/"), methods: [String]? = nil, headers: [HeaderCondition] = [],
        cookies: [ValueCondition] = [], query: [ValueCondition] = []
    ) {
        self.path = path
        self.methods = methods
        self.headers = headers
        self.cookies = cookies
        self.query = query
    }

    /// The number of conditions for precedence: the method list counts once, each header,
    /// cookie and query parameter once.
    public var conditionCount: Int {
        (methods == nil ? 0 : 1) + headers.count + cookies.count + query.count
    }
}

/// A response the gateway writes itself, without an upstream.
public struct StaticResponse: Hashable, Sendable {
    /// The HTTP status code, 200–599.
    public var status: Int
    /// The body, sent as `text/plain; charset=utf-8`.
    public var body: String

    public init(status: Int, body: String = "") {
        self.status = status
        self.body = body
    }
}

/// What a matched route does with the request.
public enum RouteAction: Hashable, Sendable {
    /// Proxy to the named upstream.
    case upstream(String)
    /// Proxy to one of several upstreams, picked by weight per request (SPEC §12).
    case backends([WeightedBackend])
    /// Answer directly.
    case respond(StaticResponse)
    /// Answer with a redirect (SPEC §12).
    case redirect(RedirectDefinition)

    /// The upstreams the action proxies to, in definition order.
    public var upstreamNames: [String] {
        switch self {
        case .upstream(let name): return [name]
        case .backends(let backends): return backends.map(\.upstream)
        case .respond, .redirect: return []
        }
    }
}

/// A route's CORS policy (SPEC §7), as configured.
public struct CORSDefinition: Hashable, Sendable {
    public var allowOrigins: [String]
    public var allowMethods: [String]
    public var allowHeaders: [String]
    public var exposeHeaders: [String]
    public var allowCredentials: Bool
    public var maxAge: Int?

    public init(
        allowOrigins: [String] = [], allowMethods: [String] = [], allowHeaders: [String] = [],
        exposeHeaders: [String] = [], allowCredentials: Bool = false, maxAge: Int? = nil
    ) {
        self.allowOrigins = allowOrigins
        self.allowMethods = allowMethods
        self.allowHeaders = allowHeaders
        self.exposeHeaders = exposeHeaders
        self.allowCredentials = allowCredentials
        self.maxAge = maxAge
    }
}

/// One route of SPEC §3: which requests it takes and what it does with them.
public struct RouteDefinition: Hashable, Sendable {
    /// The default whole-response timeout.
    public static let defaultTimeout: Duration = .seconds(60)

    /// Unique across every file and the API; used as the metrics and log label.
    public var name: String
    /// Host patterns; empty matches any host.
    public var hosts: [HostPattern]
    /// Path, method and header conditions.
    public var match: RouteMatch
    /// Proxy or respond.
    public var action: RouteAction
    /// Replacement for the matched prefix (Gateway API `ReplacePrefixMatch`).
    public var rewritePrefix: String?
    /// Whole-response timeout.
    public var timeout: Duration
    /// Answer plain-HTTP requests with a 308 to HTTPS.
    public var httpsRedirect: Bool
    /// Allow gzip of responses.
    public var compression: Bool
    /// Optional CORS policy.
    @Boxed public var cors: CORSDefinition?
    /// Optional retry policy; without one, ``RetryPolicyDefinition/default`` applies.
    @Boxed public var retries: RetryPolicyDefinition?
    /// Replaces the whole path (Gateway API `ReplaceFullPath`); exclusive with `rewritePrefix`.
    public var rewritePath: String?
    /// The `Host` the upstream gets.
    public var rewriteHost: String?
    /// Modifications of the head sent upstream.
    public var requestHeaders = HeaderModifiers()
    /// Modifications of every response head of the route.
    public var responseHeaders = HeaderModifiers()
    /// `Strict-Transport-Security` on responses over HTTPS.
    public var hsts: HSTSDefinition?
    /// Clients allowed, when not empty: any other is refused (SPEC §13).
    public var allowFrom: [AddressRange] = []
    /// Clients refused; wins over `allowFrom`.
    public var denyFrom: [AddressRange] = []
    /// Requests per key and time (SPEC §13).
    @Boxed public var rateLimit: RateLimitDefinition?
    /// JWT and forward-auth checks before the upstream (SPEC §13).
    @Boxed public var auth: AuthDefinition?
    /// The tenant it belongs to (SPEC §15); `nil`: the operator's.
    public var tenant: String?

    /// Whether the IP rules let `client` through: `denyFrom` wins; with `allowFrom`, only
    /// the clients it names pass. A client address that does not parse passes only when
    /// there are no rules.
    public func admits(client: String) -> Bool {
        if allowFrom.isEmpty, denyFrom.isEmpty { return true }
        guard let address = IPAddress(client) else { return false }
        if denyFrom.contains(address) { return false }
        return allowFrom.isEmpty || allowFrom.contains(address)
    }

    /// The retry policy that applies to the route.
    public var retryPolicy: RetryPolicyDefinition { retries ?? .default }

    public init(
        name: String,
        hosts: [HostPattern] = [],
        match: RouteMatch = RouteMatch(),
        action: RouteAction,
        rewritePrefix: String? = nil,
        timeout: Duration = RouteDefinition.defaultTimeout,
        httpsRedirect: Bool = false,
        compression: Bool = true,
        cors: CORSDefinition? = nil,
        retries: RetryPolicyDefinition? = nil
    ) {
        self.name = name
        self.hosts = hosts
        self.match = match
        self.action = action
        self.rewritePrefix = rewritePrefix
        self.timeout = timeout
        self.httpsRedirect = httpsRedirect
        self.compression = compression
        self.cors = cors
        self.retries = retries
    }
}

/// Where a definition came from; file-defined ones are read-only through the API.
public enum DefinitionSource: Hashable, Sendable {
    /// A file in the routes folder, by its display path.
    case file(String)
    /// The admin API.
    case api
}

/// Everything one snapshot is built from: upstreams and routes in definition order.
public struct RouteSet: Hashable, Sendable {
    /// Upstreams with where each came from.
    public var upstreams: [(definition: UpstreamDefinition, source: DefinitionSource)]
    /// Routes in precedence order of definition, with where each came from.
    public var routes: [(definition: RouteDefinition, source: DefinitionSource)]

    /// What a set decoded from input with problems leaves out; empty for a valid set.
    public var omissions = Omissions()

    public init(
        upstreams: [(definition: UpstreamDefinition, source: DefinitionSource)] = [],
        routes: [(definition: RouteDefinition, source: DefinitionSource)] = []
    ) {
        self.upstreams = upstreams
        self.routes = routes
    }

    /// Appends another set after this one (later files, then API definitions).
    public mutating func append(_ other: RouteSet) {
        upstreams += other.upstreams
        routes += other.routes
        omissions.formUnion(other.omissions)
    }

    /// What stands for a document that could not be read at all: nothing of it is known.
    public static var unreadable: RouteSet {
        var set = RouteSet()
        set.omissions.upstreamsMayBeMissing = true
        return set
    }

    /// The entries of a document that did not decode, so that the table-level checks of
    /// the rest (unknown upstreams, duplicate names, regexes) can run too, name the right
    /// fields, and do not blame what is missing: every problem of a change is reported at
    /// once (SPEC §5).
    public struct Omissions: Hashable, Sendable {
        /// An entry's place: its source and its index in that source's list.
        public struct Position: Hashable, Sendable {
            public var source: DefinitionSource
            public var index: Int
            public init(source: DefinitionSource, index: Int) {
                self.source = source
                self.index = index
            }
        }

        /// Upstreams that did not decode.
        public var upstreams: Set<Position> = []
        /// Routes that did not decode.
        public var routes: Set<Position> = []
        /// Whether an unknown upstream may be one that did not decode (or was in a document
        /// that could not be read at all), so that no route is blamed for naming it.
        public var upstreamsMayBeMissing = false

        public init() {}

        public var isEmpty: Bool { upstreams.isEmpty && routes.isEmpty && !upstreamsMayBeMissing }

        mutating func formUnion(_ other: Omissions) {
            upstreams.formUnion(other.upstreams)
            routes.formUnion(other.routes)
            upstreamsMayBeMissing = upstreamsMayBeMissing || other.upstreamsMayBeMissing
        }
    }

    public static func == (lhs: RouteSet, rhs: RouteSet) -> Bool {
        lhs.upstreams.elementsEqual(rhs.upstreams, by: { $0.definition == $1.definition && $0.source == $1.source })
            && lhs.routes.elementsEqual(rhs.routes, by: { $0.definition == $1.definition && $0.source == $1.source })
    }

    public func hash(into hasher: inout Hasher) {
        for upstream in upstreams {
            hasher.combine(upstream.definition)
            hasher.combine(upstream.source)
        }
        for route in routes {
            hasher.combine(route.definition)
            hasher.combine(route.source)
        }
    }
}
