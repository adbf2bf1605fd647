/// A route's host condition: an exact name or a `*.` wildcard (Gateway API hostnames).
public enum HostPattern: Hashable, Sendable, CustomStringConvertible {
    /// Matches this lower-case name only.
    case exact(String)
    /// `*.veni.ai`: stores `.veni.ai` and matches any name that ends in it with at least one
    /// label before it, never `veni.ai` itself.
    case wildcard(suffix: String)

    /// Parses a configured pattern; `nil` when it is not a valid host name or wildcard.
    public init?(parsing text: String) {
        let lowered = text.lowercased()
        if lowered.hasPrefix("*.") {
            let rest = String(lowered.dropFirst(2))
            guard HostPattern.isValidHostName(rest) else { return nil }
            self = .wildcard(suffix: "." + rest)
        } else {
            guard HostPattern.isValidHostName(lowered) else { return nil }
            self = .exact(lowered)
        }
    }

    /// Whether a normalized request host matches this pattern.
    public func matches(_ host: String) -> Bool {
        switch self {
        case .exact(let name): return host == name
        case .wildcard(let suffix): return host.count > suffix.count && host.hasSuffix(suffix)
        }
    }

    public var description: String {
        switch self {
        case .exact(let name): return name
        case .wildcard(let suffix): return "*" + suffix
        }
    }

    /// DNS names of letters, digits and hyphens (and `_`, seen in real service names),
    /// labels of 1–63 characters, or an IPv4 address.
    static func isValidHostName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { byte in
                    (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                        || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                        || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
                }
        }
    }
}

/// Request host normalization (SPEC §4): lower-cased, port and trailing dot removed.
public enum RequestHost {
    /// Normalizes a `Host` header value or an absolute-form authority; `nil` when it is malformed.
    public static func normalize(_ authority: Substring) -> String? {
        // Bytes, not Characters: every byte the result may hold is ASCII, and a host is
        // normalized on every request.
        let bytes = authority.utf8
        // userinfo is not allowed in Host, and an absolute-form target carrying one is refused.
        if bytes.contains(UInt8(ascii: "@")) { return nil }
        var hostEnd = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostEnd = bytes.index(after: close)
            guard hostEnd == bytes.endIndex || bytes[hostEnd] == UInt8(ascii: ":") else { return nil }
        } else if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            hostEnd = colon
        }
        if hostEnd != bytes.endIndex {
            let port = bytes[bytes.index(after: hostEnd)...]
            guard port.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        }
        var host = bytes[..<hostEnd]
        if host.last == UInt8(ascii: ".") { host = host.dropLast() }
        guard !host.isEmpty else { return nil }
        var hasUppercase = false
        for byte in host {
            guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "/") else { return nil }
            if byte >= UInt8(ascii: "A"), byte <= UInt8(ascii: "Z") { hasUppercase = true }
        }
        // Most hosts arrive lower-case: copying skips lowercased()'s work.
        let text = String(decoding: host, as: UTF8.self)
        return hasUppercase ? text.lowercased() : text
    }
}
