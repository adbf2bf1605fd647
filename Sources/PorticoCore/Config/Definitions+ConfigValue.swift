/// Definitions written back as documents: what `GET /v1/config` shows and the state store
/// keeps. ``RouteFileDecoder`` reads each of them back to an equal definition.
extension UpstreamDefinition {
    public var configValue: ConfigValue {
        var pairs: [(key: String, value: ConfigValue)] = [
            ("name", .string(name)),
            ("endpoints", .array(endpoints.map { .string($0.description) })),
            ("connectTimeout", .string(connectTimeout.configString)),
        ]
        if let tenant { pairs.append(("tenant", .string(tenant))) }
        if let healthCheck {
            var checkPairs: [(key: String, value: ConfigValue)] = [
                ("path", .string(healthCheck.path)), ("interval", .string(healthCheck.interval.configString)),
            ]
            if healthCheck.timeout != HealthCheckDefinition.defaultTimeout {
                checkPairs.append(("timeout", .string(healthCheck.timeout.configString)))
            }
            if healthCheck.healthyThreshold != EndpointHealth.defaultHealthyThreshold {
                checkPairs.append(("healthyThreshold", .integer(healthCheck.healthyThreshold)))
            }
            if healthCheck.unhealthyThreshold != EndpointHealth.defaultUnhealthyThreshold {
                checkPairs.append(("unhealthyThreshold", .integer(healthCheck.unhealthyThreshold)))
            }
            pairs.append(("healthCheck", .object(checkPairs)))
        }
        if loadBalancing != .roundRobin {
            pairs.append(("loadBalancing", .string(loadBalancing.rawValue)))
        }
        if let maxRequestsPerConnection {
            pairs.append(("maxRequestsPerConnection", .integer(maxRequestsPerConnection)))
        }
        if let maxConnections {
            pairs.append(("maxConnections", .integer(maxConnections)))
        }
        if let maxPendingRequests {
            pairs.append(("maxPendingRequests", .integer(maxPendingRequests)))
        }
        if let outlierDetection {
            pairs.append(
                ("outlierDetection", [
                    "consecutiveFailures": .integer(outlierDetection.consecutiveFailures),
                    "baseEjectionTime": .string(outlierDetection.baseEjectionTime.configString),
                    "maxEjectionPercent": .integer(outlierDetection.maxEjectionPercent),
                ]))
        }
        if retryBudget != RetryBudgetDefinition() {
            pairs.append(("retryBudget", ["percent": .integer(retryBudget.percent), "minRetries": .integer(retryBudget.minRetries)]))
        }
        return .object(pairs)
    }
}

extension RouteDefinition {
    public var configValue: ConfigValue {
        var pairs: [(key: String, value: ConfigValue)] = [("name", .string(name))]
        if let tenant { pairs.append(("tenant", .string(tenant))) }
        if !hosts.isEmpty {
            pairs.append(("hosts", .array(hosts.map { .string($0.description) })))
        }
        var matchPairs: [(key: String, value: ConfigValue)] = []
        switch match.path {
        case .prefix(let prefix): matchPairs.append(("path", ["prefix": .string(prefix)]))
        case .exact(let exact): matchPairs.append(("path", ["exact": .string(exact)]))
        case .regex(let regex): matchPairs.append(("path", ["regex": .string(regex)]))
        }
        if let methods = match.methods {
            matchPairs.append(("methods", .array(methods.map { .string($0) })))
        }
        if !match.headers.isEmpty {
            matchPairs.append(("headers", .object(match.headers.map { (key: $0.name, value: .string($0.value)) })))
        }
        if !match.cookies.isEmpty {
            matchPairs.append(("cookies", .object(match.cookies.map { (key: $0.name, value: .string($0.value)) })))
        }
        if !match.query.isEmpty {
            matchPairs.append(("query", .object(match.query.map { (key: $0.name, value: .string($0.value)) })))
        }
        pairs.append(("match", .object(matchPairs)))
        switch action {
        case .upstream(let upstream): pairs.append(("upstream", .string(upstream)))
        case .backends(let backends):
            pairs.append(
                ("backends", .array(backends.map { ["upstream": .string($0.upstream), "weight": .integer($0.weight)] })))
        case .respond(let response):
            pairs.append(("respond", ["status": .integer(response.status), "body": .string(response.body)]))
        case .redirect(let redirect):
            var redirectPairs: [(key: String, value: ConfigValue)] = []
            if let scheme = redirect.scheme { redirectPairs.append(("scheme", .string(scheme))) }
            if let host = redirect.host { redirectPairs.append(("host", .string(host))) }
            if let port = redirect.port { redirectPairs.append(("port", .integer(port))) }
            switch redirect.path {
            case .prefix(let prefix)?: redirectPairs.append(("path", ["prefix": .string(prefix)]))
            case .full(let full)?: redirectPairs.append(("path", ["full": .string(full)]))
            case nil: break
            }
            redirectPairs.append(("status", .integer(redirect.status)))
            pairs.append(("redirect", .object(redirectPairs)))
        }
        var rewritePairs: [(key: String, value: ConfigValue)] = []
        if let rewritePrefix { rewritePairs.append(("prefix", .string(rewritePrefix))) }
        if let rewritePath { rewritePairs.append(("path", .string(rewritePath))) }
        if let rewriteHost { rewritePairs.append(("host", .string(rewriteHost))) }
        if !rewritePairs.isEmpty { pairs.append(("rewrite", .object(rewritePairs))) }
        if !requestHeaders.isEmpty { pairs.append(("requestHeaders", requestHeaders.configValue)) }
        if !responseHeaders.isEmpty { pairs.append(("responseHeaders", responseHeaders.configValue)) }
        if !allowFrom.isEmpty { pairs.append(("allowFrom", .array(allowFrom.map { .string($0.description) }))) }
        if !denyFrom.isEmpty { pairs.append(("denyFrom", .array(denyFrom.map { .string($0.description) }))) }
        if let rateLimit {
            pairs.append(
                ("rateLimit", [
                    "requests": .integer(rateLimit.requests), "per": .string(rateLimit.per.configString),
                    "burst": .integer(rateLimit.burst), "key": .string(rateLimit.keyDescription),
                ]))
        }
        if let auth { pairs.append(("auth", auth.configValue)) }
        if let hsts {
            pairs.append(
                ("hsts", [
                    "maxAge": .integer(hsts.maxAge), "includeSubDomains": .bool(hsts.includeSubDomains),
                    "preload": .bool(hsts.preload),
                ]))
        }
        pairs.append(("timeout", .string(timeout.configString)))
        pairs.append(("httpsRedirect", .bool(httpsRedirect)))
        pairs.append(("compression", .bool(compression)))
        if let cors {
            var corsPairs: [(key: String, value: ConfigValue)] = [
                ("allowOrigins", .array(cors.allowOrigins.map { .string($0) })),
                ("allowMethods", .array(cors.allowMethods.map { .string($0) })),
                ("allowHeaders", .array(cors.allowHeaders.map { .string($0) })),
                ("exposeHeaders", .array(cors.exposeHeaders.map { .string($0) })),
                ("allowCredentials", .bool(cors.allowCredentials)),
            ]
            if let maxAge = cors.maxAge { corsPairs.append(("maxAge", .integer(maxAge))) }
            pairs.append(("cors", .object(corsPairs)))
        }
        if let retries {
            var retryPairs: [(key: String, value: ConfigValue)] = []
            if let attempts = retries.attempts { retryPairs.append(("attempts", .integer(attempts))) }
            retryPairs.append(
                ("on", .array(retries.on.map { condition in
                    if case .status(let code) = condition { return .integer(code) }
                    return .string(condition.description)
                })))
            if let perTryTimeout = retries.perTryTimeout {
                retryPairs.append(("perTryTimeout", .string(perTryTimeout.configString)))
            }
            pairs.append(("retries", .object(retryPairs)))
        }
        return .object(pairs)
    }
}

extension HeaderModifiers {
    var configValue: ConfigValue {
        var pairs: [(key: String, value: ConfigValue)] = []
        if !set.isEmpty { pairs.append(("set", .object(set.map { (key: $0.name, value: .string($0.value)) }))) }
        if !add.isEmpty { pairs.append(("add", .object(add.map { (key: $0.name, value: .string($0.value)) }))) }
        if !remove.isEmpty { pairs.append(("remove", .array(remove.map { .string($0) }))) }
        return .object(pairs)
    }
}

extension AuthDefinition {
    /// The stored form, as `auth` is written in a route file.
    var configValue: ConfigValue {
        var pairs: [(key: String, value: ConfigValue)] = []
        if let jwt {
            var jwtPairs: [(key: String, value: ConfigValue)] = []
            if let issuer = jwt.issuer { jwtPairs.append(("issuer", .string(issuer))) }
            if !jwt.audiences.isEmpty { jwtPairs.append(("audiences", .array(jwt.audiences.map { .string($0) }))) }
            switch jwt.keys {
            case .file(let path): jwtPairs.append(("jwksFile", .string(path)))
            case .url(let url): jwtPairs.append(("jwksUrl", .string(url)))
            }
            if !jwt.claimsToHeaders.isEmpty {
                jwtPairs.append(("claimsToHeaders", .object(jwt.claimsToHeaders.map { ($0.claim, .string($0.header)) })))
            }
            pairs.append(("jwt", .object(jwtPairs)))
        }
        if let forward {
            pairs.append(
                ("forward", [
                    "url": .string(forward.url), "timeout": .string(forward.timeout.configString),
                    "requestHeaders": .array(forward.requestHeaders.map { .string($0) }),
                    "responseHeaders": .array(forward.responseHeaders.map { .string($0) }),
                ]))
        }
        return .object(pairs)
    }
}
