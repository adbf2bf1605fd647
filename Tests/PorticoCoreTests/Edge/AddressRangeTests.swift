import PorticoCore
import Testing

/// Addresses, CIDR blocks and who the client is behind trusted proxies (SPEC §13).
@Suite struct AddressRangeTests {
    @Test(arguments: [
        ("10.1.2.3", [10, 1, 2, 3]), ("0.0.0.0", [0, 0, 0, 0]), ("255.255.255.255", [255, 255, 255, 255]),
        ("::1", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), ("[::1]", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("2001:db8::", [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("::ffff:10.0.0.1", [10, 0, 0, 1]), ("fe80::1%eth0", [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
        ("1:2:3:4:5:6:7:8", [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]),
        ("::", [UInt8](repeating: 0, count: 16)),
    ] as [(String, [UInt8])])
    func addressesParse(text: String, bytes: [UInt8]) {
        #expect(IPAddress(text)?.bytes == bytes)
    }

    @Test(arguments: [
        ("2001:db8:0:0:0:0:0:1", "2001:db8::1"), ("0:0:0:0:0:0:0:0", "::"), ("::1", "::1"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),
        ("2001:DB8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"), ("fe80::", "fe80::"), ("::ffff:1.2.3.4", "1.2.3.4"),
    ])
    func addressesAreWrittenAsRFC5952Says(text: String, written: String) {
        #expect(IPAddress(text)?.description == written)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ":::", "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9",
        "::g", "1.2.3.4/8", " 1.2.3.4", "1:2:3:4:5:6:7:8::",
    ])
    func garbageIsNoAddress(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false), ("10.1.2.0/24", "10.1.2.200", true),
        ("10.1.2.0/24", "10.1.3.1", false), ("127.0.0.1", "127.0.0.1", true), ("127.0.0.1", "127.0.0.2", false),
        ("0.0.0.0/0", "8.8.8.8", true), ("0.0.0.0/0", "::1", false), ("2001:db8::/32", "2001:db8:ffff::1", true),
        ("2001:db8::/32", "2001:db9::1", false), ("::/0", "::1", true), ("::/0", "1.2.3.4", false),
        ("10.0.0.7/8", "10.9.9.9", true), ("10.0.0.0/9", "10.127.0.1", true), ("10.0.0.0/9", "10.128.0.1", false),
        ("::ffff:10.0.0.0/104", "10.3.3.3", true), ("10.0.0.0/8", "::ffff:10.1.1.1", true),
    ])
    func blocksHoldTheirAddresses(range: String, address: String, contained: Bool) throws {
        let block = try #require(AddressRange(range))
        let ip = try #require(IPAddress(address))
        #expect(block.contains(ip) == contained)
    }

    @Test(arguments: ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "/8", "10.0.0.0/8/8", "10.0.0.0/-1", "10.0.0.0/0008"])
    func badBlocksAreRefused(text: String) {
        #expect(AddressRange(text) == nil)
    }

    // MARK: The client address

    private let proxies = TrustedProxies([AddressRange("10.0.0.0/8")!, AddressRange("2001:db8::/32")!])

    @Test(arguments: [
        // An untrusted peer is the client, whatever it claims.
        ("203.0.113.9", ["1.1.1.1"], "203.0.113.9"),
        // A trusted peer: the rightmost entry that is not trusted.
        ("10.0.0.1", ["1.1.1.1, 198.51.100.7"], "198.51.100.7"),
        ("10.0.0.1", ["1.1.1.1, 198.51.100.7, 10.2.2.2"], "198.51.100.7"),
        ("10.0.0.1", ["1.1.1.1", "198.51.100.7, 10.2.2.2"], "198.51.100.7"),
        // All trusted: the leftmost; none: the peer.
        ("10.0.0.1", ["10.5.5.5, 10.6.6.6"], "10.5.5.5"),
        ("10.0.0.1", [], "10.0.0.1"),
        // IPv6 peers and entries, with ports and brackets as some proxies write them.
        ("2001:db8::5", ["2001:db8::9, 2a00:1450::1"], "2a00:1450::1"),
        ("10.0.0.1", ["[2a00:1450::1]:443, 10.1.1.1"], "2a00:1450::1"),
        ("10.0.0.1", ["198.51.100.7:5000"], "198.51.100.7"),
        // An entry that is no address ends the walk at the nearest one that is.
        ("10.0.0.1", ["1.1.1.1, unknown, 10.3.3.3"], "10.3.3.3"),
        ("10.0.0.1", ["garbage"], "10.0.0.1"),
    ] as [(String, [String], String)])
    func theClientIsTheRightmostUntrustedHop(peer: String, forwardedFor: [String], client: String) {
        #expect(proxies.client(peer: peer, forwardedFor: forwardedFor) == client)
    }

    @Test func withoutTrustedProxiesThePeerIsTheClient() {
        #expect(TrustedProxies().client(peer: "10.0.0.1", forwardedFor: ["1.1.1.1"]) == "10.0.0.1")
    }

    @Test func trustedProxiesParse() throws {
        let parsed = try TrustedProxies.parse("10.0.0.0/8, 127.0.0.1,,2001:db8::/32").get()
        #expect(parsed.ranges.map(\.description) == ["10.0.0.0/8", "127.0.0.1/32", "2001:db8::/32"])
        #expect(throws: TrustedProxies.BadEntry(text: "10.0.0.0/40")) { try TrustedProxies.parse("1.2.3.4, 10.0.0.0/40").get() }
    }

    // MARK: IP rules

    @Test(arguments: [
        ([], [], "1.2.3.4", true), (["10.0.0.0/8"], [], "10.1.1.1", true), (["10.0.0.0/8"], [], "11.1.1.1", false),
        (["10.0.0.0/8"], ["10.1.2.0/24"], "10.1.2.3", false), (["10.0.0.0/8"], ["10.1.2.0/24"], "10.1.3.3", true),
        ([], ["10.1.2.0/24"], "10.1.2.3", false), ([], ["10.1.2.0/24"], "8.8.8.8", true),
        (["2001:db8::/32"], [], "2001:db8::1", true), (["2001:db8::/32"], [], "10.0.0.1", false),
        (["10.0.0.0/8"], [], "unknown", false), ([], [], "unknown", true),
    ] as [([String], [String], String, Bool)])
    func denyWinsAndAllowNamesTheOnlyClients(allow: [String], deny: [String], client: String, admitted: Bool) {
        var route = RouteDefinition(name: "r", action: .respond(StaticResponse(status: 200)))
        route.allowFrom = allow.compactMap { AddressRange($0) }
        route.denyFrom = deny.compactMap { AddressRange($0) }
        #expect(route.admits(client: client) == admitted)
    }
}
