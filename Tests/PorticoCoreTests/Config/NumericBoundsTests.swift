import PorticoCore
import Testing

/// Numbers out of range in any numeric field are refused as problems, never converted with a
/// trap (issue 14 #1): durations, counts and percentages, as numbers and as strings.
@Suite struct NumericBoundsTests {
    /// Values that used to end the process in a `Double` → `Int64` conversion, or that do
    /// not fit in the counts that are added up at run time.
    static let hugeDurations: [ConfigValue] = [
        .double(1e308), .double(9.223372036854775807e18), .double(1.8446744073709552e19), .double(1e30),
        .double(.infinity), .double(.nan), .integer(.max), .integer(9_223_372_036_854_775), "99999999999999999999s",
        "1e308s", "9223372036854775808m", "1e300s", "1e308", "inf", "nan", "-nan", "1e400ms", "9999999999999h",
    ]

    private func document(upstream: [(String, ConfigValue)] = [], route: [(String, ConfigValue)] = []) -> ConfigValue {
        var upstreamPairs: [(key: String, value: ConfigValue)] = [("name", "u"), ("endpoints", ["127.0.0.1:1"])]
        upstreamPairs += upstream.map { (key: $0.0, value: $0.1) }
        var routePairs: [(key: String, value: ConfigValue)] = [("name", "r"), ("upstream", "u")]
        routePairs += route.map { (key: $0.0, value: $0.1) }
        return ["upstreams": [.object(upstreamPairs)], "routes": [.object(routePairs)]]
    }

    private func problems(_ document: ConfigValue) -> [String] {
        do {
            _ = try RouteFileDecoder.decodeDocument(document, file: "f.yaml")
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test(arguments: hugeDurations)
    func aHugeDurationIsAProblemInEveryDurationField(value: ConfigValue) {
        let found = problems(
            document(
                upstream: [
                    ("connectTimeout", value), ("healthCheck", ["interval": value, "timeout": value]),
                    ("outlierDetection", ["baseEjectionTime": value]),
                ],
                route: [("timeout", value), ("retries", ["perTryTimeout": value])]))
        #expect(found.count == 6, "\(found)")
        for field in [
            "upstreams[0].connectTimeout", "upstreams[0].healthCheck.interval", "upstreams[0].healthCheck.timeout",
            "upstreams[0].outlierDetection.baseEjectionTime", "routes[0].timeout", "routes[0].retries.perTryTimeout",
        ] {
            #expect(found.contains { $0.hasPrefix("f.yaml: \(field): expected a duration") }, "\(field) in \(found)")
        }
    }

    @Test func theLongestDurationIsAYear() {
        #expect(DurationParser.parse("8760h") == .seconds(31_536_000))
        #expect(DurationParser.parse("31536000") == .seconds(31_536_000))
        #expect(DurationParser.parse("8761h") == nil)
        #expect(DurationParser.parse("-0") == .zero)
        #expect(problems(document(route: [("timeout", "-0")])).first?.contains("greater than zero") == true)
        #expect(problems(document(route: [("timeout", "8761h")])) == ["f.yaml: routes[0].timeout: expected a duration of at most 8760h (a year)"])
        #expect(problems(document(route: [("timeout", "8760h")])).isEmpty)
    }

    @Test(arguments: [ConfigValue.integer(.max), .integer(1_000_000_001), .double(1e308), .double(1.8446744073709552e19)])
    func aHugeCountIsAProblemInEveryCountField(value: ConfigValue) {
        let found = problems(
            document(upstream: [
                ("maxConnections", value), ("maxPendingRequests", value), ("maxRequestsPerConnection", value),
                ("healthCheck", ["healthyThreshold": value, "unhealthyThreshold": value]),
                ("outlierDetection", ["consecutiveFailures": value, "maxEjectionPercent": value]),
                ("retryBudget", ["percent": value, "minRetries": value]),
            ], route: [("retries", ["attempts": value, "on": [value]]), ("respond", ["status": value])]))
        for field in [
            "upstreams[0].maxConnections", "upstreams[0].maxPendingRequests", "upstreams[0].maxRequestsPerConnection",
            "upstreams[0].healthCheck.healthyThreshold", "upstreams[0].healthCheck.unhealthyThreshold",
            "upstreams[0].outlierDetection.consecutiveFailures", "upstreams[0].outlierDetection.maxEjectionPercent",
            "upstreams[0].retryBudget.percent", "upstreams[0].retryBudget.minRetries", "routes[0].retries.attempts",
            "routes[0].retries.on[0]",
        ] {
            #expect(found.contains { $0.hasPrefix("f.yaml: \(field): expected") }, "\(field) in \(found)")
        }
    }

    @Test func durationsConvertWithoutOverflow() {
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == .max)
        #expect(Duration.seconds(Int64.min).wholeMilliseconds == .min)
        #expect(Duration.seconds(2).wholeMilliseconds == 2000)
        #expect(RFC3339.format(secondsSince1970: .nan) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(secondsSince1970: 1e300) == "1970-01-01T00:00:00Z")
    }
}
