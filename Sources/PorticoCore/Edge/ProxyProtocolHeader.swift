/// The PROXY protocol header (HAProxy's specification, v1 text and v2 binary) that a load
/// balancer sends first on a connection to name the client (SPEC §13). Pure: parses bytes.
public enum ProxyProtocolHeader {
    /// What the bytes received so far hold.
    public enum Parsed: Hashable, Sendable {
        /// Too few bytes to tell yet.
        case incomplete
        /// Not a valid header: the connection is closed.
        case invalid(String)
        /// A header of `length` bytes; `source` is the client's address, `nil` for `UNKNOWN`
        /// (v1) and `LOCAL` or an unspecified family (v2), where the TCP peer stands.
        case header(source: String?, length: Int)
    }

    /// The longest v1 header, CRLF included.
    public static let maximumV1Length = 107
    /// The longest v2 header accepted (addresses and TLVs); longer ones are refused.
    public static let maximumV2Length = 16 + 1024

    static let v1Prefix = Array("PROXY ".utf8)
    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    public static func parse(_ bytes: some Collection<UInt8>) -> Parsed {
        let bytes = Array(bytes.prefix(maximumV2Length))
        if bytes.first == v2Signature[0] { return parseV2(bytes) }
        return parseV1(bytes)
    }

    private static func parseV1(_ bytes: [UInt8]) -> Parsed {
        let prefix = min(bytes.count, v1Prefix.count)
        guard bytes[..<prefix].elementsEqual(v1Prefix[..<prefix]) else { return .invalid("no PROXY protocol header") }
        guard let lineFeed = bytes.prefix(maximumV1Length).firstIndex(of: 0x0A) else {
            return bytes.count >= maximumV1Length ? .invalid("PROXY v1 header too long") : .incomplete
        }
        guard lineFeed > 0, bytes[lineFeed - 1] == 0x0D else { return .invalid("PROXY v1 header without CRLF") }
        let line = String(decoding: bytes[v1Prefix.count..<(lineFeed - 1)], as: UTF8.self)
        let fields = line.split(separator: " ", omittingEmptySubsequences: false)
        let length = lineFeed + 1
        if fields.first == "UNKNOWN" { return .header(source: nil, length: length) }
        guard fields.count == 5, fields[0] == "TCP4" || fields[0] == "TCP6" else { return .invalid("PROXY v1 header malformed") }
        guard let source = IPAddress(fields[1]), let destination = IPAddress(fields[2]),
            source.isIPv4 == (fields[0] == "TCP4"), destination.isIPv4 == source.isIPv4,
            fields[3...4].allSatisfy({ isPort($0) })
        else { return .invalid("PROXY v1 addresses malformed") }
        return .header(source: String(fields[1]), length: length)
    }

    private static func parseV2(_ bytes: [UInt8]) -> Parsed {
        let prefix = min(bytes.count, v2Signature.count)
        guard bytes[..<prefix].elementsEqual(v2Signature[..<prefix]) else { return .invalid("PROXY v2 signature wrong") }
        guard bytes.count >= 16 else { return .incomplete }
        let versionAndCommand = bytes[12]
        guard versionAndCommand >> 4 == 2 else { return .invalid("PROXY v2 version \(versionAndCommand >> 4)") }
        let command = versionAndCommand & 0x0F
        guard command <= 1 else { return .invalid("PROXY v2 command \(command)") }
        let addressLength = Int(bytes[14]) << 8 | Int(bytes[15])
        let length = 16 + addressLength
        guard length <= maximumV2Length else { return .invalid("PROXY v2 header too long") }
        guard bytes.count >= length else { return .incomplete }
        // LOCAL: the balancer's own connection (a health check); the peer stands.
        guard command == 1 else { return .header(source: nil, length: length) }
        let address = bytes[16..<length]
        switch bytes[13] >> 4 {
        case 1:  // AF_INET
            guard address.count >= 12 else { return .invalid("PROXY v2 IPv4 addresses truncated") }
            return .header(source: IPAddress(bytes: Array(address.prefix(4))).description, length: length)
        case 2:  // AF_INET6
            guard address.count >= 36 else { return .invalid("PROXY v2 IPv6 addresses truncated") }
            let source = IPAddress(bytes: Array(address.prefix(16)))
            return .header(source: source.description, length: length)
        default:  // AF_UNSPEC, AF_UNIX: nothing to say about the client
            return .header(source: nil, length: length)
        }
    }

    private static func isPort(_ text: Substring) -> Bool {
        !text.isEmpty && text.count <= 5 && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } && Int(text).map { $0 <= 65535 } == true
    }
}
