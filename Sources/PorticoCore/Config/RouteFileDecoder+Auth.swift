/// A route's `auth` (SPEC §13).
extension RouteFileDecoder {
    mutating func auth(_ value: ConfigValue, at path: String) -> AuthDefinition? {
        let problemCount = problems.count
        guard let fields = object(value, at: path, allowed: ["forward", "jwt"]) else { return nil }
        if fields.isEmpty, problems.count == problemCount { report(path, "expected forward, jwt or both") }
        let jwt = fields["jwt"].flatMap { self.jwt($0, at: join(path, "jwt")) }
        let forward = fields["forward"].flatMap { self.forwardAuth($0, at: join(path, "forward")) }
        guard problems.count == problemCount else { return nil }
        return AuthDefinition(jwt: jwt, forward: forward)
    }

    mutating func forwardAuth(_ value: ConfigValue, at path: String) -> ForwardAuthDefinition? {
        guard let fields = object(value, at: path, allowed: ["url", "timeout", "requestHeaders", "responseHeaders"]) else {
            return nil
        }
        let problemCount = problems.count
        var url: String?
        if let value = fields["url"] {
            url = httpURL(value, at: join(path, "url"))
        } else {
            report(join(path, "url"), "required")
        }
        let timeout = fields["timeout"].flatMap { positiveDuration($0, at: join(path, "timeout")) }
        let requestHeaders = fields["requestHeaders"].map { headerNames($0, at: join(path, "requestHeaders")) }
        let responseHeaders = fields["responseHeaders"].map { headerNames($0, at: join(path, "responseHeaders")) }
        guard problems.count == problemCount, let url else { return nil }
        return ForwardAuthDefinition(
            url: url, timeout: timeout ?? ForwardAuthDefinition.defaultTimeout,
            requestHeaders: requestHeaders ?? ForwardAuthDefinition.defaultRequestHeaders,
            responseHeaders: responseHeaders ?? [])
    }

    mutating func jwt(_ value: ConfigValue, at path: String) -> JWTAuthDefinition? {
        guard
            let fields = object(
                value, at: path, allowed: ["issuer", "audiences", "jwksFile", "jwksUrl", "claimsToHeaders"])
        else { return nil }
        let problemCount = problems.count
        let issuer = fields["issuer"].flatMap { string($0, at: join(path, "issuer")) }
        let audiences = stringList(fields["audiences"], at: join(path, "audiences"))
        var keys: JWTAuthDefinition.KeySource?
        switch (fields["jwksFile"], fields["jwksUrl"]) {
        case (let file?, nil):
            let filePath = join(path, "jwksFile")
            if let text = string(file, at: filePath) {
                if text.isEmpty || text.hasPrefix("/") || text.split(separator: "/").contains("..") {
                    report(filePath, "expected a path inside the routes folder, found \"\(text)\"")
                } else {
                    keys = .file(text)
                }
            }
        case (nil, let url?):
            keys = httpURL(url, at: join(path, "jwksUrl")).map { .url($0) }
        case (nil, nil):
            report(path, "one of jwksFile, jwksUrl is required")
        case (.some, .some):
            report(path, "jwksFile and jwksUrl exclude each other")
        }
        var claimsToHeaders: [JWTAuthDefinition.ClaimHeader] = []
        if let value = fields["claimsToHeaders"], case .object(let pairs) = value {
            for (claim, header) in pairs {
                let headerPath = join(join(path, "claimsToHeaders"), claim)
                guard let name = string(header, at: headerPath) else { continue }
                if claim.isEmpty {
                    report(headerPath, "expected a claim name")
                } else if !isToken(name) {
                    report(headerPath, "expected a header name, found \"\(name)\"")
                } else if ProxyHeaderRules.hopByHop.contains(name.lowercased()) || name.lowercased() == "host" {
                    report(headerPath, "\(name) cannot be set from a claim")
                } else {
                    claimsToHeaders.append(.init(claim: claim, header: name))
                }
            }
        } else if let value = fields["claimsToHeaders"] {
            report(join(path, "claimsToHeaders"), "expected a mapping of claim to header, found \(value.kindDescription)")
        }
        guard problems.count == problemCount, let keys else { return nil }
        return JWTAuthDefinition(issuer: issuer, audiences: audiences, keys: keys, claimsToHeaders: claimsToHeaders)
    }

    /// An absolute `http` or `https` URL with a valid host.
    mutating func httpURL(_ value: ConfigValue, at path: String) -> String? {
        guard let text = string(value, at: path) else { return nil }
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"),
            case .success(let target) = RequestTarget.parse(text, method: "GET"),
            let authority = target.authority, RequestHost.normalize(Substring(authority)) != nil
        else {
            report(path, "expected an http or https URL such as http://127.0.0.1:9000/verify, found \"\(text)\"")
            return nil
        }
        return text
    }

    /// A list of header names.
    mutating func headerNames(_ value: ConfigValue, at path: String) -> [String] {
        guard let items = array(value, at: path) else { return [] }
        return items.enumerated().compactMap { index, item in
            let itemPath = join(path, "[\(index)]")
            guard let name = string(item, at: itemPath) else { return nil }
            guard isToken(name) else {
                report(itemPath, "expected a header name, found \"\(name)\"")
                return nil
            }
            return name
        }
    }
}
