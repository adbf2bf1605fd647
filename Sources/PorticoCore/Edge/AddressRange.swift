/// An IPv4 or IPv6 address as bytes (4 or 16), parsed without the C library. An
/// IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack listener reports for an
/// IPv4 client) is taken as the IPv4 address.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(_ text: some StringProtocol) {
        var text = Substring(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = text.dropFirst().dropLast() }
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }  // a zone: fe80::1%eth0
        if let v4 = Self.parseIPv4(text) {
            bytes = v4
        } else if let v6 = Self.parseIPv6(text) {
            let mapped = v6[0..<10].allSatisfy { $0 == 0 } && v6[10] == 0xFF && v6[11] == 0xFF
            bytes = mapped ? Array(v6[12...]) : v6
        } else {
            return nil
        }
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// Dotted IPv4, or IPv6 as RFC 5952 writes it (lower case, the longest run of zero
    /// groups as `::`).
    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var best: Range<Int>?
        var start: Int?
        for index in 0...groups.count {
            if index < groups.count, groups[index] == 0 {
                if start == nil { start = index }
            } else if let first = start {
                if index - first >= 2, index - first > (best?.count ?? 0) { best = first..<index }
                start = nil
            }
        }
        let text = { (slice: ArraySlice<UInt16>) in slice.map { String($0, radix: 16) }.joined(separator: ":") }
        guard let best else { return text(groups[...]) }
        return text(groups[..<best.lowerBound]) + "::" + text(groups[best.upperBound...])
    }

    /// Dotted-quad IPv4, four decimal parts of 0–255 without leading zeros; one pass over
    /// the bytes and one allocation (it runs per request on routes with IP rules).
    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        var value = 0
        var digits = 0
        var startsWithZero = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, bytes.count < 3 else { return nil }
                bytes.append(UInt8(value))
                (value, digits, startsWithZero) = (0, 0, false)
                continue
            }
            // A digit, at most three per part, and none after a leading zero ("01").
            guard byte >= 0x30, byte <= 0x39, digits < 3, !startsWithZero else { return nil }
            if digits == 0 { startsWithZero = byte == 0x30 }
            value = value * 10 + Int(byte - 0x30)
            digits += 1
            guard value <= 255 else { return nil }
        }
        guard digits > 0, bytes.count == 3 else { return nil }
        bytes.append(UInt8(value))
        return bytes
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        guard text.contains(":") else { return nil }
        // Split at the one `::` there may be.
        var halves: [Substring] = [text]
        let utf8 = text.utf8
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let next = utf8.index(after: index)
            if utf8[index] == UInt8(ascii: ":"), next != utf8.endIndex, utf8[next] == UInt8(ascii: ":") {
                guard halves.count == 1 else { return nil }
                halves = [text[..<index], text[utf8.index(after: next)...]]
                index = next
            }
            index = utf8.index(after: index)
        }
        if halves.count == 2, halves[1].hasPrefix(":") || halves[0].hasSuffix(":") { return nil }
        func groups(_ part: Substring) -> [UInt8]? {
            if part.isEmpty { return [] }
            var bytes: [UInt8] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(piece) else { return nil }
                    bytes += v4
                    continue
                }
                guard (1...4).contains(piece.count), let value = UInt16(piece, radix: 16) else { return nil }
                bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
            }
            return bytes
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 16 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count <= 14 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

/// An address or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`, `127.0.0.1`), for IP rules
/// and trusted proxies (SPEC §13).
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let bits = address.bytes.count * 8
        var length = bits
        if parts.count == 2 {
            // `::ffff:10.0.0.0/104` names the IPv4 block 10.0.0.0/8.
            let mappedIPv6 = address.isIPv4 && parts[0].contains(":")
            guard parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), (1...3).contains(parts[1].count), let given = Int(parts[1])
            else { return nil }
            length = mappedIPv6 ? given - 96 : given
            guard (0...bits).contains(length) else { return nil }
        }
        // The network address, host bits cleared, so that equal blocks compare equal.
        var bytes = address.bytes
        for index in bytes.indices {
            let kept = max(0, min(8, length - index * 8))
            bytes[index] &= kept == 8 ? 0xFF : ~(0xFF >> kept)
        }
        network = IPAddress(bytes: bytes)
        prefixLength = length
    }

    /// Whether `address` is in the block (an IPv4 block holds no IPv6 address, and back).
    public func contains(_ address: IPAddress) -> Bool {
        guard address.bytes.count == network.bytes.count else { return false }
        var remaining = prefixLength
        for (byte, networkByte) in zip(address.bytes, network.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> remaining)
            if byte & mask != networkByte { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(network)/\(prefixLength)" }
}

extension IPAddress {
    /// From 4 or 16 bytes; an IPv4-mapped IPv6 address becomes the IPv4 one.
    init(bytes: [UInt8]) {
        let mapped = bytes.count == 16 && bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        self.bytes = mapped ? Array(bytes[12...]) : bytes
    }
}

extension [AddressRange] {
    /// Whether any block holds `address`.
    public func contains(_ address: IPAddress) -> Bool {
        contains { $0.contains(address) }
    }
}
