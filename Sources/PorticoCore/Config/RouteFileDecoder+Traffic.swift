/// The traffic-management fields of a route (SPEC §12): what it does with a request
/// (`upstream`, `backends`, `respond`, `redirect`), rewrites, header modifications and HSTS.
extension RouteFileDecoder {
    /// `rewrite`, decoded.
    struct Rewrite {
        var prefix: String?
        var path: String?
        var host: String?
    }

    mutating func routeAction(_ fields: [String: ConfigValue], match: RouteMatch, at path: String) -> RouteAction? {
        let given = ["upstream", "backends", "respond", "redirect"].filter { fields[$0] != nil }
        guard given.count == 1, let kind = given.first, let value = fields[kind] else {
            report(path, given.isEmpty ? "one of upstream, backends, respond, redirect is required" : "exactly one of upstream, backends, respond, redirect")
            return nil
        }
        let fieldPath = join(path, kind)
        switch kind {
        case "upstream": return string(value, at: fieldPath).map(RouteAction.upstream)
        case "backends": return backends(value, at: fieldPath).map(RouteAction.backends)
        case "respond": return staticResponse(value, at: fieldPath).map(RouteAction.respond)
        default: return redirect(value, match: match, at: fieldPath).map(RouteAction.redirect)
        }
    }

    private mutating func backends(_ value: ConfigValue, at path: String) -> [WeightedBackend]? {
        guard let items = array(value, at: path) else { return nil }
        guard (1...WeightedBackend.maximumCount).contains(items.count) else {
            report(path, "expected 1 to \(WeightedBackend.maximumCount) backends, found \(items.count)")
            return nil
        }
        let problemCount = problems.count
        var backends: [WeightedBackend] = []
        for (index, item) in items.enumerated() {
            let itemPath = join(path, "[\(index)]")
            guard let fields = object(item, at: itemPath, allowed: ["upstream", "weight"]) else { continue }
            guard let upstreamValue = fields["upstream"] else {
                report(join(itemPath, "upstream"), "required")
                continue
            }
            guard let upstream = string(upstreamValue, at: join(itemPath, "upstream")) else { continue }
            if backends.contains(where: { $0.upstream == upstream }) {
                report(join(itemPath, "upstream"), "upstream \"\(upstream)\" is already a backend of this route")
            }
            // Gateway API's default weight.
            var weight = 1
            if let weightValue = fields["weight"] {
                guard let number = wholeNumber(weightValue, at: join(itemPath, "weight"), in: 0...WeightedBackend.maximumWeight)
                else { continue }
                weight = number
            }
            backends.append(WeightedBackend(upstream: upstream, weight: weight))
        }
        guard problems.count == problemCount else { return nil }
        guard backends.contains(where: { $0.weight > 0 }) else {
            report(path, "at least one backend needs a weight above 0")
            return nil
        }
        return backends
    }

    private mutating func redirect(_ value: ConfigValue, match: RouteMatch, at path: String) -> RedirectDefinition? {
        guard let fields = object(value, at: path, allowed: ["scheme", "host", "port", "path", "status"]) else { return nil }
        let problemCount = problems.count
        var redirect = RedirectDefinition()
        if let value = fields["scheme"], let scheme = string(value, at: join(path, "scheme")) {
            if scheme == "http" || scheme == "https" {
                redirect.scheme = scheme
            } else {
                report(join(path, "scheme"), "expected http or https, found \"\(scheme)\"")
            }
        }
        if let value = fields["host"], let host = string(value, at: join(path, "host")) {
            if case .exact? = HostPattern(parsing: host) {
                redirect.host = host.lowercased()
            } else {
                report(join(path, "host"), "expected a DNS name, found \"\(host)\"")
            }
        }
        if let value = fields["port"] {
            redirect.port = wholeNumber(value, at: join(path, "port"), in: 1...65535)
        }
        if let value = fields["path"], let kinds = object(value, at: join(path, "path"), allowed: ["prefix", "full"]) {
            let pathPath = join(path, "path")
            if kinds.count != 1 {
                report(pathPath, "exactly one of prefix, full")
            } else if let (kind, raw) = kinds.first, let text = string(raw, at: join(pathPath, kind)) {
                if kind == "prefix" {
                    redirect.path = replacementPrefix(text, match: match, at: join(pathPath, kind)).map { .prefix($0) }
                } else if text.hasPrefix("/") {
                    redirect.path = .full(text)
                } else {
                    report(join(pathPath, kind), "must start with /")
                }
            }
        }
        if let value = fields["status"] {
            if case .integer(let code) = value, RedirectDefinition.allowedStatuses.contains(code) {
                redirect.status = code
            } else {
                report(join(path, "status"), "expected 301, 302, 303, 307 or 308")
            }
        }
        return problems.count == problemCount ? redirect : nil
    }

    mutating func rewrite(_ value: ConfigValue, match: RouteMatch, at path: String) -> Rewrite? {
        guard let fields = object(value, at: path, allowed: ["prefix", "path", "host"]) else { return nil }
        let problemCount = problems.count
        var rewrite = Rewrite()
        if fields["prefix"] != nil, fields["path"] != nil {
            report(path, "exactly one of prefix, path")
        } else if fields.isEmpty {
            report(path, "one of prefix, path, host is required")
        }
        if let value = fields["prefix"], let text = string(value, at: join(path, "prefix")) {
            rewrite.prefix = replacementPrefix(text, match: match, at: join(path, "prefix"))
        }
        if let value = fields["path"], let text = string(value, at: join(path, "path")) {
            if text.hasPrefix("/"), !text.contains("?"), !text.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) {
                rewrite.path = text
            } else {
                report(join(path, "path"), "must start with / and hold no query, spaces or control characters")
            }
        }
        if let value = fields["host"], let text = string(value, at: join(path, "host")) {
            if RequestHost.normalize(Substring(text)) != nil {
                rewrite.host = text
            } else {
                report(join(path, "host"), "expected host or host:port, found \"\(text)\"")
            }
        }
        return problems.count == problemCount ? rewrite : nil
    }

    /// A replacement for the matched prefix (`rewrite.prefix`, `redirect.path.prefix`): a
    /// path, on a route whose path condition is a prefix or exact one.
    private mutating func replacementPrefix(_ text: String, match: RouteMatch, at path: String) -> String? {
        guard text.hasPrefix("/") else {
            report(path, "must start with /")
            return nil
        }
        if case .regex = match.path {
            report(path, "needs a prefix or exact path match, not regex")
            return nil
        }
        return text
    }

    mutating func headerModifiers(_ value: ConfigValue, cors: Bool, at path: String) -> HeaderModifiers? {
        guard let fields = object(value, at: path, allowed: ["set", "add", "remove"]) else { return nil }
        let problemCount = problems.count
        var modifiers = HeaderModifiers()
        var listOf: [String: String] = [:]  // lower-cased name → the list it stands in
        func claim(_ name: String, list: String, at namePath: String) -> Bool {
            guard isToken(name) else {
                report(namePath, "invalid header name")
                return false
            }
            let lower = name.lowercased()
            if HeaderModifiers.protectedNames.contains(lower) {
                report(namePath, "\(name) cannot be modified")
                return false
            }
            if cors, lower.hasPrefix("access-control-") {
                report(namePath, "\(name) cannot be modified on a route with cors (the gateway's CORS headers win)")
                return false
            }
            if let earlier = listOf[lower] {
                report(namePath, earlier == list ? "given twice" : "\(name) is also in \(earlier); a name stands in one list")
                return false
            }
            listOf[lower] = list
            return true
        }
        for list in ["set", "add"] {
            guard let value = fields[list] else { continue }
            let listPath = join(path, list)
            guard case .object(let pairs) = value else {
                report(listPath, "expected a mapping of header name to value, found \(value.kindDescription)")
                continue
            }
            for (name, raw) in pairs {
                let namePath = join(listPath, name)
                guard let text = scalarText(raw, at: namePath), claim(name, list: list, at: namePath) else { continue }
                guard !text.utf8.contains(where: { $0 == 0 || $0 == 0x0A || $0 == 0x0D }) else {
                    report(namePath, "a header value cannot hold NUL, CR or LF")
                    continue
                }
                let field = (name: name, value: ProxyHeaderRules.trimmed(text))
                if list == "set" { modifiers.set.append(field) } else { modifiers.add.append(field) }
            }
        }
        if let value = fields["remove"], let items = array(value, at: join(path, "remove")) {
            for (index, item) in items.enumerated() {
                let itemPath = join(path, "remove[\(index)]")
                guard let name = string(item, at: itemPath), claim(name, list: "remove", at: itemPath) else { continue }
                modifiers.remove.append(name)
            }
        }
        return problems.count == problemCount ? modifiers : nil
    }

    mutating func hsts(_ value: ConfigValue, at path: String) -> HSTSDefinition? {
        guard let fields = object(value, at: path, allowed: ["maxAge", "includeSubDomains", "preload"]) else { return nil }
        guard let maxAgeValue = fields["maxAge"] else {
            report(join(path, "maxAge"), "required")
            return nil
        }
        guard let maxAge = wholeNumber(maxAgeValue, at: join(path, "maxAge"), in: 0...) else { return nil }
        let includeSubDomains = fields["includeSubDomains"].flatMap { bool($0, at: join(path, "includeSubDomains")) } ?? false
        let preload = fields["preload"].flatMap { bool($0, at: join(path, "preload")) } ?? false
        if preload, !includeSubDomains || maxAge < HSTSDefinition.preloadMinimumMaxAge {
            report(join(path, "preload"), "needs includeSubDomains and a maxAge of at least \(HSTSDefinition.preloadMinimumMaxAge)")
            return nil
        }
        return HSTSDefinition(maxAge: maxAge, includeSubDomains: includeSubDomains, preload: preload)
    }

    /// `cookies` or `query` of a match: a mapping of name to exact value.
    mutating func valueConditions(_ value: ConfigValue, of kind: String, at path: String) -> [ValueCondition] {
        guard case .object(let pairs) = value else {
            report(path, "expected a mapping of \(kind) name to value, found \(value.kindDescription)")
            return []
        }
        return pairs.compactMap { name, raw in
            let namePath = join(path, name)
            guard !name.isEmpty, !name.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F || $0 == UInt8(ascii: "=") }) else {
                report(namePath, "invalid \(kind) name")
                return nil
            }
            return scalarText(raw, at: namePath).map { ValueCondition(name: name, value: $0) }
        }
    }

    /// A string, or a number or flag written as text (YAML reads `1` and `true` as such).
    mutating func scalarText(_ value: ConfigValue, at path: String) -> String? {
        switch value {
        case .string(let text): return text
        case .integer(let number): return String(number)
        case .bool(let flag): return String(flag)
        default:
            report(path, "expected a string, found \(value.kindDescription)")
            return nil
        }
    }
}
