import PorticoCore
import Testing

@Suite struct RouteFileDecoderTests {
    @Test func decodesTheSpecExample() throws {
        let document: ConfigValue = [
            "upstreams": [
                [
                    "name": "hrm", "endpoints": ["127.0.0.1:5500", "127.0.0.1:5501"], "connectTimeout": "2s",
                    "healthCheck": ["path": "/health/ready", "interval": "5s"],
                ]
            ],
            "routes": [
                [
                    "name": "hrm-api", "hosts": ["api.veni.ai", "*.veni.ai"],
                    "match": ["path": ["prefix": "/hrm"], "methods": ["get", "POST"], "headers": ["x-canary": "1"]],
                    "upstream": "hrm", "rewrite": ["prefix": "/"], "timeout": "30s", "httpsRedirect": true,
                    "compression": false,
                    "cors": [
                        "allowOrigins": ["https://app.veni.ai", "https://*.veni.ai"], "allowMethods": ["GET"],
                        "allowHeaders": ["Authorization"], "exposeHeaders": ["X-Request-Id"], "allowCredentials": true,
                        "maxAge": 600,
                    ],
                ]
            ],
        ]
        let set = try RouteFileDecoder.decodeDocument(document, file: "routes/hrm.yaml")
        let upstream = try #require(set.upstreams.first?.definition)
        #expect(upstream.endpoints == [Endpoint(host: "127.0.0.1", port: 5500), Endpoint(host: "127.0.0.1", port: 5501)])
        #expect(upstream.connectTimeout == .seconds(2))
        #expect(upstream.healthCheck == HealthCheckDefinition(path: "/health/ready", interval: .seconds(5)))
        let route = try #require(set.routes.first?.definition)
        #expect(route.hosts == [.exact("api.veni.ai"), .wildcard(suffix: ".veni.ai")])
        #expect(route.match.path == .prefix("/hrm"))
        #expect(route.match.methods == ["GET", "POST"])
        #expect(route.match.headers == [HeaderCondition(name: "x-canary", value: "1")])
        #expect(route.action == .upstream("hrm"))
        #expect(route.rewritePrefix == "/")
        #expect(route.timeout == .seconds(30))
        #expect(route.httpsRedirect)
        #expect(!route.compression)
        #expect(route.cors?.allowCredentials == true)
        #expect(route.cors?.maxAge == 600)
        #expect(set.routes.first?.source == .file("routes/hrm.yaml"))
    }

    @Test func appliesDefaults() throws {
        let set = try RouteFileDecoder.decodeDocument(["routes": [["name": "r", "respond": ["body": "ok"]]]], file: "f.yaml")
        let route = try #require(set.routes.first?.definition)
        #expect(route.match.path == .prefix("/"))
        #expect(route.timeout == .seconds(60))
        #expect(route.compression)
        #expect(!route.httpsRedirect)
        #expect(route.action == .respond(StaticResponse(status: 200, body: "ok")))
    }

    @Test func reportsEveryProblemWithFileAndFieldPath() {
        let document: ConfigValue = [
            "upstreams": [["name": "u", "endpoints": ["nohost", "127.0.0.1:70000"], "connectTimeout": "fast"]],
            "routes": [
                ["name": "ok", "respond": ["status": 200]],
                ["name": "bad", "match": ["path": ["prefix": "/a", "exact": "/b"]], "upstream": "u"],
                ["name": "Bad Name!", "hosts": ["*", "ex ample.com"], "upstream": "u", "timeout": -1],
                ["match": ["path": ["regex": ""]], "respond": ["status": 99]],
                ["name": "both", "upstream": "u", "respond": ["status": 200], "extra": 1],
            ],
        ]
        let error = #expect(throws: ConfigurationError.self) {
            try RouteFileDecoder.decodeDocument(document, file: "routes/hrm.yaml")
        }
        let lines = Set(error?.problems.map(\.description) ?? [])
        let expected: [String] = [
            "routes/hrm.yaml: upstreams[0].endpoints[0]: expected host:port with a port from 1 to 65535, found \"nohost\"",
            "routes/hrm.yaml: upstreams[0].endpoints[1]: expected host:port with a port from 1 to 65535, found \"127.0.0.1:70000\"",
            "routes/hrm.yaml: upstreams[0].connectTimeout: expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero",
            "routes/hrm.yaml: routes[1].match.path: exactly one of prefix, exact, regex",
            "routes/hrm.yaml: routes[2].name: \"Bad Name!\" must be 1 to 63 characters of a-z, 0-9, '-', '_' or '.'",
            "routes/hrm.yaml: routes[2].hosts[0]: invalid host \"*\": expected a DNS name or \"*.\" followed by one",
            "routes/hrm.yaml: routes[2].hosts[1]: invalid host \"ex ample.com\": expected a DNS name or \"*.\" followed by one",
            "routes/hrm.yaml: routes[2].timeout: expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero",
            "routes/hrm.yaml: routes[3].name: required",
            "routes/hrm.yaml: routes[3].match.path.regex: must not be empty",
            "routes/hrm.yaml: routes[3].respond.status: expected a status code from 200 to 599",
            "routes/hrm.yaml: routes[4].extra: unknown field (expected one of allowFrom, auth, backends, compression, cors, denyFrom, hosts, hsts, httpsRedirect, match, name, rateLimit, redirect, requestHeaders, respond, responseHeaders, retries, rewrite, tenant, timeout, upstream)",
            "routes/hrm.yaml: routes[4]: exactly one of upstream, backends, respond, redirect",
        ]
        for line in expected {
            #expect(lines.contains(line), "missing: \(line)")
        }
        #expect(lines.count == expected.count, "\(lines.sorted())")
    }

    @Test func refusesBadLimitsAndRetryPoliciesNamingTheField() {
        let document: ConfigValue = [
            "upstreams": [
                ["name": "u", "endpoints": ["127.0.0.1:1"], "maxConnections": 0, "maxPendingRequests": -1,
                 "outlierDetection": ["consecutiveFailures": 0, "baseEjectionTime": "soon", "maxEjectionPercent": 101],
                 "retryBudget": ["percent": "many"]],
            ],
            "routes": [
                ["name": "r", "upstream": "u", "retries": ["attempts": 11, "on": ["503", "teapot", 404, true], "perTryTimeout": 0]],
            ],
        ]
        let error = #expect(throws: ConfigurationError.self) { try RouteFileDecoder.decodeDocument(document, file: "f.yaml") }
        let conditions = "connect-failure, refused-stream, reset, per-try-timeout, 5xx, gateway-error or a status from 500 to 599"
        #expect(Set(error?.problems.map(\.description) ?? []) == [
            "f.yaml: upstreams[0].maxConnections: expected a whole number of at least 1",
            "f.yaml: upstreams[0].maxPendingRequests: expected a whole number of at least 0",
            "f.yaml: upstreams[0].outlierDetection.consecutiveFailures: expected a whole number of at least 1",
            "f.yaml: upstreams[0].outlierDetection.baseEjectionTime: expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero",
            "f.yaml: upstreams[0].outlierDetection.maxEjectionPercent: expected a whole number from 0 to 100",
            "f.yaml: upstreams[0].retryBudget.percent: expected a whole number from 0 to 100",
            "f.yaml: routes[0].retries.attempts: expected a whole number from 0 to 10",
            "f.yaml: routes[0].retries.on[1]: expected \(conditions), found \"teapot\"",
            "f.yaml: routes[0].retries.on[2]: expected \(conditions), found \"404\"",
            "f.yaml: routes[0].retries.on[3]: expected \(conditions), found a boolean",
            "f.yaml: routes[0].retries.perTryTimeout: expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero",
        ])
    }

    @Test func refusesWrongTypes() {
        let error = #expect(throws: ConfigurationError.self) {
            try RouteFileDecoder.decodeDocument(["routes": ["name": "x"]], file: "f.yaml")
        }
        #expect(error?.problems.map(\.description) == ["f.yaml: routes: expected a list, found a mapping"])
    }

    @Test func rewriteNeedsAPrefixOrExactMatch() {
        let error = #expect(throws: ConfigurationError.self) {
            try RouteFileDecoder.decodeDocument(
                ["routes": [["name": "r", "match": ["path": ["regex": "/a.*"]], "rewrite": ["prefix": "/"], "respond": [:]]]],
                file: "f.yaml")
        }
        #expect(error?.problems.map(\.description) == ["f.yaml: routes[0].rewrite.prefix: needs a prefix or exact path match, not regex"])
    }

    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("10s", .seconds(10)), ("2m", .seconds(120)), ("1h", .seconds(3600)),
        ("1.5s", .milliseconds(1500)), ("7", .seconds(7)), ("0.25", .milliseconds(250)),
    ])
    func parsesDurations(text: String, expected: Duration) {
        #expect(DurationParser.parse(text) == expected)
    }

    @Test(arguments: ["", "s", "ten seconds", "-1s", "5d", "1ms5"])
    func refusesBadDurations(text: String) {
        #expect(DurationParser.parse(text) == nil)
    }
}

@Suite struct DefinitionRoundTripTests {
    @Test func definitionsReadBackEqual() throws {
        let document: ConfigValue = [
            "upstreams": [
                ["name": "hrm", "endpoints": ["127.0.0.1:5500", "[::1]:5501"], "connectTimeout": "1500ms",
                 "healthCheck": ["path": "/h", "interval": "5s"]],
                ["name": "checked", "endpoints": ["127.0.0.1:5503"],
                 "healthCheck": ["path": "/h", "interval": "1s", "timeout": "500ms", "healthyThreshold": 1, "unhealthyThreshold": 5]],
                ["name": "limited", "endpoints": ["127.0.0.1:5502"], "maxConnections": 10, "maxPendingRequests": 0,
                 "outlierDetection": ["consecutiveFailures": 3, "baseEjectionTime": "10s", "maxEjectionPercent": 100],
                 "retryBudget": ["percent": 50, "minRetries": 1]],
            ],
            "routes": [
                ["name": "a", "hosts": ["api.veni.ai", "*.veni.ai"],
                 "match": ["path": ["prefix": "/hrm/"], "methods": ["GET"], "headers": ["x-canary": "1"]],
                 "upstream": "hrm", "rewrite": ["prefix": "/"], "timeout": "30s", "httpsRedirect": true,
                 "cors": ["allowOrigins": ["*"], "allowCredentials": false, "maxAge": 5]],
                ["name": "b", "match": ["path": ["regex": "/x/[0-9]+"]], "respond": ["status": 204, "body": ""]],
                ["name": "c", "upstream": "limited",
                 "retries": ["attempts": 2, "on": ["connect-failure", "refused-stream", 503, "5xx"], "perTryTimeout": "2s"]],
            ],
        ]
        let set = try RouteFileDecoder.decodeDocument(document, file: nil)
        let checked = try #require(set.upstreams.first { $0.definition.name == "checked" }?.definition)
        #expect(checked.healthCheck == HealthCheckDefinition(
            path: "/h", interval: .seconds(1), timeout: .milliseconds(500), healthyThreshold: 1, unhealthyThreshold: 5))
        let limited = try #require(set.upstreams.first { $0.definition.name == "limited" }?.definition)
        #expect(limited.maxConnections == 10)
        #expect(limited.maxPendingRequests == 0)
        #expect(limited.outlierDetection == OutlierDetectionDefinition(consecutiveFailures: 3, baseEjectionTime: .seconds(10), maxEjectionPercent: 100))
        #expect(limited.retryBudget == RetryBudgetDefinition(percent: 50, minRetries: 1))
        let retries = try #require(set.routes.first { $0.definition.name == "c" }?.definition.retries)
        #expect(retries == RetryPolicyDefinition(attempts: 2, on: [.connectFailure, .refusedStream, .status(503), .anyServerError], perTryTimeout: .seconds(2)))
        for (upstream, _) in set.upstreams {
            #expect(try RouteFileDecoder.decodeUpstream(upstream.configValue) == upstream)
        }
        for (route, _) in set.routes {
            #expect(try RouteFileDecoder.decodeRoute(route.configValue) == route)
        }
    }
}
