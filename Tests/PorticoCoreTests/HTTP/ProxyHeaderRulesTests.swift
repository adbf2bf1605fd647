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
}
