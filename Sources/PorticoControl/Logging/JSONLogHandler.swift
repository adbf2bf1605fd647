import Foundation
import Logging
import PorticoCore
import PorticoProxy
import Synchronization

/// Writes one JSON object per line to standard error, for Loki and other log collectors:
/// `time` (RFC 3339, milliseconds), `level`, `label`, `message`, then every metadata key.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let write: @Sendable (String) -> Void

    public init(label: String, write: @escaping @Sendable (String) -> Void = JSONLogHandler.writeToStandardError) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The event's metadata wins over the provider's, which wins over the handler's. Read
        // in place rather than merged into a new dictionary: a line is written per request.
        let extra = event.metadata ?? [:]
        let provided = metadataProvider?.get() ?? [:]
        var keys = Array(extra.keys)
        keys.reserveCapacity(extra.count + provided.count + metadata.count)
        for key in provided.keys where extra[key] == nil { keys.append(key) }
        for key in metadata.keys where extra[key] == nil && provided[key] == nil { keys.append(key) }
        keys.sort()
        var line = #"{"time":""#
        line.reserveCapacity(512)
        line += Self.timestamp()
        line += #"","level":""#
        line += event.level.rawValue
        line += #"","label":""#
        line += JSONText.escape(label)
        line += #"","message":""#
        line += JSONText.escape(event.message.description)
        line += "\""
        for key in keys where !Self.reservedKeys.contains(key) {
            guard let value = extra[key] ?? provided[key] ?? metadata[key] else { continue }
            line += #",""#
            line += JSONText.escape(key)
            line += #"":""#
            line += JSONText.escape(value.description)
            line += "\""
        }
        line += "}\n"
        write(line)
    }

    private static let reservedKeys: Set<String> = ["time", "level", "label", "message"]

    /// Writes a line to standard error in one `write(2)`, so lines from several threads never
    /// interleave; straight from the string's bytes, without a `Data` copy or `FileHandle`.
    public static let writeToStandardError: @Sendable (String) -> Void = { line in
        var line = line
        line.withUTF8 { StandardError.write(UnsafeRawBufferPointer($0)) }
    }

    /// The RFC 3339 text of the current second, made once per second rather than per line.
    private static let formattedSecond = Mutex<(second: Int, text: Substring)>((-1, ""))

    private static func timestamp() -> String {
        let now = Date().timeIntervalSince1970
        let second = Int(now.rounded(.down))
        let base = formattedSecond.withLock { cached in
            if cached.second != second {
                cached = (second, RFC3339.format(secondsSince1970: now).dropLast())  // without its Z
            }
            return cached.text
        }
        let milliseconds = min(999, max(0, Int((now - now.rounded(.down)) * 1000)))
        let fraction = String(milliseconds + 1000).dropFirst()
        return base + "." + fraction + "Z"
    }
}
