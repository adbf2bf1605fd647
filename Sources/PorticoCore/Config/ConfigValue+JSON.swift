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
        case .integer(let number): TextBytes.appendDecimal(number, to: &bytes)
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
            // Sorted only when not already: documents read by `JSONReader` come sorted.
            let ordered = sortedKeys && !pairs.isSortedByKey ? pairs.sorted { $0.key < $1.key } : pairs
            for (index, pair) in ordered.enumerated() {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                Self.writeString(pair.key, into: &bytes)
                bytes.append(UInt8(ascii: ":"))
                try pair.value.write(into: &bytes, sortedKeys: sortedKeys)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// A JSON string: quote, backslash and control characters escaped, the rest as UTF-8.
    private static func writeString(_ text: String, into bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        TextBytes.appendJSONEscaped(text, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }
}

extension [(key: String, value: ConfigValue)] {
    fileprivate var isSortedByKey: Bool {
        indices.dropFirst().allSatisfy { self[$0 - 1].key < self[$0].key }
    }
}
