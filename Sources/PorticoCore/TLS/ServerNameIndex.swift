/// Chooses a certificate for a TLS server name (SNI), as SPEC §9 says: an exact DNS name
/// first, then a wildcard that covers exactly one label (RFC 6125: `*.veni.ai` serves
/// `a.veni.ai`, not `a.b.veni.ai` nor `veni.ai`), else the entry named `default`, else the
/// first entry by name.
///
/// Built once per certificate set, off the hot path; a lookup is two dictionary reads.
public struct ServerNameIndex<Value: Sendable>: Sendable {
    /// One certificate: its name (the file name without `.crt`), its DNS names, its value.
    public struct Entry: Sendable {
        public var name: String
        public var dnsNames: [String]
        public var value: Value

        public init(name: String, dnsNames: [String], value: Value) {
            self.name = name
            self.dnsNames = dnsNames
            self.value = value
        }
    }

    private var exact: [String: Value] = [:]
    /// Keyed by the part after `*.`.
    private var wildcard: [String: Value] = [:]
    /// What a name that matches nothing (or a client without SNI) gets.
    public let fallback: Value?

    /// Indexes `entries`; when two certificates claim a name, the first by name wins.
    public init(_ entries: [Entry]) {
        let sorted = entries.sorted { $0.name < $1.name }
        for entry in sorted {
            for dnsName in entry.dnsNames {
                let lowered = Self.normalize(dnsName)
                if lowered.hasPrefix("*.") {
                    let suffix = String(lowered.dropFirst(2))
                    if wildcard[suffix] == nil { wildcard[suffix] = entry.value }
                } else if exact[lowered] == nil {
                    exact[lowered] = entry.value
                }
            }
        }
        fallback = (sorted.first { $0.name == "default" } ?? sorted.first)?.value
    }

    /// The value for a client's server name; `nil` only when the index is empty.
    public func select(serverName: String?) -> Value? {
        guard let serverName else { return fallback }
        let name = Self.normalize(serverName)
        if let value = exact[name] { return value }
        if let dot = name.firstIndex(of: "."), dot != name.startIndex,
            let value = wildcard[String(name[name.index(after: dot)...])]
        {
            return value
        }
        return fallback
    }

    /// Lower-cased, without a trailing dot.
    private static func normalize(_ name: String) -> String {
        let lowered = name.lowercased()
        return lowered.hasSuffix(".") ? String(lowered.dropLast()) : lowered
    }
}
