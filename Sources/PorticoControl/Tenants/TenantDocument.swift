import PorticoCore

/// A tenant as the admin API and the stores write it: `{"name", "hosts", "quota"}`.
extension TenantDefinition {
    public var configValue: ConfigValue {
        var quotaPairs: [(key: String, value: ConfigValue)] = []
        if let routes = quota.routes { quotaPairs.append(("routes", .integer(routes))) }
        if let upstreams = quota.upstreams { quotaPairs.append(("upstreams", .integer(upstreams))) }
        if let ports = quota.ports { quotaPairs.append(("ports", .integer(ports))) }
        return [
            "name": .string(name), "hosts": .array(hosts.map { .string($0.description) }), "quota": .object(quotaPairs),
        ]
    }

    /// Reads `PUT /v1/tenants/{name}`'s body (`hosts` and `quota`, each optional; a `name`,
    /// if given, must be the URL's); every problem is named by its field.
    public static func decode(name: String, from value: ConfigValue) throws(ControlPlaneError) -> TenantDefinition {
        guard case .object(let pairs) = value else { throw .malformed("expected a JSON object") }
        var problems: [ConfigProblem] = []
        if !PortPool.isValidName(name) {
            problems.append(ConfigProblem(path: "name", message: "\"\(name)\" must be 1 to 63 characters of a-z, 0-9 and '-'"))
        }
        var tenant = TenantDefinition(name: name)
        for (key, field) in pairs {
            switch key {
            case "name":
                if field != .string(name) { problems.append(ConfigProblem(path: "name", message: "must be \"\(name)\", the name in the URL")) }
            case "hosts":
                guard case .array(let items) = field else {
                    problems.append(ConfigProblem(path: "hosts", message: "expected a list, found \(field.kindDescription)"))
                    continue
                }
                for (index, item) in items.enumerated() {
                    guard case .string(let text) = item else {
                        problems.append(ConfigProblem(path: "hosts[\(index)]", message: "expected a string, found \(item.kindDescription)"))
                        continue
                    }
                    guard let host = HostPattern(tenantHost: text) else {
                        problems.append(
                            ConfigProblem(path: "hosts[\(index)]", message: "invalid host \"\(text)\": expected a DNS name or \"*.\" followed by one"))
                        continue
                    }
                    if !tenant.hosts.contains(host) { tenant.hosts.append(host) }
                }
            case "quota":
                guard case .object(let limits) = field else {
                    problems.append(ConfigProblem(path: "quota", message: "expected an object, found \(field.kindDescription)"))
                    continue
                }
                for (kind, limit) in limits {
                    guard ["routes", "upstreams", "ports"].contains(kind) else {
                        problems.append(ConfigProblem(path: "quota.\(kind)", message: "unknown field (expected routes, upstreams or ports)"))
                        continue
                    }
                    guard case .integer(let count) = limit, count >= 0 else {
                        problems.append(ConfigProblem(path: "quota.\(kind)", message: "expected a whole number from 0, found \(limit.kindDescription)"))
                        continue
                    }
                    switch kind {
                    case "routes": tenant.quota.routes = count
                    case "upstreams": tenant.quota.upstreams = count
                    default: tenant.quota.ports = count
                    }
                }
            default:
                problems.append(ConfigProblem(path: key, message: "unknown field (expected hosts or quota)"))
            }
        }
        guard problems.isEmpty else { throw .invalid(problems) }
        return tenant
    }
}
