/// Text written straight into bytes, for the writers that build JSON and other output
/// without intermediate strings (the admin API's JSON, access-log lines, OTLP exports).
public enum TextBytes {
    public static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `value` in decimal.
    public static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let start = bytes.count
        var rest = value.magnitude
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes[start...].reverse()
    }

    /// Each byte as two lower-case hex digits.
    public static func appendHex(_ raw: some Sequence<UInt8>, to bytes: inout [UInt8]) {
        for byte in raw {
            bytes.append(hexDigits[Int(byte >> 4)])
            bytes.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    /// UTF-8 text for between JSON double quotes, as ``JSONText/escape(_:)`` writes it: quote,
    /// backslash and control characters escaped, the rest as it is.
    public static func appendJSONEscaped(_ text: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        // Most text needs no escaping: appended whole.
        if !text.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return bytes.append(contentsOf: text)
        }
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                bytes.append(contentsOf: #"\u00"#.utf8)
                appendHex(CollectionOfOne(byte), to: &bytes)
            default: bytes.append(byte)
            }
        }
    }

    /// ``appendJSONEscaped(_:to:)`` for a string.
    public static func appendJSONEscaped(_ text: String, to bytes: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendJSONEscaped($0, to: &bytes) }
    }
}
