@testable import PorticoProxy
import Testing

/// `X-Request-Id` values the gateway makes: the process's prefix, `-`, and the counter in
/// lower-case hex, without leading zeros.
@Suite struct RequestIDGeneratorTests {
    @Test(arguments: [
        (0, "p-1"), (8, "p-9"), (9, "p-a"), (14, "p-f"), (15, "p-10"), (254, "p-ff"), (4095, "p-1000"),
        (UInt64.max - 1, "p-ffffffffffffffff"), (UInt64.max, "p-0"), (0x7FFF_FFFF_FFFF_FFFE, "p-7fffffffffffffff"),
    ] as [(UInt64, String)])
    func theCounterIsWrittenInHex(last: UInt64, expected: String) {
        #expect(RequestIDGenerator(prefix: "p", last: last).next() == expected)
    }

    @Test func valuesFollowTheCounterAfterARandomPrefix() {
        let generator = RequestIDGenerator()
        let first = generator.next()
        let prefix = first.prefix(16)
        #expect(first == prefix + "-1")
        #expect(prefix.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        for counter in 2...300 {
            #expect(generator.next() == prefix + "-" + String(counter, radix: 16))
        }
    }
}
