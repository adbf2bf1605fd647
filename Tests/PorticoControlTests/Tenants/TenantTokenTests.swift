import PorticoControl
import PorticoCore
import Testing

@testable import PorticoControl

/// Tenant tokens (SPEC §15): kept as hashes, found by id, compared in constant time, and
/// what a tenant token may call.
struct TenantTokenTests {
    @Test func aTokenIsKeptAsItsHashOnly() {
        let (token, text) = TenantToken.make(tenant: "acme", now: 10)
        #expect(text.hasPrefix("ptk_\(token.id)_"))
        #expect(text.utf8.count == 4 + 16 + 1 + 64)
        #expect(token.hash.count == 64)
        #expect(!token.hash.contains(String(text.dropFirst(21))))
        #expect(token.hash == TenantToken.digest(text))
        #expect(TenantToken.id(of: text) == token.id)
        #expect(token.matches(text))
        let (other, otherText) = TenantToken.make(tenant: "acme")
        #expect(other.id != token.id)
        #expect(!token.matches(otherText))
        // One changed character of the secret, and the same id with another secret.
        var bytes = Array(text.utf8)
        bytes[bytes.count - 1] = bytes[bytes.count - 1] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        #expect(!token.matches(String(decoding: bytes, as: UTF8.self)))
    }

    @Test(arguments: ["", "ptk_", "ptk_0123456789abcdef", "xyz_0123456789abcdef_" + String(repeating: "a", count: 64),
                      "ptk_0123456789abcdef-" + String(repeating: "a", count: 64), "ptk_0123456789abcdef_" + String(repeating: "a", count: 65)])
    func notAToken(text: String) {
        #expect(TenantToken.id(of: text) == nil)
    }

    @Test func constantTimeComparison() {
        #expect(AdminToken.constantTimeEquals("abc", "abc"))
        #expect(!AdminToken.constantTimeEquals("abc", "abd"))
        #expect(!AdminToken.constantTimeEquals("abc", "abcd"))
        #expect(!AdminToken.constantTimeEquals("", "a"))
        #expect(AdminToken.constantTimeEquals("", ""))
    }

    @Test(arguments: [
        ("GET", "/v1/routes", true), ("POST", "/v1/routes", true), ("PUT", "/v1/routes/a", true), ("DELETE", "/v1/upstreams/a", true),
        ("GET", "/v1/upstreams", true), ("POST", "/v1/tenants/acme/ports", true), ("GET", "/v1/tenants/acme/ports", true),
        ("PATCH", "/v1/tenants/acme/ports/redis", true), ("DELETE", "/v1/tenants/acme/ports/redis", true), ("POST", "/v1/explain", true),
        ("GET", "/v1/explain", false), ("POST", "/v1/tenants/beta/ports", false), ("GET", "/v1/tenants/acme", false),
        ("PUT", "/v1/tenants/acme", false), ("POST", "/v1/tenants/acme/tokens", false), ("GET", "/v1/tenants", false),
        ("GET", "/v1/config", false), ("PUT", "/v1/config", false), ("GET", "/v1/status", false), ("GET", "/v1/ports", false),
        ("POST", "/v1/config/rollback", false), ("GET", "/v1/config/versions", false), ("GET", "/v1/routes/a/b", false),
        ("GET", "/v2/routes", false),
    ])
    func whatATenantTokenMayCall(method: String, path: String, allowed: Bool) {
        #expect(BearerTokenMiddleware.tenantMayCall(.init(method)!, path: path, tenant: "acme") == allowed)
    }
}
