/// The edge-protection fields of a route (SPEC §13).
extension RouteFileDecoder {
    /// `allowFrom` or `denyFrom`: addresses and CIDRs, IPv4 and IPv6.
    mutating func addressRanges(_ value: ConfigValue, at path: String) -> [AddressRange] {
        guard let items = array(value, at: path) else { return [] }
        return items.enumerated().compactMap { index, item in
            let itemPath = join(path, "[\(index)]")
            guard let text = string(item, at: itemPath) else { return nil }
            guard let range = AddressRange(text) else {
                report(itemPath, "expected an IPv4 or IPv6 address or CIDR such as 10.0.0.0/8, found \"\(text)\"")
                return nil
            }
            return range
        }
    }

    mutating func rateLimit(_ value: ConfigValue, at path: String) -> RateLimitDefinition? {
        guard let fields = object(value, at: path, allowed: ["requests", "per", "burst", "key"]) else { return nil }
        let problemCount = problems.count
        var requests: Int?
        if let value = fields["requests"] {
            requests = wholeNumber(value, at: join(path, "requests"), in: 1...)
        } else {
            report(join(path, "requests"), "required")
        }
        let per = fields["per"].flatMap { positiveDuration($0, at: join(path, "per")) } ?? .seconds(1)
        let burst = fields["burst"].flatMap { wholeNumber($0, at: join(path, "burst"), in: 1...) }
        var key = RateLimitDefinition.Key.client
        if let value = fields["key"], let text = string(value, at: join(path, "key")) {
            if text == "client" {
                key = .client
            } else if text == "route" {
                key = .route
            } else if text.hasPrefix("header:"), isToken(String(text.dropFirst(7))) {
                key = .header(text.dropFirst(7).lowercased())
            } else {
                report(join(path, "key"), "expected client, route or header:NAME, found \"\(text)\"")
            }
        }
        guard problems.count == problemCount, let requests else { return nil }
        return RateLimitDefinition(requests: requests, per: per, burst: burst, key: key)
    }
}
