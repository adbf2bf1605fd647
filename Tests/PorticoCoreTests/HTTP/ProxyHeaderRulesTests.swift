import PorticoCore
import Testing

@Suite struct ProxyHeaderRulesTests {
    @Test(arguments: [
        ("name ", "name", true), (" name", "name", true), ("\t a b \t", "a b", true), ("a b", "a b", false),
        ("", "", false), ("   ", "", true), ("日本 ", "日本", true), (" \u{00E9}", "\u{00E9}", true),
    ])
    func surroundingSpacesAndTabsAreNotPartOfAValue(value: String, trimmed: String, hasWhitespace: Bool) {
        #expect(ProxyHeaderRules.hasSurroundingWhitespace(value) == hasWhitespace)
        #expect(ProxyHeaderRules.trimmed(value) == trimmed)
    }

    @Test(arguments: [
        ("Connection", 0), ("KEEP-ALIVE", 1), ("transfer-encoding", 5), ("Proxy-Authorization", 8),
        ("connections", nil), ("x-connection", nil), ("t", nil), ("", nil), ("Content-Length", nil),
    ] as [(String, Int?)])
    func hopByHopNamesAreFoundInAnyCase(name: String, index: Int?) {
        #expect(ProxyHeaderRules.hopByHopIndex(name.utf8) == index)
        #expect(ProxyHeaderRules.isHopByHop(name) == (index != nil))
    }

    @Test(arguments: [
        ("keep-alive", true), ("Keep-Alive", true), (" keep-alive , Upgrade ", true), ("", true), (",", true),
        ("close", true), ("Close, keep-alive", true), ("closed", false), ("clos", false),
        ("keep-alive, X-Secret", false), ("x-foo", false),
        ("keep-alive,,upgrade", true), (" , \t,", true), ("te,", true), ("x-foo,", false), (",x-foo", false),
        ("upgrade, keep-alive,x", false), ("keep alive", false),
    ])
    func aConnectionValueMayNameOnlyHopByHopHeaders(value: String, onlyHopByHop: Bool) {
        #expect(ProxyHeaderRules.namesOnlyHopByHop(connection: value) == onlyHopByHop)
    }
}
