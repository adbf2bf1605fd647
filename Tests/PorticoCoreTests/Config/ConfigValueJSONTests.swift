import Foundation
import PorticoCore
import Testing

/// ConfigValue's own JSON writer reads back, through `JSONDecoder`, to the tree it wrote, and
/// agrees with `JSONEncoder` on every tree, tricky strings and numbers included.
struct ConfigValueJSONTests {
    /// SplitMix64, seeded: the same trees every run (JSONReaderTests rolls it too).
    struct Dice {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    private static let strings = ["", "plain", "quote\"d", "back\\slash", "line\nbreak\r\ttab", "\u{0}\u{1}\u{1f}", "é ü 日本 🚀", "/a/b", "\u{7f}"]
    private static let doubles = [0.5, -0.0, 1e300, -2.5e-10, 3.141592653589793, 100.25]

    private func tree(_ dice: inout Dice, depth: Int) -> ConfigValue {
        switch dice.below(depth > 3 ? 5 : 7) {
        case 0: return .null
        case 1: return .bool(dice.below(2) == 0)
        case 2: return .integer([0, 1, -1, Int.max, Int.min, 42][dice.below(6)])
        case 3: return .double(Self.doubles[dice.below(Self.doubles.count)])
        case 4: return .string(Self.strings[dice.below(Self.strings.count)])
        case 5: return .array((0..<dice.below(4)).map { _ in tree(&dice, depth: depth + 1) })
        default:
            var keys = Set<String>()
            var pairs: [(key: String, value: ConfigValue)] = []
            for _ in 0..<dice.below(4) {
                let key = Self.strings[dice.below(Self.strings.count)] + String(dice.below(3))
                guard keys.insert(key).inserted else { continue }
                pairs.append((key, tree(&dice, depth: depth + 1)))
            }
            return .object(pairs)
        }
    }

    @Test func writtenTreesReadBackAndAgreeWithJSONEncoder() throws {
        var dice = Dice(state: 20261201)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for _ in 0..<500 {
            let value = tree(&dice, depth: 0)
            let written = try value.jsonBytes(sortedKeys: true)
            let read = try JSONDecoder().decode(ConfigValue.self, from: Data(written))
            let expected = try JSONDecoder().decode(ConfigValue.self, from: encoder.encode(value))
            #expect(read == expected, "\(String(decoding: written, as: UTF8.self))")
            // Object keys in order, as JSONEncoder's .sortedKeys writes them.
            let unsorted = try value.jsonBytes()
            #expect(try JSONDecoder().decode(ConfigValue.self, from: Data(unsorted)) == read)
        }
    }

    @Test func theTextIsWhatItShouldBe() throws {
        let value: ConfigValue = ["b": .array([.integer(1), .double(0.5), .null, .bool(true)]), "a": .string("x\"\n\u{1}")]
        #expect(String(decoding: try value.jsonBytes(sortedKeys: true), as: UTF8.self) == #"{"a":"x\"\n\u0001","b":[1,0.5,null,true]}"#)
        #expect(String(decoding: try value.jsonBytes(), as: UTF8.self) == #"{"b":[1,0.5,null,true],"a":"x\"\n\u0001"}"#)
        #expect(throws: ConfigValue.JSONWriteError.self) { try ConfigValue.double(.nan).jsonBytes() }
        #expect(throws: ConfigValue.JSONWriteError.self) { try ConfigValue.array([.double(.infinity)]).jsonBytes() }
    }
}

extension ConfigValueJSONTests {
    /// The decoder tries a string first: numbers, flags and strings that look like them stay
    /// apart.
    @Test func eachKindOfJSONValueDecodesAsItself() throws {
        let text = #"{"s":"1","t":"true","i":1,"b":true,"d":1.5,"n":null,"a":["x",2],"o":{"k":false},"e":""}"#
        let value = try JSONDecoder().decode(ConfigValue.self, from: Data(text.utf8))
        #expect(value.member("s") == .string("1"))
        #expect(value.member("t") == .string("true"))
        #expect(value.member("i") == .integer(1))
        #expect(value.member("b") == .bool(true))
        #expect(value.member("d") == .double(1.5))
        #expect(value.member("n") == .null)
        #expect(value.member("a") == .array([.string("x"), .integer(2)]))
        #expect(value.member("o") == .object([(key: "k", value: .bool(false))]))
        #expect(value.member("e") == .string(""))
    }
}
