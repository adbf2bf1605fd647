import PorticoCore
import Testing

@Suite struct CompressionPolicyTests {
    @Test(arguments: [
        ("gzip", true), ("gzip, deflate, br", true), ("br;q=1.0, gzip;q=0.8", true), ("gzip;q=0", false),
        ("*", true), ("*;q=0", false), ("identity", false), ("", false), ("GZIP", true), ("*, gzip;q=0", false),
        ("deflate, x-gzip", true),
    ])
    func negotiatesAcceptEncoding(header: String, accepts: Bool) {
        #expect(CompressionPolicy.acceptsGzip([header]) == accepts)
    }

    @Test(arguments: [
        ("text/html; charset=utf-8", true), ("application/json", true), ("application/problem+json", true),
        ("application/javascript", true), ("text/javascript", true), ("application/xml", true), ("image/svg+xml", true),
        ("image/png", false), ("application/octet-stream", false), ("video/mp4", false),
    ])
    func knowsCompressibleTypes(type: String, compressible: Bool) {
        #expect(CompressionPolicy.isCompressible(contentType: type) == compressible)
    }

    @Test func eligibilityFollowsTheSpec() {
        func eligible(_ method: String = "GET", status: Int = 200, type: String? = "application/json", encoding: String? = nil,
                      length: Int? = 5000) -> Bool {
            CompressionPolicy.isEligible(
                requestMethod: method, status: status, contentType: type, contentEncoding: encoding, contentLength: length)
        }
        #expect(eligible())
        #expect(eligible(length: nil))  // unknown length
        #expect(!eligible(length: 1023))
        #expect(eligible(length: 1024))
        #expect(!eligible("HEAD"))
        #expect(!eligible(status: 204))
        #expect(!eligible(status: 304))
        #expect(!eligible(encoding: "br"))
        #expect(eligible(encoding: "identity"))
        #expect(!eligible(type: "image/png"))
        #expect(!eligible(type: nil))
    }
}
