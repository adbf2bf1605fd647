/// JSON text of the generic tree, written directly (no `Codable` boxing): what the stores keep
/// and the admin API answers. A 10,000-route table is written several times per change
/// (definitions, snapshot, answer), and `JSONEncoder` spent most of a change's time on it.
extension ConfigValue {
    /// Why a tree has no JSON text.
    public struct JSONWriteError: Error, CustomStringConvertible {
        public let description: String
    }

    /// UTF-8 JSON; with `sortedKeys`, each object's keys in order (what `JSONEncoder`'s
    /// `.sortedKeys` writes), else in the tree's order. Throws for a number that is not finite.
    public func jsonBytes(sortedKeys: Bool = false) throws(JSONWriteError) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256)
        try write(into: &bytes, sortedKeys: sortedKeys)
        return bytes
    }

    private func write(into bytes: inout [UInt8], sortedKeys: Bool) throws(JSONWriteError) {
        switch self {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let flag): bytes.append(contentsOf: (flag ? "true" : "false").utf8)
        case .integer(let number): bytes.append(contentsOf: String(number).utf8)
        case .double(let number):
            guard number.isFinite else { throw JSONWriteError(description: "\(number) is not a JSON number") }
            bytes.append(contentsOf: number.description.utf8)
        case .string(let text): Self.writeString(text, into: &bytes)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                try item.write(into: &bytes, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let pairs):
            bytes.append(UInt8(ascii: "{"))
            let ordered = sortedKeys ? pairs.sorted { $0.key < $1.key } : pairs
            for (index, pair) in ordered.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.writeString(pair.key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                try pair.value.write(into: &bytes, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string: quote, backslash and control characters escaped, the rest as UTF-8.
    private static func writeString(_ text: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                bytes.append(contentsOf: #"\u00"#.utf8)
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
