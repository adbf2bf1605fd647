/// The proxies whose `X-Forwarded-For` the gateway believes (`PORTICO_TRUSTED_PROXIES`), and
/// the client address that follows from them (SPEC §13).
public struct TrustedProxies: Hashable, Sendable {
    public let ranges: [AddressRange]

    public init(_ ranges: [AddressRange] = []) {
        self.ranges = ranges
    }

    /// Parses a comma-separated list of addresses and CIDRs; a failure names the first bad entry.
    public static func parse(_ text: String) -> Result<TrustedProxies, BadEntry> {
        var ranges: [AddressRange] = []
        for entry in text.split(separator: ",") {
            let trimmed = entry.trimmingWhitespace()
            guard !trimmed.isEmpty else { continue }
            guard let range = AddressRange(trimmed) else { return .failure(BadEntry(text: String(trimmed))) }
            ranges.append(range)
        }
        return .success(TrustedProxies(ranges))
    }

    /// An entry that is no address or CIDR.
    public struct BadEntry: Error, Hashable {
        public let text: String

        public init(text: String) {
            self.text = text
        }
    }

    /// The client of a request whose TCP peer is `peer`: the peer itself unless it is
    /// trusted; then the rightmost `X-Forwarded-For` entry that is not trusted, or the
    /// leftmost when all are (the peer when there is none). An entry that is no address
    /// ends the walk: the entry right of it (or the peer) is the client.
    public func client(peer: String, forwardedFor: [String]) -> String {
        guard !ranges.isEmpty, let peerAddress = IPAddress(peer), ranges.contains(peerAddress) else { return peer }
        var client = peer
        for value in forwardedFor.reversed() {
            for entry in value.split(separator: ",").reversed() {
                let text = Substring(entry.trimmingWhitespace())
                if text.isEmpty { continue }
                guard let (address, written) = Self.address(in: text) else { return client }
                client = String(written)
                if !ranges.contains(address) { return client }
            }
        }
        return client
    }

    /// The address of an entry and how it is written, without any port a proxy wrote after
    /// it (`10.0.0.1:5000`, `[::1]:5000`) or the brackets.
    static func address(in entry: Substring) -> (IPAddress, Substring)? {
        var text = entry
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            text = text[text.index(after: text.startIndex)..<close]
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            text = text[..<colon]  // one colon: IPv4 with a port
        }
        return IPAddress(text).map { ($0, text) }
    }
}
