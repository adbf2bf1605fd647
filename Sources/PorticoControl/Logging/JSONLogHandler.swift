import Foundation
import Logging
import PorticoCore

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
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
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
        for key in merged.keys.sorted() where !Self.reservedKeys.contains(key) {
            line += #",""#
            line += JSONText.escape(key)
            line += #"":""#
            line += JSONText.escape(merged[key]!.description)
            line += "\""
        }
        line += "}\n"
        write(line)
    }

    private static let reservedKeys: Set<String> = ["time", "level", "label", "message"]

    /// Writes a line to standard error in one call, so lines from several threads never interleave.
    public static let writeToStandardError: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func timestamp() -> String {
        let now = Date().timeIntervalSince1970
        let base = RFC3339.format(secondsSince1970: now)
        let milliseconds = Int((now - now.rounded(.down)) * 1000)
        let fraction = String(milliseconds + 1000).dropFirst()
        return base.dropLast() + "." + fraction + "Z"
    }
}
