import Foundation
import PorticoTestSupport
import Testing

/// The built `portico` binary, started as a user would start it.
@Suite(.serialized) struct GatewayProcessTests {
    @Test func servesTheRoutesFolderAndProxies() async throws {
        let upstream = try await TestUpstream.start()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write(
            "routes/10-app.yaml",
            """
            upstreams:
              - name: app
                endpoints: ["127.0.0.1:\(upstream.port)"]
            routes:
              - name: app
                match: { path: { prefix: /app } }
                upstream: app
                rewrite: { prefix: / }
            """)
        try folder.write(
            "routes/00-hello.json",
            #"{"routes": [{"name": "hello", "match": {"path": {"exact": "/"}}, "respond": {"status": 200, "body": "hi"}}]}"#)
        let serving = try await ServingGateway.start(in: folder, environment: ["PORTICO_LOG_LEVEL": "info"])
        let gateway = serving.process
        let port = serving.port
        defer { Task { await gateway.stop() } }

        let client = LoopbackHTTPClient(port: port)
        let hello = try await client.send(.GET, "/")
        #expect(hello.status == 200)
        #expect(hello.body == "hi")
        let proxied = try await client.send(
            .GET, "/app/users?x=1",
            headers: [("host", "test.local"), ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
        #expect(proxied.status == 200)
        #expect(proxied.body.hasPrefix("GET /users?x=1\n"))
        // One access-log line per request, as JSON (standard error is not a terminal here).
        try await gateway.waitForLog(#""route":"app""#)
        let access = gateway.log.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: String]
        }.filter { $0["log"] == "access" }
        let proxiedLine = try #require(access.first { $0["route"] == "app" })
        for field in ["time", "request.id", "client", "method", "host", "path", "upstream", "status", "bytes_in", "bytes_out", "duration_ms"] {
            #expect(proxiedLine[field] != nil, "access log lacks \(field)")
        }
        #expect(proxiedLine["status"] == "200")
        // The trace the upstream was told about (SPEC §16): the client's trace, the gateway's span.
        #expect(proxiedLine["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736")
        let span = try #require(proxiedLine["spanId"])
        #expect(proxied.body.contains("traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-\(span)-01"))
        #expect(proxiedLine["path"] == "/app/users")
        // Requests the gateway answers itself get an id in the log too.
        let helloLine = try #require(access.first { $0["route"] == "hello" })
        #expect(helloLine["request.id"]?.isEmpty == false)

        gateway.signal(SIGTERM)
        #expect(try await gateway.waitForExit() == 0)
        await upstream.stop()
    }

    @Test func badRouteFilesExitNonZeroNamingFileAndField() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write(
            "routes/hrm.yaml",
            """
            routes:
              - name: ok
                respond: { status: 200 }
              - name: bad
                match: { path: { prefix: /a, exact: /b } }
                upstream: nowhere
            """)
        try folder.write("routes/broken.yml", "routes: [ { name: x\n")
        let gateway = try PorticoProcess.start(
            ["--http-addr", "127.0.0.1:\(try await freeLoopbackPort())", "--admin-addr", "127.0.0.1:0"], directory: folder.url)
        let status = try await gateway.waitForExit()
        #expect(status != 0)
        #expect(gateway.log.contains("routes/hrm.yaml: routes[1].match.path: exactly one of prefix, exact, regex"))
        #expect(gateway.log.contains("routes/broken.yml: syntax error"))
    }

    @Test func unknownUpstreamExitsNonZero() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/a.yaml", "routes: [{ name: r, upstream: nowhere }]\n")
        let gateway = try PorticoProcess.start(
            ["--http-addr", "127.0.0.1:\(try await freeLoopbackPort())", "--admin-addr", "127.0.0.1:0"], directory: folder.url)
        #expect(try await gateway.waitForExit() != 0)
        #expect(gateway.log.contains("routes/a.yaml: routes[0].upstream: unknown upstream \"nowhere\""))
    }

    @Test func badSettingsExitNonZeroNamingTheVariable() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/a.yaml", "")
        let gateway = try PorticoProcess.start(
            [], environment: ["PORTICO_HTTP_ADDR": "nonsense", "PORTICO_DRAIN_TIMEOUT_SEC": "soon"], directory: folder.url)
        #expect(try await gateway.waitForExit() != 0)
        #expect(gateway.log.contains("PORTICO_HTTP_ADDR: expected host:port, found \"nonsense\""))
        #expect(gateway.log.contains("PORTICO_DRAIN_TIMEOUT_SEC: expected a number of seconds, found \"soon\""))
    }

    @Test func portInUseExitsNonZero() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/a.yaml", "")
        let upstream = try await TestUpstream.start()  // holds a port
        let gateway = try PorticoProcess.start(
            ["--http-addr", "127.0.0.1:\(upstream.port)", "--admin-addr", "127.0.0.1:0"], directory: folder.url)
        #expect(try await gateway.waitForExit() != 0)
        #expect(gateway.log.contains("PORTICO_HTTP_ADDR 127.0.0.1:\(upstream.port): cannot listen"))
        let adminTaken = try PorticoProcess.start(
            ["--http-addr", "127.0.0.1:\(try await freeLoopbackPort())", "--admin-addr", "127.0.0.1:\(upstream.port)"],
            directory: folder.url)
        #expect(try await adminTaken.waitForExit() != 0)
        #expect(adminTaken.log.contains("PORTICO_ADMIN_ADDR 127.0.0.1:\(upstream.port): cannot listen"))
        await upstream.stop()
    }

    @Test func helpListsTheServeCommandAndItsFlags() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let help = try PorticoProcess.start(["--help"], directory: folder.url)
        #expect(try await help.waitForExit() == 0)
        #expect(help.log.contains("serve"))
        let serveHelp = try PorticoProcess.start(["serve", "--help"], directory: folder.url)
        #expect(try await serveHelp.waitForExit() == 0)
        for flag in ["--http-addr", "--https-addr", "--admin-addr", "--routes-dir", "--certs-dir", "--state-dir", "--state",
                     "--drain-timeout", "--port-start", "--port-end", "--port-reserved", "--admin-token", "--public-https-port", "--trusted-proxies", "--proxy-protocol", "--trace-sample"] {
            #expect(serveHelp.log.contains(flag), "missing \(flag)")
        }
    }
}

@Suite struct ValidateCommandTests {
    @Test func acceptsAGoodFolderAndListsEveryProblemOfABadOne() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("good/a.yaml", "routes: [{ name: a, respond: { status: 200 } }]\n")
        try folder.write("bad/a.yaml", "routes: [{ name: a, upstream: nowhere }]\n")
        try folder.write("bad/b.json", #"{"routes": [{"name": "b", "match": {"path": {"prefix": "x"}}, "respond": {}}]}"#)
        let good = try PorticoProcess.start(["validate", "good"], directory: folder.url)
        #expect(try await good.waitForExit() == 0)
        #expect(good.log.contains("good: valid (1 routes, 0 upstreams)"))
        let bad = try PorticoProcess.start(["validate", "bad"], directory: folder.url)
        #expect(try await bad.waitForExit() == 1)
        #expect(bad.log.contains("bad/b.json: routes[0].match.path.prefix: must start with /"))
        // The cross-file checks run once every file decodes, as at start-up.
        try folder.write("bad-upstream/a.yaml", "routes: [{ name: a, upstream: nowhere }]\n")
        let unknown = try PorticoProcess.start(["validate"], environment: ["PORTICO_ROUTES_DIR": "bad-upstream"], directory: folder.url)
        #expect(try await unknown.waitForExit() == 1)
        #expect(unknown.log.contains("bad-upstream/a.yaml: routes[0].upstream: unknown upstream \"nowhere\""))
        // SPEC §12's fields, each named.
        try folder.write(
            "bad-traffic/a.yaml",
            """
            upstreams: [{ name: v1, endpoints: ["127.0.0.1:1"] }]
            routes:
              - { name: a, backends: [{ upstream: v1, weight: 5 }, { upstream: v2, weight: 20000 }] }
              - { name: b, upstream: v1, requestHeaders: { set: { Content-Length: "1" } }, hsts: { maxAge: 60, preload: true } }
            """)
        let traffic = try PorticoProcess.start(["validate", "bad-traffic"], directory: folder.url)
        #expect(try await traffic.waitForExit() == 1)
        #expect(traffic.log.contains("bad-traffic/a.yaml: routes[0].backends[1].weight: expected a whole number from 0 to 10000"))
        #expect(traffic.log.contains("bad-traffic/a.yaml: routes[1].requestHeaders.set.Content-Length: Content-Length cannot be modified"))
        #expect(traffic.log.contains("bad-traffic/a.yaml: routes[1].hsts.preload: needs includeSubDomains"))
    }
}
