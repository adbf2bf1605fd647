/// Reads JSON text (RFC 8259) into a ``ConfigValue`` in one pass over its bytes: the admin
/// API's bodies and the stores' documents. `JSONDecoder` through `Codable` tries each kind of
/// value in turn and pays an error, with its coding path, for every wrong guess; on a
/// 10,000-route `PUT /v1/config` that was most of the answer's time.
///
/// It reads what `JSONDecoder` reads into the same tree (JSONReaderTests compares them on
/// random and mutated documents): object keys sorted, the first of a repeated key kept, a
/// comma before a closing bracket allowed (as `JSONDecoder` allows it), a
/// number without fraction or exponent that fits `Int` an integer and any other a double (an
/// integral one in `Int`'s range too, as `JSONDecoder` gives it to `Int`), and it refuses
/// what `JSONDecoder` refuses: invalid UTF-8, unescaped control characters, lone surrogates,
/// numbers out of `Double`'s range, nesting deeper than ``maximumDepth``.
public enum JSONReader {
    /// The deepest nesting of arrays and objects read.
    public static let maximumDepth = 512

    /// Reads one JSON value, with optional whitespace around it.
    public static func read(_ bytes: UnsafeRawBufferPointer) throws(JSONReadError) -> ConfigValue {
        var reader = Reader(bytes: bytes)
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.index == bytes.count else { throw reader.error("unexpected text after the value") }
        return value
    }

    /// Reads one JSON value from `text`.
    public static func read(_ text: String) throws(JSONReadError) -> ConfigValue {
        var text = text
        return try text.withUTF8 { bytes in
            Result { () throws(JSONReadError) in try read(UnsafeRawBufferPointer(bytes)) }
        }.get()
    }
}

/// Why JSON text was refused, and where.
public struct JSONReadError: Error, CustomStringConvertible, Sendable {
    /// The byte offset of the problem.
    public var offset: Int
    public var reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

private struct Reader {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    func error(_ reason: String) -> JSONReadError { JSONReadError(offset: index, reason: reason) }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    mutating func expect(_ literal: StaticString, _ value: ConfigValue) throws(JSONReadError) -> ConfigValue {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { throw error("unexpected end of text") }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] {
            throw error("unexpected character")
        }
        index += count
        return value
    }

    mutating func value(depth: Int) throws(JSONReadError) -> ConfigValue {
        guard let byte = current else { throw error("unexpected end of text") }
        switch byte {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    mutating func object(depth: Int) throws(JSONReadError) -> ConfigValue {
        guard depth <= JSONReader.maximumDepth else { throw error("nested too deeply") }
        index += 1  // {
        var members: [(key: String, value: ConfigValue)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object([])
        }
        while true {
            skipWhitespace()
            if current == UInt8(ascii: "}"), !members.isEmpty {  // after a trailing comma
                index += 1
                return .object(Self.sortedKeepingFirst(members))
            }
            guard current == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            members.append((key, try value(depth: depth)))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ",")?: index += 1
            case UInt8(ascii: "}")?:
                index += 1
                return .object(Self.sortedKeepingFirst(members))
            default: throw error("expected ',' or '}'")
            }
        }
    }

    /// Keys sorted, as the Codable decoder gives them; of a repeated key, the first value.
    static func sortedKeepingFirst(_ members: [(key: String, value: ConfigValue)]) -> [(key: String, value: ConfigValue)] {
        // Stable: equal keys keep their order, and the first of each run is kept.
        let sorted = members.enumerated().sorted { $0.element.key < $1.element.key || ($0.element.key == $1.element.key && $0.offset < $1.offset) }
        var result: [(key: String, value: ConfigValue)] = []
        result.reserveCapacity(sorted.count)
        for (_, member) in sorted {
            if result.last?.key != member.key { result.append(member) }
        }
        return result
    }

    mutating func array(depth: Int) throws(JSONReadError) -> ConfigValue {
        guard depth <= JSONReader.maximumDepth else { throw error("nested too deeply") }
        index += 1  // [
        var items: [ConfigValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array([])
        }
        while true {
            skipWhitespace()
            if current == UInt8(ascii: "]"), !items.isEmpty {  // after a trailing comma
                index += 1
                return .array(items)
            }
            items.append(try value(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ",")?: index += 1
            case UInt8(ascii: "]")?:
                index += 1
                return .array(items)
            default: throw error("expected ',' or ']'")
            }
        }
    }

    mutating func string() throws(JSONReadError) -> String {
        index += 1  // "
        let start = index
        // The common case: no escapes, one validated copy.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw error("a control character in a string") }
            index += 1
        }
        guard let stop = current else { throw error("unterminated string") }
        if stop == UInt8(ascii: "\"") {
            guard let text = String(validating: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) else {
                throw error("invalid UTF-8")
            }
            index += 1
            return text
        }
        var decoded = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        while true {
            guard let byte = current else { throw error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: decoded, as: UTF8.self) else { throw error("invalid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                try escape(into: &decoded)
            case ..<0x20:
                throw error("a control character in a string")
            default:
                decoded.append(byte)
                index += 1
            }
        }
    }

    mutating func escape(into decoded: inout [UInt8]) throws(JSONReadError) {
        guard let byte = current else { throw error("unterminated escape") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(byte)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try hex4())
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by an escaped low one.
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw error("a lone surrogate")
                }
                index += 2
                let low = UInt32(try hex4())
                guard (0xDC00...0xDFFF).contains(low) else { throw error("a lone surrogate") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("a lone surrogate")
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw error("an invalid escape") }
            decoded.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw error("an invalid escape")
        }
    }

    mutating func hex4() throws(JSONReadError) -> UInt16 {
        guard bytes.count - index >= 4 else { throw error("unterminated escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("an invalid escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    mutating func digits() -> Int {
        let start = index
        while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        return index - start
    }

    mutating func number() throws(JSONReadError) -> ConfigValue {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        let integerStart = index
        let integerDigits = digits()
        guard integerDigits > 0 else { throw error("a number without digits") }
        if integerDigits > 1, bytes[integerStart] == UInt8(ascii: "0") { throw error("a number with a leading zero") }
        var isInteger = true
        if current == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw error("a fraction without digits") }
            isInteger = false
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw error("an exponent without digits") }
            isInteger = false
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        if isInteger, let integer = Int(text) { return .integer(integer) }
        guard let double = Double(text), double.isFinite else { throw error("a number out of range") }
        if let integer = Int(exactly: double) { return .integer(integer) }
        return .double(double)
    }
}
