/// JSON through `Codable` to and from the generic tree. The admin API and the stores read
/// with ``JSONReader`` (which its tests compare with this decoder). Decoding tries a string
/// first, which holds for decoders that refuse a number or flag as a string, as JSON's does;
/// YAML is read by the route file decoder, not through Codable.
extension ConfigValue: Codable {
    private struct MemberKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Each kind is tried in turn, and a wrong guess costs the decoder an error (with its
    /// coding path): strings, the most common values of a configuration, are tried first,
    /// then objects and arrays, then numbers and flags.
    public init(from decoder: any Decoder) throws {
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
            return
        }
        if let text = try? single.decode(String.self) {
            self = .string(text)
            return
        }
        if let object = try? decoder.container(keyedBy: MemberKey.self) {
            // Keys sorted: JSON objects carry no order, and a stable one keeps output stable.
            self = .object(
                try object.allKeys.sorted { $0.stringValue < $1.stringValue }.map { key in
                    (key: key.stringValue, value: try object.decode(ConfigValue.self, forKey: key))
                })
            return
        }
        if var array = try? decoder.unkeyedContainer() {
            var items: [ConfigValue] = []
            while !array.isAtEnd {
                items.append(try array.decode(ConfigValue.self))
            }
            self = .array(items)
            return
        }
        if let number = try? single.decode(Int.self) {
            self = .integer(number)
        } else if let flag = try? single.decode(Bool.self) {
            self = .bool(flag)
        } else {
            self = .double(try single.decode(Double.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var single = encoder.singleValueContainer()
            try single.encodeNil()
        case .bool(let flag):
            var single = encoder.singleValueContainer()
            try single.encode(flag)
        case .integer(let number):
            var single = encoder.singleValueContainer()
            try single.encode(number)
        case .double(let number):
            var single = encoder.singleValueContainer()
            try single.encode(number)
        case .string(let text):
            var single = encoder.singleValueContainer()
            try single.encode(text)
        case .array(let items):
            var array = encoder.unkeyedContainer()
            for item in items { try array.encode(item) }
        case .object(let pairs):
            var object = encoder.container(keyedBy: MemberKey.self)
            for (key, value) in pairs { try object.encode(value, forKey: MemberKey(stringValue: key)) }
        }
    }
}

extension ConfigValue {
    /// The keys of an object, in order; empty for other kinds.
    public var objectKeys: [String] {
        guard case .object(let pairs) = self else { return [] }
        return pairs.map(\.key)
    }

    /// The value of a key of an object; `nil` for other kinds or a missing key.
    public subscript(key: String) -> ConfigValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }
}
