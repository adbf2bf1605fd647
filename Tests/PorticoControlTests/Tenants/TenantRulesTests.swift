import PorticoCore
import PorticoTestSupport
import Testing

@testable import PorticoControl

/// What a tenant's route and upstream may name, and its quotas (SPEC §15), on the change
/// alone.
struct TenantRulesTests {
    private let tenants = [
        TenantDefinition(
            name: "acme", hosts: [HostPattern(parsing: "*.acme.example.com")!], quota: TenantQuota(routes: 2, upstreams: 1)),
        TenantDefinition(name: "beta", hosts: [HostPattern(parsing: "beta.example.com")!]),
    ]

    private func upstream(_ name: String, tenant: String?) -> UpstreamDefinition {
        var upstream = UpstreamDefinition(name: name, endpoints: [Endpoint(host: "127.0.0.1", port: 1)])
        upstream.tenant = tenant
        return upstream
    }

    private func route(_ name: String, tenant: String?, hosts: [String] = ["api.acme.example.com"], upstream: String = "a") -> RouteDefinition {
        var route = RouteDefinition(name: name, hosts: hosts.map { HostPattern(parsing: $0)! }, action: .upstream(upstream))
        route.tenant = tenant
        return route
    }

    private func problems(_ next: StoredConfiguration, current: StoredConfiguration = StoredConfiguration(), inCollection: Bool = true)
        -> [String]
    {
        do {
            try TenantRules.check(current: current, next: next, tenants: tenants, inCollection: inCollection)
            return []
        } catch {
            return error.problems.isEmpty ? ["\(error.errorCode): \(error.message)"] : error.problems.map { "\($0.path): \($0.message)" }
        }
    }

    @Test func aTenantsRouteOnItsHostsAndUpstreamPasses() {
        #expect(problems(StoredConfiguration(upstreams: [upstream("a", tenant: "acme")], routes: [route("r", tenant: "acme")])) == [])
        // The operator's routes are not the tenants' business.
        #expect(problems(StoredConfiguration(upstreams: [upstream("a", tenant: "acme")], routes: [route("r", tenant: nil, hosts: [])])) == [])
    }

    @Test func everyBrokenRuleIsNamedByItsField() {
        let upstreams = [upstream("a", tenant: "acme"), upstream("b", tenant: "beta"), upstream("o", tenant: nil)]
        #expect(
            problems(StoredConfiguration(upstreams: upstreams, routes: [route("r", tenant: "acme", hosts: ["beta.example.com"], upstream: "b")]))
                == [
                    #"hosts[0]: beta.example.com is not a host of tenant "acme" (*.acme.example.com)"#,
                    #"upstream: upstream "b" is not tenant "acme"'s"#,
                ])
        #expect(problems(StoredConfiguration(upstreams: upstreams, routes: [route("r", tenant: "acme", hosts: [])])) == [
            "hosts: required: a tenant's route names its hosts"
        ])
        #expect(problems(StoredConfiguration(upstreams: upstreams, routes: [route("r", tenant: "acme", upstream: "o")])) == [
            #"upstream: upstream "o" is not tenant "acme"'s"#
        ])
        #expect(problems(StoredConfiguration(routes: [route("r", tenant: "nobody")])) == [#"tenant: no tenant "nobody""#])
        // In a whole document, the definition's place comes first.
        #expect(
            problems(StoredConfiguration(upstreams: [upstream("z", tenant: "ghost")] + upstreams, routes: []), inCollection: false) == [
                #"upstreams[0].tenant: no tenant "ghost""#
            ])
    }

    @Test func onlyWhatTheChangeTouchesIsCheckedAgainstTheHosts() {
        // A route recorded before its tenant's hosts were narrowed stays, and others change.
        let old = route("old", tenant: "acme", hosts: ["legacy.example.com"])
        let current = StoredConfiguration(upstreams: [upstream("a", tenant: "acme")], routes: [old])
        #expect(problems(StoredConfiguration(upstreams: current.upstreams, routes: [old, route("new", tenant: "acme")]), current: current) == [])
    }

    @Test func quotasRefuseGrowthOnly() {
        let upstreams = [upstream("a", tenant: "acme")]
        let two = StoredConfiguration(upstreams: upstreams, routes: [route("r1", tenant: "acme"), route("r2", tenant: "acme")])
        #expect(problems(two) == [])
        let three = StoredConfiguration(upstreams: upstreams, routes: two.routes + [route("r3", tenant: "acme")])
        #expect(problems(three, current: two) == [#"quota_exceeded: tenant "acme" may have 2 routes; this change makes 3"#])
        #expect(
            problems(StoredConfiguration(upstreams: upstreams + [upstream("a2", tenant: "acme")]))
                == [#"quota_exceeded: tenant "acme" may have 1 upstreams; this change makes 2"#])
        // Another tenant's routes do not count against acme's.
        var beta = route("b1", tenant: "beta", hosts: ["beta.example.com"], upstream: "b")
        beta.tenant = "beta"
        #expect(problems(StoredConfiguration(upstreams: upstreams + [upstream("b", tenant: "beta")], routes: two.routes + [beta]), current: two) == [])
    }
}
