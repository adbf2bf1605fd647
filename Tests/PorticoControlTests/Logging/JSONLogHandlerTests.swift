import Foundation
import Logging
import PorticoControl
import Synchronization
import Testing

/// One JSON object per line: fixed fields first, then every metadata key in order, the
/// event's winning over the provider's and the handler's.
@Suite struct JSONLogHandlerTests {
    private final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func aLineHasTheFieldsThenTheMetadataSortedWithTheEventsWinning() throws {
        let lines = Lines()
        var handler = JSONLogHandler(label: "portico.access", write: { lines.append($0) })
        handler.metadata = ["log": "access", "shared": "handler", "only-handler": "h"]
        handler.metadataProvider = Logger.MetadataProvider { ["shared": "provider", "provided": "p"] }
        var logger = Logger(label: "portico.access") { _ in handler }
        logger.logLevel = .info
        logger.info("request", metadata: ["status": "200", "shared": "event", "path": "/a\"b", "message": "ignored"])
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(object["level"] == "info")
        #expect(object["label"] == "portico.access")
        #expect(object["message"] == "request")
        #expect(object["shared"] == "event")
        #expect(object["provided"] == "p")
        #expect(object["only-handler"] == "h")
        #expect(object["path"] == "/a\"b")
        let time = try #require(object["time"])
        #expect(time.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"#, options: .regularExpression) != nil, "\(time)")
        // Fixed fields first, then the keys in order.
        let keys = line.split(separator: ",").compactMap { $0.split(separator: ":").first.map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "{\"")) } }
        #expect(Array(keys.prefix(4)) == ["time", "level", "label", "message"])
        #expect(Array(keys.dropFirst(4)) == ["log", "only-handler", "path", "provided", "shared", "status"])
    }
}
