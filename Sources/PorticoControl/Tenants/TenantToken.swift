import Foundation

/// A tenant's API token (SPEC §15): `ptk_<id>_<secret>`, shown once when made. The store
/// keeps only the id and the SHA-256 of the whole token; a presented token is found by its
/// id and its hash compared in constant time.
public struct TenantToken: Hashable, Sendable {
    /// 16 hex digits, public: how the token is listed and revoked.
    public var id: String
    public var tenant: String
    /// The token's SHA-256, hex.
    public var hash: String
    /// Seconds since 1970.
    public var createdAt: Double

    public init(id: String, tenant: String, hash: String, createdAt: Double) {
        self.id = id
        self.tenant = tenant
        self.hash = hash
        self.createdAt = createdAt
    }

    static let prefix = "ptk_"

    /// A new token for `tenant`: what to store, and the text to hand out once.
    public static func make(tenant: String, now: Double = Date().timeIntervalSince1970) -> (token: TenantToken, text: String) {
        var generator = SystemRandomNumberGenerator()
        let id = hex(generator.next() as UInt64)
        let secret = (0..<4).map { _ in hex(generator.next() as UInt64) }.joined()
        let text = prefix + id + "_" + secret
        return (TenantToken(id: id, tenant: tenant, hash: digest(text), createdAt: now), text)
    }

    /// The id a presented token names; nil when it is not of the token's form.
    public static func id(of text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == prefix.utf8.count + 16 + 1 + 64, text.hasPrefix(prefix), bytes[prefix.utf8.count + 16] == UInt8(ascii: "_")
        else { return nil }
        return String(decoding: bytes[prefix.utf8.count..<prefix.utf8.count + 16], as: UTF8.self)
    }

    /// Whether `text` is this token: its hash compared in constant time.
    public func matches(_ text: String) -> Bool {
        AdminToken.constantTimeEquals(Self.digest(text), hash)
    }

    static func digest(_ text: String) -> String { DocumentDigest.of(text) }

    private static func hex(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
