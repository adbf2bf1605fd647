import Foundation
import PorticoTestSupport
import Testing

/// The path of a headless Chromium, if this machine has one.
private let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

extension HeavyIntegrationTests {
    /// CORS as a real browser enforces it: a page on one origin fetches routes of the gateway on
    /// another. `.ci/run` installs Chromium; where it is absent (a developer's machine) the test
    /// says so and is skipped, and in CI (CI=true) its absence fails the run.
    @Suite struct BrowserCORSTests {
        @Test(.enabled(if: chromium != nil || ProcessInfo.processInfo.environment["CI"] != nil, "Chromium is not installed; .ci/run installs it"))
        func aBrowserSeesAllowedAndRefusedOrigins() async throws {
            let browser = try #require(chromium, "CI must have Chromium: .ci/run installs Debian's chromium")
            let pages = try await TestUpstream.start()  // the page's origin
            let api = try await TestUpstream.start()
            let pageOrigin = "http://127.0.0.1:\(pages.port)"
            let gateway = try await ServingGateway.start(
                routes: """
                    upstreams: [{ name: api, endpoints: ["127.0.0.1:\(api.port)"] }]
                    routes:
                      - name: allowed
                        match: { path: { prefix: /allowed } }
                        upstream: api
                        cors: { allowOrigins: ["\(pageOrigin)"], allowMethods: [GET, PUT], allowHeaders: [Content-Type], allowCredentials: true }
                      - name: refused
                        match: { path: { prefix: /refused } }
                        upstream: api
                        cors: { allowOrigins: ["https://other.example"], allowMethods: [GET] }
                    """)
            let dom = try await ChildProcess.run(
                browser,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                    "--user-data-dir=\(gateway.folder.url.appendingPathComponent("chromium").path)",
                    "--virtual-time-budget=10000", "--dump-dom",
                    "\(pageOrigin)/cors-page.html?target=http://localhost:\(gateway.port)",
                ], includeErrors: false, timeout: .seconds(60)
            ).output

            // The script's own text holds the markers too: the result is the <pre> it added.
            let start = try #require(dom.range(of: #"id="result">RESULT"#), "no result in the page: \(dom.prefix(600))")
            let end = try #require(dom.range(of: "END", range: start.upperBound..<dom.endIndex))
            let result = try JSONSerialization.jsonObject(with: Data(dom[start.upperBound..<end.lowerBound].utf8)) as? [String: String]
            #expect(result?["preflighted"] == "200")  // a PUT with JSON: preflight, then the request
            #expect(result?["credentials"] == "200")
            #expect(result?["refused"] == "cors-error")
            // The preflight was answered by the gateway: the upstream saw the PUT and the GETs only.
            #expect(api.requestsReceived == 3)
            await gateway.stop()
            await pages.stop()
            await api.stop()
        }
    }
}
