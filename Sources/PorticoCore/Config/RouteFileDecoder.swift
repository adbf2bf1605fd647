/// Decodes route documents (SPEC §3) from a ``ConfigValue`` tree, strictly: unknown fields,
/// wrong types and invalid values are all reported, each with its field path, and nothing
/// is returned unless the whole document is valid.
public struct RouteFileDecoder {
    /// Names of routes and upstreams: what the API accepts in a URL path segment.
    static let maxNameLength = 63

    private(set) var problems: [ConfigProblem] = []
    private let file: String?

    private init(file: String?) {
        self.file = file
    }

    /// Decodes a whole document with optional `upstreams` and `routes` lists.
    public static func decodeDocument(_ value: ConfigValue, file: String?) throws(ConfigurationError) -> RouteSet {
        var known = DecodedDefinitions()
        return try decodeDocument(value, file: file, reusing: &known)
    }

    /// Decodes a whole document as ``decodeDocument(_:file:)`` does, taking each route and
    /// upstream whose document is in `known` from there instead of decoding it again (what
    /// makes a `PUT /v1/config` of a large table cost what changed). On success `known`
    /// becomes this document's definitions; on failure it is left as it was.
    public static func decodeDocument(_ value: ConfigValue, file: String?, reusing known: inout DecodedDefinitions)
        throws(ConfigurationError) -> RouteSet
    {
        var decoder = RouteFileDecoder(file: file)
        var decoded = DecodedDefinitions()
        let source: DefinitionSource = file.map { .file($0) } ?? .api
        var set = RouteSet()
        if case .null = value { return set }  // an empty file is a valid, empty document
        guard let fields = decoder.object(value, at: "", allowed: ["upstreams", "routes"]) else {
            throw ConfigurationError(problems: decoder.problems, decoded: .unreadable)
        }
        if let list = fields["upstreams"] {
            if let items = decoder.array(list, at: "upstreams") {
                decoded.reserveCapacity(upstreams: items.count)
                for (index, item) in items.enumerated() {
                    if let upstream = decoded.keepUpstream(decodedFrom: item, in: known)
                        ?? decoder.upstream(item, at: "upstreams[\(index)]").map({ decoded.add($0, decodedFrom: item) })
                    {
                        set.upstreams.append((upstream, source))
                    } else {
                        set.omissions.upstreams.insert(.init(source: source, index: index))
                        set.omissions.upstreamsMayBeMissing = true
                    }
                }
            } else {
                set.omissions.upstreamsMayBeMissing = true
            }
        }
        if let list = fields["routes"], let items = decoder.array(list, at: "routes") {
            decoded.reserveCapacity(routes: items.count)
            set.routes.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                if let route = decoded.keepRoute(decodedFrom: item, in: known)
                    ?? decoder.route(item, at: "routes[\(index)]").map({ decoded.add($0, decodedFrom: item) })
                {
                    set.routes.append((route, source))
                } else {
                    set.omissions.routes.insert(.init(source: source, index: index))
                }
            }
        }
        guard decoder.problems.isEmpty else { throw ConfigurationError(problems: decoder.problems, decoded: set) }
        known = decoded
        return set
    }

    /// Decodes one route (an API body), with paths relative to it.
    public static func decodeRoute(_ value: ConfigValue) throws(ConfigurationError) -> RouteDefinition {
        var decoder = RouteFileDecoder(file: nil)
        guard let route = decoder.route(value, at: ""), decoder.problems.isEmpty else {
            throw ConfigurationError(problems: decoder.problems)
        }
        return route
    }

    /// Decodes one upstream (an API body), with paths relative to it.
    public static func decodeUpstream(_ value: ConfigValue) throws(ConfigurationError) -> UpstreamDefinition {
        var decoder = RouteFileDecoder(file: nil)
        guard let upstream = decoder.upstream(value, at: ""), decoder.problems.isEmpty else {
            throw ConfigurationError(problems: decoder.problems)
        }
        return upstream
    }

    // MARK: - Definitions

    mutating func upstream(_ value: ConfigValue, at path: String) -> UpstreamDefinition? {
        guard
            let fields = object(
                value, at: path,
                allowed: [
                    "name", "endpoints", "connectTimeout", "healthCheck", "loadBalancing", "maxRequestsPerConnection",
                    "maxConnections", "maxPendingRequests", "outlierDetection", "retryBudget", "tenant",
                ])
        else { return nil }
        let problemCount = problems.count
        let name = requiredName(fields, at: path)
        var endpoints: [Endpoint] = []
        if let list = fields["endpoints"] {
            if let items = array(list, at: join(path, "endpoints")) {
                for (index, item) in items.enumerated() {
                    let itemPath = join(path, "endpoints[\(index)]")
                    guard let text = string(item, at: itemPath) else { continue }
                    if let endpoint = Endpoint(parsing: text) {
                        endpoints.append(endpoint)
                    } else {
                        report(itemPath, "expected host:port with a port from 1 to 65535, found \"\(text)\"")
                    }
                }
            }
        } else {
            report(join(path, "endpoints"), "required")
        }
        var connectTimeout = UpstreamDefinition.defaultConnectTimeout
        if let value = fields["connectTimeout"], let duration = positiveDuration(value, at: join(path, "connectTimeout")) {
            connectTimeout = duration
        }
        var healthCheck: HealthCheckDefinition?
        if let value = fields["healthCheck"] {
            let checkPath = join(path, "healthCheck")
            if let check = object(
                value, at: checkPath, allowed: ["path", "interval", "timeout", "healthyThreshold", "unhealthyThreshold"])
            {
                var checkPathValue = "/"
                if let pathValue = check["path"], let text = string(pathValue, at: join(checkPath, "path")) {
                    if text.hasPrefix("/") {
                        checkPathValue = text
                    } else {
                        report(join(checkPath, "path"), "must start with /")
                    }
                }
                var interval: Duration = .seconds(5)
                if let value = check["interval"], let duration = positiveDuration(value, at: join(checkPath, "interval")) {
                    interval = duration
                }
                var definition = HealthCheckDefinition(path: checkPathValue, interval: interval)
                if let value = check["timeout"], let duration = positiveDuration(value, at: join(checkPath, "timeout")) {
                    definition.timeout = duration
                }
                if let value = check["healthyThreshold"],
                    let count = wholeNumber(value, at: join(checkPath, "healthyThreshold"), in: 1...)
                {
                    definition.healthyThreshold = count
                }
                if let value = check["unhealthyThreshold"],
                    let count = wholeNumber(value, at: join(checkPath, "unhealthyThreshold"), in: 1...)
                {
                    definition.unhealthyThreshold = count
                }
                healthCheck = definition
            }
        }
        var loadBalancing = LoadBalancingPolicy.roundRobin
        if let value = fields["loadBalancing"], let text = string(value, at: join(path, "loadBalancing")) {
            if let policy = LoadBalancingPolicy(rawValue: text) {
                loadBalancing = policy
            } else {
                report(join(path, "loadBalancing"), "expected round_robin, least_request or random, found \"\(text)\"")
            }
        }
        let maxRequestsPerConnection = fields["maxRequestsPerConnection"].flatMap {
            wholeNumber($0, at: join(path, "maxRequestsPerConnection"), in: 1...)
        }
        let maxConnections = fields["maxConnections"].flatMap { wholeNumber($0, at: join(path, "maxConnections"), in: 1...) }
        let maxPendingRequests = fields["maxPendingRequests"].flatMap {
            wholeNumber($0, at: join(path, "maxPendingRequests"), in: 0...)
        }
        let outlierDetection = fields["outlierDetection"].flatMap { outlierDetectionPolicy($0, at: join(path, "outlierDetection")) }
        let retryBudget = fields["retryBudget"].flatMap { retryBudgetPolicy($0, at: join(path, "retryBudget")) } ?? RetryBudgetDefinition()
        let tenant = fields["tenant"].flatMap { tenantName($0, at: join(path, "tenant")) }
        guard problems.count == problemCount, let name else { return nil }
        var upstream = UpstreamDefinition(
            name: name, endpoints: endpoints, connectTimeout: connectTimeout, healthCheck: healthCheck,
            loadBalancing: loadBalancing, maxRequestsPerConnection: maxRequestsPerConnection, maxConnections: maxConnections,
            maxPendingRequests: maxPendingRequests, outlierDetection: outlierDetection, retryBudget: retryBudget)
        upstream.tenant = tenant
        return upstream
    }

    mutating func outlierDetectionPolicy(_ value: ConfigValue, at path: String) -> OutlierDetectionDefinition? {
        guard let fields = object(value, at: path, allowed: ["consecutiveFailures", "baseEjectionTime", "maxEjectionPercent"])
        else { return nil }
        var policy = OutlierDetectionDefinition()
        if let value = fields["consecutiveFailures"], let count = wholeNumber(value, at: join(path, "consecutiveFailures"), in: 1...) {
            policy.consecutiveFailures = count
        }
        if let value = fields["baseEjectionTime"], let duration = positiveDuration(value, at: join(path, "baseEjectionTime")) {
            policy.baseEjectionTime = duration
        }
        if let value = fields["maxEjectionPercent"], let percent = wholeNumber(value, at: join(path, "maxEjectionPercent"), in: 0...100) {
            policy.maxEjectionPercent = percent
        }
        return policy
    }

    mutating func retryBudgetPolicy(_ value: ConfigValue, at path: String) -> RetryBudgetDefinition? {
        guard let fields = object(value, at: path, allowed: ["percent", "minRetries"]) else { return nil }
        var budget = RetryBudgetDefinition()
        if let value = fields["percent"], let percent = wholeNumber(value, at: join(path, "percent"), in: 0...100) {
            budget.percent = percent
        }
        if let value = fields["minRetries"], let count = wholeNumber(value, at: join(path, "minRetries"), in: 0...) {
            budget.minRetries = count
        }
        return budget
    }

    mutating func retryPolicy(_ value: ConfigValue, at path: String) -> RetryPolicyDefinition? {
        guard let fields = object(value, at: path, allowed: ["attempts", "on", "perTryTimeout"]) else { return nil }
        var policy = RetryPolicyDefinition(attempts: 1, on: RetryPolicyDefinition.default.on)
        if let value = fields["attempts"], let attempts = wholeNumber(value, at: join(path, "attempts"), in: 0...10) {
            policy.attempts = attempts
        }
        if let value = fields["on"], let items = array(value, at: join(path, "on")) {
            var conditions: [RetryCondition] = []
            for (index, item) in items.enumerated() {
                let itemPath = join(path, "on[\(index)]")
                let text: String
                switch item {
                case .integer(let code): text = String(code)
                case .string(let string): text = string
                default:
                    report(itemPath, "expected \(RetryCondition.names), found \(item.kindDescription)")
                    continue
                }
                if let condition = RetryCondition(parsing: text) {
                    conditions.append(condition)
                } else {
                    report(itemPath, "expected \(RetryCondition.names), found \"\(text)\"")
                }
            }
            policy.on = conditions
        }
        if let value = fields["perTryTimeout"], let duration = positiveDuration(value, at: join(path, "perTryTimeout")) {
            policy.perTryTimeout = duration
        }
        return policy
    }

    mutating func route(_ value: ConfigValue, at path: String) -> RouteDefinition? {
        guard
            let fields = object(
                value, at: path,
                allowed: [
                    "name", "hosts", "match", "upstream", "backends", "respond", "redirect", "rewrite", "timeout",
                    "httpsRedirect", "compression", "cors", "retries", "requestHeaders", "responseHeaders", "hsts",
                    "allowFrom", "denyFrom", "rateLimit", "auth", "tenant",
                ])
        else { return nil }
        let problemCount = problems.count
        let name = requiredName(fields, at: path)

        var hosts: [HostPattern] = []
        if let list = fields["hosts"], let items = array(list, at: join(path, "hosts")) {
            for (index, item) in items.enumerated() {
                let itemPath = join(path, "hosts[\(index)]")
                guard let text = string(item, at: itemPath) else { continue }
                if let pattern = HostPattern(parsing: text) {
                    hosts.append(pattern)
                } else {
                    report(itemPath, "invalid host \"\(text)\": expected a DNS name or \"*.\" followed by one")
                }
            }
        }

        var match = RouteMatch()
        if let value = fields["match"] {
            match = routeMatch(value, at: join(path, "match")) ?? match
        }

        let action = routeAction(fields, match: match, at: path)
        let rewrite = fields["rewrite"].flatMap { self.rewrite($0, match: match, at: join(path, "rewrite")) }

        var timeout = RouteDefinition.defaultTimeout
        if let value = fields["timeout"], let duration = positiveDuration(value, at: join(path, "timeout")) {
            timeout = duration
        }
        let httpsRedirect = fields["httpsRedirect"].flatMap { bool($0, at: join(path, "httpsRedirect")) } ?? false
        let compression = fields["compression"].flatMap { bool($0, at: join(path, "compression")) } ?? true
        let cors = fields["cors"].flatMap { corsPolicy($0, at: join(path, "cors")) }
        let retries = fields["retries"].flatMap { retryPolicy($0, at: join(path, "retries")) }
        let requestHeaders = fields["requestHeaders"].flatMap {
            headerModifiers($0, cors: cors != nil, at: join(path, "requestHeaders"))
        }
        let responseHeaders = fields["responseHeaders"].flatMap {
            headerModifiers($0, cors: cors != nil, at: join(path, "responseHeaders"))
        }
        let hsts = fields["hsts"].flatMap { self.hsts($0, at: join(path, "hsts")) }
        let allowFrom = fields["allowFrom"].map { addressRanges($0, at: join(path, "allowFrom")) } ?? []
        let denyFrom = fields["denyFrom"].map { addressRanges($0, at: join(path, "denyFrom")) } ?? []
        let rateLimit = fields["rateLimit"].flatMap { self.rateLimit($0, at: join(path, "rateLimit")) }
        let auth = fields["auth"].flatMap { self.auth($0, at: join(path, "auth")) }
        if auth != nil, fields["upstream"] == nil, fields["backends"] == nil {
            report(join(path, "auth"), "applies to routes with upstream or backends")
        }

        let tenant = fields["tenant"].flatMap { tenantName($0, at: join(path, "tenant")) }
        guard problems.count == problemCount, let name, let action else { return nil }
        var route = RouteDefinition(
            name: name, hosts: hosts, match: match, action: action, rewritePrefix: rewrite?.prefix, timeout: timeout,
            httpsRedirect: httpsRedirect, compression: compression, cors: cors, retries: retries)
        route.rewritePath = rewrite?.path
        route.rewriteHost = rewrite?.host
        route.requestHeaders = requestHeaders ?? HeaderModifiers()
        route.responseHeaders = responseHeaders ?? HeaderModifiers()
        route.hsts = hsts
        route.allowFrom = allowFrom
        route.denyFrom = denyFrom
        route.rateLimit = rateLimit
        route.auth = auth
        route.tenant = tenant
        return route
    }

    mutating func routeMatch(_ value: ConfigValue, at path: String) -> RouteMatch? {
        guard let fields = object(value, at: path, allowed: ["path", "methods", "headers", "cookies", "query"]) else { return nil }
        var match = RouteMatch()
        if let value = fields["path"] {
            let pathPath = join(path, "path")
            if let kinds = object(value, at: pathPath, allowed: ["prefix", "exact", "regex"]) {
                if kinds.count != 1 {
                    report(pathPath, "exactly one of prefix, exact, regex")
                } else if let (kind, raw) = kinds.first, let text = string(raw, at: join(pathPath, kind)) {
                    match.path = pathMatch(kind: kind, text: text, at: join(pathPath, kind)) ?? match.path
                }
            }
        }
        if let value = fields["methods"], let items = array(value, at: join(path, "methods")) {
            var methods: [String] = []
            for (index, item) in items.enumerated() {
                guard let text = string(item, at: join(path, "methods[\(index)]")) else { continue }
                if isToken(text) {
                    methods.append(text.uppercased())
                } else {
                    report(join(path, "methods[\(index)]"), "invalid method \"\(text)\"")
                }
            }
            if items.isEmpty { report(join(path, "methods"), "must list at least one method") }
            match.methods = methods
        }
        if let value = fields["headers"] {
            let headersPath = join(path, "headers")
            if case .object(let pairs) = value {
                for (name, raw) in pairs {
                    let headerPath = join(headersPath, name)
                    guard isToken(name) else {
                        report(headerPath, "invalid header name")
                        continue
                    }
                    if let text = scalarText(raw, at: headerPath) { match.headers.append(HeaderCondition(name: name, value: text)) }
                }
            } else {
                report(headersPath, "expected a mapping of header name to value, found \(value.kindDescription)")
            }
        }
        if let value = fields["cookies"] {
            match.cookies = valueConditions(value, of: "cookie", at: join(path, "cookies"))
        }
        if let value = fields["query"] {
            match.query = valueConditions(value, of: "query parameter", at: join(path, "query"))
        }
        return match
    }

    mutating func pathMatch(kind: String, text: String, at path: String) -> PathMatch? {
        switch kind {
        case "regex":
            guard !text.isEmpty else {
                report(path, "must not be empty")
                return nil
            }
            return .regex(text)
        default:
            guard text.hasPrefix("/") else {
                report(path, "must start with /")
                return nil
            }
            guard let normalized = RequestTarget.normalizePath(Substring(text)), normalized == text || kind == "prefix"
            else {
                report(path, "must be a normalized path (no dot segments, repeated slashes or invalid escapes)")
                return nil
            }
            if kind == "exact" { return .exact(normalized) }
            // A trailing "/" in a prefix is ignored (SPEC §4).
            var prefix = Substring(normalized)
            while prefix.count > 1, prefix.hasSuffix("/") { prefix = prefix.dropLast() }
            return .prefix(String(prefix))
        }
    }

    mutating func staticResponse(_ value: ConfigValue, at path: String) -> StaticResponse? {
        guard let fields = object(value, at: path, allowed: ["status", "body"]) else { return nil }
        var status = 200
        if let value = fields["status"] {
            if case .integer(let code) = value, (200...599).contains(code) {
                status = code
            } else {
                report(join(path, "status"), "expected a status code from 200 to 599")
            }
        }
        let body = fields["body"].flatMap { string($0, at: join(path, "body")) } ?? ""
        return StaticResponse(status: status, body: body)
    }

    mutating func corsPolicy(_ value: ConfigValue, at path: String) -> CORSDefinition? {
        guard
            let fields = object(
                value, at: path,
                allowed: ["allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders", "allowCredentials", "maxAge"])
        else { return nil }
        var policy = CORSDefinition()
        policy.allowOrigins = stringList(fields["allowOrigins"], at: join(path, "allowOrigins"))
        for (index, origin) in policy.allowOrigins.enumerated() where !isValidOriginPattern(origin) {
            report(join(path, "allowOrigins[\(index)]"), "expected \"*\" or scheme://host[:port], found \"\(origin)\"")
        }
        policy.allowMethods = stringList(fields["allowMethods"], at: join(path, "allowMethods")).map { $0.uppercased() }
        policy.allowHeaders = stringList(fields["allowHeaders"], at: join(path, "allowHeaders"))
        policy.exposeHeaders = stringList(fields["exposeHeaders"], at: join(path, "exposeHeaders"))
        policy.allowCredentials = fields["allowCredentials"].flatMap { bool($0, at: join(path, "allowCredentials")) } ?? false
        if let value = fields["maxAge"] {
            if case .integer(let seconds) = value, seconds >= 0 {
                policy.maxAge = seconds
            } else {
                report(join(path, "maxAge"), "expected a whole number of seconds")
            }
        }
        return policy
    }

    // MARK: - Primitives

    /// A tenant's name (SPEC §15), as a tenant port's (SPEC §10).
    mutating func tenantName(_ value: ConfigValue, at path: String) -> String? {
        guard let name = string(value, at: path) else { return nil }
        guard PortPool.isValidName(name) else {
            report(path, "\"\(name)\" must be 1 to 63 characters of a-z, 0-9 and '-'")
            return nil
        }
        return name
    }

    mutating func requiredName(_ fields: [String: ConfigValue], at path: String) -> String? {
        guard let value = fields["name"] else {
            report(join(path, "name"), "required")
            return nil
        }
        guard let name = string(value, at: join(path, "name")) else { return nil }
        guard RouteFileDecoder.isValidName(name) else {
            report(join(path, "name"), "\"\(name)\" must be 1 to 63 characters of a-z, 0-9, '-', '_' or '.'")
            return nil
        }
        return name
    }

    /// Route and upstream names: safe in a URL path and a metric label.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxNameLength
            && name.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }

    mutating func object(_ value: ConfigValue, at path: String, allowed: Set<String>) -> [String: ConfigValue]? {
        guard case .object(let pairs) = value else {
            report(path, "expected a mapping, found \(value.kindDescription)")
            return nil
        }
        var fields: [String: ConfigValue] = [:]
        for (key, item) in pairs {
            if !allowed.contains(key) {
                report(join(path, key), "unknown field (expected one of \(allowed.sorted().joined(separator: ", ")))")
            } else if fields[key] != nil {
                report(join(path, key), "given twice")
            } else {
                fields[key] = item
            }
        }
        return fields
    }

    mutating func array(_ value: ConfigValue, at path: String) -> [ConfigValue]? {
        guard case .array(let items) = value else {
            report(path, "expected a list, found \(value.kindDescription)")
            return nil
        }
        return items
    }

    mutating func string(_ value: ConfigValue, at path: String) -> String? {
        guard case .string(let text) = value else {
            report(path, "expected a string, found \(value.kindDescription)")
            return nil
        }
        return text
    }

    mutating func stringList(_ value: ConfigValue?, at path: String) -> [String] {
        guard let value, let items = array(value, at: path) else { return [] }
        return items.enumerated().compactMap { index, item in string(item, at: "\(path)[\(index)]") }
    }

    /// The largest count any field takes (connections, requests, thresholds): far above
    /// what a gateway uses, and small enough that sums and products of counts never overflow.
    static let largestCount = 1_000_000_000

    mutating func wholeNumber(_ value: ConfigValue, at path: String, in range: PartialRangeFrom<Int>) -> Int? {
        switch value {
        case .integer(let number) where range.contains(number) && number <= Self.largestCount:
            return number
        case .integer(let number) where number > Self.largestCount:
            report(path, "expected a whole number of at most \(Self.largestCount)")
        case .double(let number) where number > Double(Self.largestCount):
            report(path, "expected a whole number of at most \(Self.largestCount)")
        default:
            report(path, "expected a whole number of at least \(range.lowerBound)")
        }
        return nil
    }

    mutating func wholeNumber(_ value: ConfigValue, at path: String, in range: ClosedRange<Int>) -> Int? {
        guard case .integer(let number) = value, range.contains(number) else {
            report(path, "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return number
    }

    mutating func bool(_ value: ConfigValue, at path: String) -> Bool? {
        guard case .bool(let flag) = value else {
            report(path, "expected true or false, found \(value.kindDescription)")
            return nil
        }
        return flag
    }

    mutating func positiveDuration(_ value: ConfigValue, at path: String) -> Duration? {
        switch DurationParser.read(value) {
        case .duration(let duration) where duration > .zero:
            return duration
        case .tooLong:
            report(path, "expected a duration of at most \(DurationParser.maximumSeconds / 3600)h (a year)")
        default:
            report(path, "expected a duration such as 500ms, 10s, 2m or a number of seconds, greater than zero")
        }
        return nil
    }

    func isToken(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                byte > 0x20 && byte < 0x7F && !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
            }
    }

    func isValidOriginPattern(_ origin: String) -> Bool {
        if origin == "*" { return true }
        let parts = origin.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        return !parts[0].isEmpty && !parts[1].isEmpty && !parts[1].contains("/")
    }

    mutating func report(_ path: String, _ message: String) {
        problems.append(ConfigProblem(file: file, path: path, message: message))
    }

    func join(_ base: String, _ field: String) -> String {
        if base.isEmpty { return field }
        return field.hasPrefix("[") ? base + field : base + "." + field
    }
}
