/// Parses configuration durations: `500ms`, `10s`, `2m`, `1h`, or a plain number of seconds.
public enum DurationParser {
    /// Returns the duration, or `nil` when the text is not a duration or is negative.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingWhitespace()
        let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "10ms" also ends in "s": the longer suffix is tried first, so a number that does
            // not parse here is simply not this unit.
            guard let value = Double(number), value >= 0, value.isFinite else { continue }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        guard let seconds = Double(trimmed), seconds >= 0, seconds.isFinite else { return nil }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// Decodes a duration field: a string with a unit or a number of seconds.
    static func parse(_ value: ConfigValue) -> Duration? {
        switch value {
        case .string(let text): return parse(text)
        case .integer(let seconds) where seconds >= 0: return .seconds(seconds)
        case .double(let seconds) where seconds >= 0 && seconds.isFinite:
            return .milliseconds(Int64((seconds * 1000).rounded()))
        default: return nil
        }
    }
}

extension Duration {
    /// The duration as a compact configuration string (`1500ms`, `30s`), the inverse of
    /// ``DurationParser/parse(_:)-swift.type.method``.
    public var configString: String {
        let ms = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }

    /// The duration in whole milliseconds, rounded down.
    public var wholeMilliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and line breaks.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }),
            let end = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[start...end])
    }
}
