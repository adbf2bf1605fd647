import PorticoCore
import Testing

/// PROXY protocol v1 and v2 headers (HAProxy's specification): valid, truncated, oversize,
/// wrong signature, UNKNOWN and LOCAL.
@Suite struct ProxyProtocolHeaderTests {
    private func v1(_ text: String) -> ProxyProtocolHeader.Parsed { ProxyProtocolHeader.parse(Array(text.utf8)) }

    @Test func v1Headers() {
        let line = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n"
        #expect(v1(line + "GET / HTTP/1.1\r\n") == .header(source: "203.0.113.7", length: line.utf8.count))
        let six = "PROXY TCP6 2001:db8::7 2001:db8::1 56324 443\r\n"
        #expect(v1(six) == .header(source: "2001:db8::7", length: six.utf8.count))
        #expect(v1("PROXY UNKNOWN\r\n") == .header(source: nil, length: 15))
        #expect(v1("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n") == .header(source: nil, length: 35))
    }

    @Test(arguments: ["", "P", "PROXY", "PROXY TCP4 203.0.113.7 10.0.0.1 56324", "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r"])
    func v1Truncated(text: String) {
        #expect(v1(text) == .incomplete)
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\n", "PROXX TCP4", "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\n", "PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n",
        "PROXY TCP4 2001:db8::7 10.0.0.1 1 2\r\n", "PROXY TCP4 1.2.3.4 10.0.0.1 1 70000\r\n", "PROXY TCP4 1.2.3.4 10.0.0.1 1\r\n",
        "PROXY TCP4 1.2.3.4  10.0.0.1 1 2\r\n", "PROXY TCP6 1.2.3.4 1.2.3.5 1 2\r\n",
    ])
    func v1Invalid(text: String) {
        guard case .invalid = v1(text) else {
            Issue.record("\(text.debugDescription) was not refused")
            return
        }
    }

    @Test func v1WithoutALineWithin107BytesIsInvalid() {
        guard case .invalid = v1("PROXY TCP4 " + String(repeating: "1", count: 120)) else {
            Issue.record("accepted")
            return
        }
    }

    private let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    private func v2(command: UInt8 = 0x21, family: UInt8, addresses: [UInt8], declaredLength: Int? = nil) -> [UInt8] {
        let length = declaredLength ?? addresses.count
        return signature + [command, family, UInt8(length >> 8), UInt8(length & 0xFF)] + addresses
    }

    @Test func v2Headers() {
        let ipv4 = v2(family: 0x11, addresses: [203, 0, 113, 7, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB])
        #expect(ProxyProtocolHeader.parse(ipv4 + Array("GET".utf8)) == .header(source: "203.0.113.7", length: 28))
        let source: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [7]
        let ipv6 = v2(family: 0x21, addresses: source + [UInt8](repeating: 0, count: 16) + [0, 1, 0, 2])
        #expect(ProxyProtocolHeader.parse(ipv6) == .header(source: "2001:db8::7", length: 52))
        // TLVs after the addresses are skipped with them.
        let withTLV = v2(family: 0x11, addresses: [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2] + [0x04, 0x00, 0x01, 0x00])
        #expect(ProxyProtocolHeader.parse(withTLV) == .header(source: "1.2.3.4", length: 32))
        // LOCAL (a balancer's health check) and an unspecified family: the TCP peer stands.
        #expect(ProxyProtocolHeader.parse(v2(command: 0x20, family: 0x00, addresses: [])) == .header(source: nil, length: 16))
        #expect(ProxyProtocolHeader.parse(v2(family: 0x00, addresses: [])) == .header(source: nil, length: 16))
    }

    @Test func v2TruncatedWaitsForMore() {
        let full = v2(family: 0x11, addresses: [203, 0, 113, 7, 10, 0, 0, 1, 0xDC, 0x04, 0x01, 0xBB])
        for count in [1, 5, 12, 15, 16, 27] {
            #expect(ProxyProtocolHeader.parse(full.prefix(count)) == .incomplete, "\(count) bytes")
        }
    }

    @Test func v2Invalid() {
        let cases: [(String, [UInt8])] = [
            ("wrong signature", [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B, 0x21, 0x11, 0, 0]),
            ("version 1", v2(command: 0x11, family: 0x11, addresses: [UInt8](repeating: 0, count: 12))),
            ("command 2", v2(command: 0x22, family: 0x11, addresses: [UInt8](repeating: 0, count: 12))),
            ("IPv4 too short", v2(family: 0x11, addresses: [1, 2, 3, 4])),
            ("IPv6 too short", v2(family: 0x21, addresses: [UInt8](repeating: 1, count: 20))),
            ("oversize", v2(family: 0x11, addresses: [UInt8](repeating: 0, count: 12), declaredLength: 60_000)),
        ]
        for (name, bytes) in cases {
            guard case .invalid = ProxyProtocolHeader.parse(bytes) else {
                Issue.record("\(name) was not refused")
                continue
            }
        }
    }
}
