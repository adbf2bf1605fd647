import Foundation
import Logging
import NIOCore
import NIOEmbedded
import PorticoControl
import PorticoCore
import Synchronization
import Testing

@testable import PorticoProxy

/// The data plane's own JSON access-log lines: the same object, keys in the same order, as
/// the JSON log handler writes for the same exchange, in writes of whole lines.
@Suite struct AccessLogLinesTests {
    private final class Writes: Sendable {
        let writes = Mutex<[[UInt8]]>([])
        func append(_ bytes: UnsafeRawBufferPointer) { writes.withLock { $0.append(Array(bytes)) } }
        var all: [[UInt8]] { writes.withLock { $0 } }
        var lines: [String] { all.flatMap { String(decoding: $0, as: UTF8.self).split(separator: "\n").map(String.init) } }
    }

    private func record(path: String = "/shop/a\"b\\c\u{1}\t", trace: Bool = true) -> ExchangeRecord {
        var record = ExchangeRecord(
            method: "POST", path: path, host: "shop.example.com", requestID: "abc-1", client: "192.0.2.7", routeName: "shop",
            startTime: .uptimeNanoseconds(0))
        record.status = 502
        record.bytesIn = 12
        record.bytesOut = 3456
        record.failureReason = "upstream \"reset\""
        record.endpoint = Endpoint(host: "::1", port: 8080)
        if trace {
            var dice: [UInt64] = [0x1111, 0x2222, 0x3333]
            record.trace = RequestTrace(traceparent: nil, tracestate: nil, sampleRate: 1, random: { dice.removeFirst() })
        }
        return record
    }

    /// The line the JSON log handler writes through the access logger, and the buffer's.
    private func bothLines(_ record: ExchangeRecord) throws -> (handler: String, buffer: String) {
        let handlerLines = Mutex<[String]>([])
        var logger = Logger(label: "portico") { label in
            var handler = JSONLogHandler(label: label, write: { line in handlerLines.withLock { $0.append(line) } })
            handler.logLevel = .info
            return handler
        }
        logger[metadataKey: "log"] = "access"
        let metrics = RequestMetricsCache(metrics: .discarding)
        ExchangeRecorder(accessLogger: logger, accessLog: nil, metrics: metrics, spans: nil)
            .record(record, now: .uptimeNanoseconds(1_234_567))
        let loop = EmbeddedEventLoop()
        let writes = Writes()
        let buffer = AccessLogBuffer(eventLoop: loop, label: "portico", write: writes.append)
        ExchangeRecorder(accessLogger: logger, accessLog: buffer, metrics: metrics, spans: nil)
            .record(record, now: .uptimeNanoseconds(1_234_567))
        #expect(writes.all.isEmpty)  // written once the loop's current work is done
        loop.run()
        return (try #require(handlerLines.withLock { $0.first }), try #require(writes.lines.first) + "\n")
    }

    private func keys(_ line: String) -> [String] {
        // The keys in order: each `"key":` at the top level (no value here holds `":"`).
        line.matches(of: /"([a-zA-Z_.]+)":"/).map { String($0.output.1) }
    }

    @Test(arguments: [true, false])
    func theLineIsTheHandlersLine(trace: Bool) throws {
        let (handler, buffer) = try bothLines(record(trace: trace))
        #expect(keys(buffer) == keys(handler))
        let expected = try #require(try JSONSerialization.jsonObject(with: Data(handler.utf8)) as? [String: String])
        let written = try #require(try JSONSerialization.jsonObject(with: Data(buffer.utf8)) as? [String: String])
        #expect(written.keys.sorted() == expected.keys.sorted())
        for (key, value) in expected where key != "time" && key != "duration_ms" {
            #expect(written[key] == value, "\(key)")
        }
        #expect(written["path"] == "/shop/a\"b\\c\u{1}\t")
        #expect(abs((Double(written["duration_ms"] ?? "") ?? -1) - (Double(expected["duration_ms"] ?? "") ?? 1)) < 0.001)
        let time = try #require(written["time"])
        #expect(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(time)")
        #expect(buffer.hasSuffix("}\n"))
    }

    @Test func linesAreWrittenWholeInPiecesAPipeTakesAtOnce() throws {
        let loop = EmbeddedEventLoop()
        let writes = Writes()
        let buffer = AccessLogBuffer(eventLoop: loop, label: "portico", write: writes.append)
        let long = "/" + String(repeating: "x", count: 5000)
        for index in 0..<100 {
            buffer.append(record(path: index == 50 ? long : "/\(index)"), elapsedNanoseconds: 1_500_000, now: 1_764_620_515_123_000_000)
        }
        loop.run()
        #expect(writes.lines.count == 100)
        for write in writes.all {
            #expect(write.last == UInt8(ascii: "\n"))
            // Only the one longer line exceeds a pipe's atomic write, and goes alone.
            if write.count > StandardError.atomicWriteLimit {
                #expect(write.filter { $0 == UInt8(ascii: "\n") }.count == 1)
            }
        }
        #expect(writes.all.count < 40)
        #expect(writes.lines[50].contains(long))
        #expect(writes.lines[0].hasPrefix(#"{"time":"2025-12-01T20:21:55.123Z","level":"info""#))
        #expect(writes.lines[0].contains(#""duration_ms":"1.500""#))
    }
}
