import PorticoCore
import Testing

@Suite struct RequestTargetTests {
    @Test(arguments: [
        ("/public/../admin", "/admin"),
        ("/a/./b/../c", "/a/c"),
        ("/a//b///c", "/a/b/c"),
        ("/%2e%2e/admin", "/admin"),
        ("/a/%2E/b", "/a/b"),
        ("/%41%62c", "/Abc"),
        ("/a%2Fb", "/a%2Fb"),
        ("/a%2fb", "/a%2Fb"),
        ("/../../etc", "/etc"),
        ("/a/b/..", "/a/"),
        ("/", "/"),
        ("/foo/", "/foo/"),
        ("/.well-known/x", "/.well-known/x"),
        ("/a%20b", "/a%20b"),
    ])
    func normalizesPaths(raw: String, expected: String) throws {
        let target = try RequestTarget.parse(raw, method: "GET").get()
        #expect(target.path == expected)
    }

    /// A path already normal is returned as it is, without the byte-by-byte pass; `%61` in
    /// place of `a` forces that pass. Every path of up to six bytes from an alphabet that makes
    /// empty, dot and dot-dot segments and bad escapes must come out the same both ways.
    @Test func aNormalPathTakesTheShortWayToTheSameResult() {
        let alphabet: [Character] = ["/", ".", "a", "~", "%"]
        var tails = [""]
        var all = tails
        for _ in 1...6 {
            tails = tails.flatMap { tail in alphabet.map { tail + String($0) } }
            all += tails
        }
        for tail in all {
            let normal = RequestTarget.normalizePath(Substring("/a" + tail))
            #expect(normal == RequestTarget.normalizePath(Substring("/%61" + tail)), "\(tail)")
        }
        #expect(RequestTarget.normalizePath("/small/x") == "/small/x")
        #expect(RequestTarget.normalizePath("small") == "/small")
        #expect(RequestTarget.normalizePath("/a b") == nil)
    }

    @Test func keepsTheOriginalQuery() throws {
        let target = try RequestTarget.parse("/a/../b?x=/../&y=%2e", method: "GET").get()
        #expect(target.path == "/b")
        #expect(target.query == "?x=/../&y=%2e")
    }

    @Test func acceptsAbsoluteFormWithItsAuthority() throws {
        let target = try RequestTarget.parse("http://API.veni.ai:8080/x/../y?q", method: "GET").get()
        #expect(target.authority == "API.veni.ai:8080")
        #expect(target.path == "/y")
        #expect(target.query == "?q")
        #expect(try RequestTarget.parse("http://h", method: "GET").get().path == "/")
    }

    @Test(arguments: ["api", "*", "ftp://x/y", "//x", "http:///x", "/a%zz", "/a%4", "/a#frag"])
    func refusesOtherForms(raw: String) {
        if raw == "//x" {
            // "//x" is origin-form with an empty first segment: normalized, not refused.
            #expect((try? RequestTarget.parse(raw, method: "GET").get())?.path == "/x")
            return
        }
        #expect(throws: RequestTarget.Failure.self) { try RequestTarget.parse(raw, method: "GET").get() }
    }

    @Test func asteriskOnlyForOptions() throws {
        #expect(try RequestTarget.parse("*", method: "OPTIONS").get().path == "*")
    }

    @Test(arguments: [
        ("API.Veni.AI", "api.veni.ai"), ("api.veni.ai:8080", "api.veni.ai"), ("api.veni.ai.", "api.veni.ai"),
        ("api.veni.ai.:443", "api.veni.ai"), ("[::1]:8080", "[::1]"), ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]", "[::1]"), ("host:", "host"), ("Ex-Ample.COM.:8443", "ex-ample.com"),
    ])
    func normalizesHosts(raw: String, expected: String) {
        #expect(RequestHost.normalize(Substring(raw)) == expected)
    }

    @Test(arguments: [
        "", "a:b", "user@host", "a b", ":80", ".", "[::1", "[::1]x", "[::1]:8a", "a/b", "h\u{00E9}", "a:\u{0663}", "a\tb",
    ])
    func refusesBadHosts(raw: String) {
        #expect(RequestHost.normalize(Substring(raw)) == nil)
    }
}
