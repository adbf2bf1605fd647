import PorticoCore
import Testing

@Suite struct ServerNameIndexTests {
    private let index = ServerNameIndex<String>([
        .init(name: "wildcard", dnsNames: ["*.veni.ai"], value: "wildcard"),
        .init(name: "api", dnsNames: ["api.veni.ai", "API2.veni.ai"], value: "api"),
        .init(name: "other", dnsNames: ["other.test"], value: "other"),
    ])

    @Test(arguments: [
        ("api.veni.ai", "api"),  // exact beats the wildcard
        ("API.VENI.AI.", "api"),  // case and a trailing dot do not matter
        ("api2.veni.ai", "api"),
        ("a.veni.ai", "wildcard"),  // one label
        ("a.b.veni.ai", "api"),  // two labels: no wildcard, the fallback (first by name)
        ("veni.ai", "api"),  // the bare domain is not covered by the wildcard
        ("other.test", "other"),
        ("unknown.example", "api"),
    ])
    func selectsByServerName(serverName: String, expected: String) {
        #expect(index.select(serverName: serverName) == expected)
    }

    @Test func aClientWithoutServerNameGetsTheFallback() {
        #expect(index.select(serverName: nil) == "api")
    }

    @Test func theCertificateNamedDefaultIsTheFallback() {
        let withDefault = ServerNameIndex<String>([
            .init(name: "api", dnsNames: ["api.veni.ai"], value: "api"),
            .init(name: "default", dnsNames: ["localhost"], value: "default"),
        ])
        #expect(withDefault.select(serverName: "nothing.test") == "default")
        #expect(withDefault.select(serverName: "api.veni.ai") == "api")
    }

    @Test func anEmptyIndexSelectsNothing() {
        #expect(ServerNameIndex<String>([]).select(serverName: "a.test") == nil)
    }
}
