import PorticoCore

/// SPEC §15's rules for a change of the API-managed routes and upstreams: what a tenant's
/// new or changed definition may name, and its quotas.
///
/// Only what the change adds or alters is checked against the tenant's hosts, so a tenant
/// whose hosts were narrowed later can still change and remove its other routes; a quota
/// refuses only growth past it.
enum TenantRules {
    /// - Parameter inCollection: Problems name the field alone (one definition's change);
    ///   otherwise `routes[i].` or `upstreams[i].` comes first (`PUT /v1/config`).
    static func check(
        current: StoredConfiguration, next: StoredConfiguration, tenants: [TenantDefinition], inCollection: Bool
    ) throws(ControlPlaneError) {
        let byName = Dictionary(tenants.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let tenantOfUpstream = Dictionary(next.upstreams.map { ($0.name, $0.tenant) }, uniquingKeysWith: { first, _ in first })
        var problems: [ConfigProblem] = []
        func path(_ collection: String, _ index: Int, _ field: String) -> String {
            inCollection ? field : "\(collection)[\(index)].\(field)"
        }

        // Only tenants' definitions are looked at: a table of the operator's alone costs a pass.
        let currentUpstreams = Dictionary(current.upstreams.filter { $0.tenant != nil }.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        for (index, upstream) in next.upstreams.enumerated() where upstream.tenant != nil && currentUpstreams[upstream.name] != upstream {
            if let tenant = upstream.tenant, byName[tenant] == nil {
                problems.append(ConfigProblem(path: path("upstreams", index, "tenant"), message: "no tenant \"\(tenant)\""))
            }
        }
        let currentRoutes = Dictionary(current.routes.filter { $0.tenant != nil }.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        for (index, route) in next.routes.enumerated() where route.tenant != nil && currentRoutes[route.name] != route {
            guard let name = route.tenant else { continue }
            guard let tenant = byName[name] else {
                problems.append(ConfigProblem(path: path("routes", index, "tenant"), message: "no tenant \"\(name)\""))
                continue
            }
            if route.hosts.isEmpty {
                problems.append(
                    ConfigProblem(path: path("routes", index, "hosts"), message: "required: a tenant's route names its hosts"))
            }
            for (hostIndex, host) in route.hosts.enumerated() where !tenant.owns(host) {
                problems.append(
                    ConfigProblem(
                        path: path("routes", index, "hosts[\(hostIndex)]"),
                        message: "\(host) is not a host of tenant \"\(name)\" (\(tenant.hosts.map(\.description).joined(separator: ", ")))"))
            }
            let field: String
            switch route.action {
            case .backends: field = "backends"
            default: field = "upstream"
            }
            for upstream in route.action.upstreamNames where tenantOfUpstream[upstream] != .some(name) {
                problems.append(
                    ConfigProblem(path: path("routes", index, field), message: "upstream \"\(upstream)\" is not tenant \"\(name)\"'s"))
            }
        }
        guard problems.isEmpty else { throw .invalid(problems) }

        func counts<Definition>(_ definitions: [Definition], _ tenant: (Definition) -> String?) -> [String: Int] {
            definitions.reduce(into: [:]) { counts, definition in
                if let name = tenant(definition) { counts[name, default: 0] += 1 }
            }
        }
        let routes = (now: counts(current.routes, \.tenant), next: counts(next.routes, \.tenant))
        let upstreams = (now: counts(current.upstreams, \.tenant), next: counts(next.upstreams, \.tenant))
        for tenant in tenants {
            let (routesNow, routesNext) = (routes.now[tenant.name] ?? 0, routes.next[tenant.name] ?? 0)
            if !TenantQuota.allows(limit: tenant.quota.routes, current: routesNow, next: routesNext) {
                throw .quotaExceeded("tenant \"\(tenant.name)\" may have \(tenant.quota.routes ?? 0) routes; this change makes \(routesNext)")
            }
            let (upstreamsNow, upstreamsNext) = (upstreams.now[tenant.name] ?? 0, upstreams.next[tenant.name] ?? 0)
            if !TenantQuota.allows(limit: tenant.quota.upstreams, current: upstreamsNow, next: upstreamsNext) {
                throw .quotaExceeded(
                    "tenant \"\(tenant.name)\" may have \(tenant.quota.upstreams ?? 0) upstreams; this change makes \(upstreamsNext)")
            }
        }
    }
}
