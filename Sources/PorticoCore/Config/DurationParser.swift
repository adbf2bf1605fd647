/// Parses configuration durations: `500ms`, `10s`, `2m`, `1h`, or a plain number of seconds.
///
/// Every duration is bounded by ``maximumSeconds``: a value that does not fit (`1e308`, `2^64`,
/// `"99999999999999999999s"`) is refused like any other invalid one, never converted with a trap.
public enum DurationParser {
    /// The longest duration accepted anywhere, in seconds: a year. Far beyond any timeout or
    /// interval a gateway needs, and small enough that every conversion downstream
    /// (milliseconds in `Int64`, NIO's nanosecond `TimeAmount`, a deadline added to the
    /// uptime clock) fits.
    static let maximumSeconds = 365 * 24 * 3600

    /// Returns the duration, or `nil` when the text is not a duration, is negative or is
    /// longer than ``maximumSeconds``.
    public static func parse(_ text: String) -> Duration? {
        if case .duration(let duration) = read(text) { return duration }
        return nil
    }

    /// What a duration field holds: a duration, one longer than ``maximumSeconds``, or no duration.
    enum Reading: Equatable {
        case duration(Duration)
        case tooLong
        case invalid
    }

    /// Reads a text duration with its unit, or a plain number of seconds.
    static func read(_ text: String) -> Reading {
        let trimmed = text.trimmingWhitespace()
        let units: [(suffix: String, scale: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "10ms" also ends in "s": the longer suffix is tried first, so a number that does
            // not parse here is simply not this unit.
            guard let value = Double(number) else { continue }
            return read(value, scale: scale)
        }
        guard let seconds = Double(trimmed) else { return .invalid }
        return read(seconds, scale: 1)
    }

    /// Reads a duration field: a string with a unit or a number of seconds.
    static func read(_ value: ConfigValue) -> Reading {
        switch value {
        case .string(let text): return read(text)
        case .integer(let seconds) where seconds < 0: return .invalid
        case .integer(let seconds): return seconds <= maximumSeconds ? .duration(.seconds(seconds)) : .tooLong
        case .double(let seconds): return read(seconds, scale: 1)
        default: return .invalid
        }
    }

    /// `value` units of `scale` seconds as whole milliseconds, when that is finite, not
    /// negative and within ``maximumSeconds``; checked before any conversion to an integer.
    private static func read(_ value: Double, scale: Double) -> Reading {
        let milliseconds = (value * scale * 1000).rounded()
        guard !milliseconds.isNaN, milliseconds >= 0 else { return .invalid }
        guard milliseconds <= Double(maximumSeconds) * 1000 else { return .tooLong }
        return .duration(.milliseconds(Int64(milliseconds)))
    }
}

extension Duration {
    /// The duration as a compact configuration string (`1500ms`, `30s`), the inverse of
    /// ``DurationParser/parse(_:)-swift.type.method``.
    public var configString: String {
        let ms = wholeMilliseconds
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }

    /// The duration in whole milliseconds, rounded down; saturates at `Int64.max` and
    /// `Int64.min` instead of overflowing.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        let (total, overflowAgain) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        guard !overflow, !overflowAgain else { return seconds < 0 ? .min : .max }
        return total
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
