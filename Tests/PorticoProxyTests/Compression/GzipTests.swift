import CompressNIO
import NIOCore
import NIOHTTP1
import PorticoProxy
import PorticoTestSupport
import Testing

private func gzipRoutes(_ port: Int) -> String {
    """
    upstreams: [{ name: app, endpoints: ["127.0.0.1:\(port)"] }]
    routes:
      - { name: plain, match: { path: { prefix: /plain } }, upstream: app, compression: false, rewrite: { prefix: / } }
      - { name: app, upstream: app }
    """
}

private let acceptGzip: [(String, String)] = [("host", "a"), ("accept-encoding", "br;q=1.0, gzip;q=0.8")]

/// Decompresses a whole gzip body (tests only; bodies here are a few hundred KiB).
private func gunzip(_ body: [UInt8]) throws -> [UInt8] {
    var buffer = ByteBuffer(bytes: body)
    return Array(try buffer.decompress(with: .gzip()).readableBytesView)
}

@Suite struct GzipTests {
    @Test func compressibleBodiesAreGzippedAndDecodeToTheSameBytes() async throws {
        try await withGateway(routes: gzipRoutes) { gateway, _ in
            for query in ["bytes=300000&type=application/json", "bytes=300000&type=text/html&chunked=1"] {
                let response = try await gateway.client.send(.GET, "/download?\(query)", headers: acceptGzip, keepBodyUpTo: 0)
                #expect(response.headers["content-encoding"] == ["gzip"])
                #expect(response.headers["content-length"].isEmpty)
                #expect(response.headers["vary"].contains("Accept-Encoding"))
                #expect(response.checksum.length < 300_000)
            }
        }
    }

    @Test func theGzippedBodyDecodesByteForByte() async throws {
        try await withGateway(routes: gzipRoutes) { gateway, _ in
            let response = try await gateway.client.send(
                .GET, "/download?bytes=200000&type=application/json", headers: acceptGzip, keepBodyUpTo: 1 << 22)
            #expect(response.headers["content-encoding"] == ["gzip"])
            var decoded = BodyChecksum()
            decoded.update(ByteBuffer(bytes: try gunzip(response.bytes)))
            #expect(decoded == TestBody.checksum(total: 200_000, chunkSize: 64 * 1024))
        }
    }

    @Test(arguments: [
        ("/download?bytes=300000&type=application/json", [("host", "a")], "no Accept-Encoding"),
        ("/download?bytes=300000&type=application/json", [("host", "a"), ("accept-encoding", "gzip;q=0")], "gzip refused"),
        ("/download?bytes=500&type=application/json", acceptGzip, "under 1 KiB"),
        ("/download?bytes=300000&type=image/png", acceptGzip, "not compressible"),
        ("/download?bytes=300000&type=application/json&encoding=br", acceptGzip, "already encoded"),
        ("/plain/download?bytes=300000&type=application/json", acceptGzip, "compression: false"),
    ] as [(String, [(String, String)], String)])
    func otherResponsesPassUntouched(uri: String, headers: [(String, String)], reason: String) async throws {
        try await withGateway(routes: gzipRoutes) { gateway, _ in
            let response = try await gateway.client.send(.GET, uri, headers: headers, keepBodyUpTo: 0)
            #expect(response.headers["content-encoding"] != ["gzip"], "\(reason)")
            let size = Int(uri.split(separator: "=")[1].split(separator: "&")[0])!
            #expect(response.checksum.length == size, "\(reason)")
        }
    }

    @Test func headResponsesAreNotCompressed() async throws {
        try await withGateway(routes: gzipRoutes) { gateway, _ in
            let response = try await gateway.client.send(.HEAD, "/download?bytes=300000&type=application/json", headers: acceptGzip)
            #expect(response.headers["content-encoding"].isEmpty)
            #expect(response.headers["content-length"] == ["300000"])
        }
    }
}
