/// A tenant (SPEC §15): the hosts it owns and its quotas. Its routes may only name hosts it
/// owns; two tenants never own overlapping hosts.
public struct TenantDefinition: Hashable, Sendable {
    /// 1 to 63 of `a-z`, `0-9` and `-`, as a tenant port's tenant (SPEC §10).
    public var name: String
    /// Exact names and `*.` wildcards.
    public var hosts: [HostPattern]
    public var quota: TenantQuota

    public init(name: String, hosts: [HostPattern] = [], quota: TenantQuota = TenantQuota()) {
        self.name = name
        self.hosts = hosts
        self.quota = quota
    }

    /// Whether a route may name `host`: it is one of the tenant's hosts, or under one of its
    /// wildcards (`api.acme.example.com` and `*.api.acme.example.com` under
    /// `*.acme.example.com`).
    public func owns(_ host: HostPattern) -> Bool {
        hosts.contains { $0.covers(host) }
    }

    /// A host of this tenant and one of `other`'s that a request could match both of; nil
    /// when they never overlap.
    public func overlap(with other: TenantDefinition) -> (HostPattern, HostPattern)? {
        for mine in hosts {
            if let theirs = other.hosts.first(where: { $0.overlaps(mine) }) { return (mine, theirs) }
        }
        return nil
    }
}

/// How much a tenant may create; `nil`: no limit.
public struct TenantQuota: Hashable, Sendable {
    public var routes: Int?
    public var upstreams: Int?
    public var ports: Int?

    public init(routes: Int? = nil, upstreams: Int? = nil, ports: Int? = nil) {
        self.routes = routes
        self.upstreams = upstreams
        self.ports = ports
    }

    /// Whether a change from `current` to `next` objects of a kind limited to `limit` may
    /// go on: never past the limit, except that a tenant over it (its quota was lowered)
    /// may still change and remove what it has.
    public static func allows(limit: Int?, current: Int, next: Int) -> Bool {
        guard let limit else { return true }
        return next <= limit || next <= current
    }
}

extension HostPattern {
    /// Whether every host `other` matches is one this pattern matches (or, for an exact
    /// name, is this name): a tenant owning `self` may route `other`.
    public func covers(_ other: HostPattern) -> Bool {
        switch (self, other) {
        case (.exact(let mine), .exact(let theirs)): return mine == theirs
        case (.exact, .wildcard): return false
        case (.wildcard, .exact(let name)): return matches(name)
        case (.wildcard(let mine), .wildcard(let theirs)): return theirs.hasSuffix(mine)
        }
    }

    /// Whether some request host matches both patterns.
    public func overlaps(_ other: HostPattern) -> Bool {
        switch (self, other) {
        case (.exact(let mine), .exact(let theirs)): return mine == theirs
        case (.exact(let name), .wildcard): return other.matches(name)
        case (.wildcard, .exact(let name)): return matches(name)
        case (.wildcard(let mine), .wildcard(let theirs)): return mine.hasSuffix(theirs) || theirs.hasSuffix(mine)
        }
    }

    /// Parses a tenant's host as a route's, with one trailing dot (a fully qualified name)
    /// dropped, as request hosts are normalized.
    public init?(tenantHost text: String) {
        self.init(parsing: text.hasSuffix(".") ? String(text.dropLast()) : text)
    }
}
