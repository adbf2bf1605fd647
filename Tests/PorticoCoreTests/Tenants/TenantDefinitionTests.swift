import PorticoCore
import Testing

/// Host ownership, overlap between tenants and quota arithmetic (SPEC §15).
struct TenantDefinitionTests {
    private func host(_ text: String) -> HostPattern { HostPattern(tenantHost: text)! }
    private let acme = TenantDefinition(
        name: "acme", hosts: [HostPattern(parsing: "acme.example.com")!, HostPattern(parsing: "*.acme.example.com")!])

    @Test(arguments: [
        ("acme.example.com", true), ("ACME.Example.com", true), ("acme.example.com.", true),
        ("api.acme.example.com", true), ("a.b.acme.example.com", true),
        ("*.acme.example.com", true), ("*.api.acme.example.com", true),  // a wildcard under its wildcard
        ("example.com", false), ("xacme.example.com", false), ("acme.example.org", false), ("*.example.com", false),
        ("api.xacme.example.com", false),
    ])
    func ownership(of route: String, owned: Bool) {
        #expect(acme.owns(host(route)) == owned, "\(route)")
    }

    @Test func anExactHostOwnsNoWildcard() {
        let exact = TenantDefinition(name: "x", hosts: [host("shop.example.com")])
        #expect(exact.owns(host("shop.example.com")))
        #expect(!exact.owns(host("*.shop.example.com")))
        #expect(!exact.owns(host("a.shop.example.com")))
    }

    @Test(arguments: [
        (["acme.example.com"], true), (["api.acme.example.com"], true), (["*.api.acme.example.com"], true),
        (["*.example.com"], true),  // covers acme's hosts
        (["ACME.EXAMPLE.COM."], true), (["beta.example.com"], false), (["example.com"], false),
        (["*.beta.example.com", "beta.example.com"], false), (["*.xacme.example.com"], false),
    ])
    func overlap(hosts: [String], overlaps: Bool) {
        let other = TenantDefinition(name: "other", hosts: hosts.map(host))
        #expect((acme.overlap(with: other) != nil) == overlaps, "\(hosts)")
        #expect((other.overlap(with: acme) != nil) == overlaps, "symmetric: \(hosts)")
    }

    @Test func quotas() {
        #expect(TenantQuota.allows(limit: nil, current: 100, next: 101))
        #expect(TenantQuota.allows(limit: 2, current: 1, next: 2))
        #expect(!TenantQuota.allows(limit: 2, current: 2, next: 3))
        #expect(!TenantQuota.allows(limit: 0, current: 0, next: 1))
        // Over a lowered quota: changes and removals go on, growth does not.
        #expect(TenantQuota.allows(limit: 2, current: 5, next: 5))
        #expect(TenantQuota.allows(limit: 2, current: 5, next: 4))
        #expect(!TenantQuota.allows(limit: 2, current: 5, next: 6))
    }
}
