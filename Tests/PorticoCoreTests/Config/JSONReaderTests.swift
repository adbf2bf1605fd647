import Foundation
import PorticoCore
import Testing

/// JSONReader reads what JSONDecoder (through ConfigValue's Codable) reads, into the same
/// tree, and refuses what it refuses: fixed cases, then random documents and random byte
/// mutations of them, compared side by side.
struct JSONReaderTests {
    private func decoded(_ bytes: [UInt8]) -> ConfigValue? {
        try? JSONDecoder().decode(ConfigValue.self, from: Data(bytes))
    }

    private func read(_ bytes: [UInt8]) -> ConfigValue? {
        try? bytes.withUnsafeBytes { try JSONReader.read($0) }
    }

    @Test(arguments: [
        #"{"s":"1","i":1,"b":true,"d":1.5,"n":null,"a":["x",2],"o":{"k":false},"e":""}"#,
        #"  [1, -0, 0.5, -2.5e-3, 1E2, 1.0, 12345678901234567890, 9007199254740993]  "#,
        #""esc \" \\ \/ \b \f \n \r \t \u0041 \u00e9 \ud83d\ude80 end""#,
        #"{"z":1,"a":2,"z":3}"#, "\"é ü 日本 🚀\"", "true", "null", "-1", "0", "[]", "{}", "[1,]", #"{"a":1,}"#,
    ])
    func acceptedTextReadsAsJSONDecoderReadsIt(text: String) throws {
        let expected = try JSONDecoder().decode(ConfigValue.self, from: Data(text.utf8))
        #expect(try JSONReader.read(text) == expected)
    }

    @Test(arguments: [
        "", " ", "{", "[,]", "{,}", "[1,,]", "01", "1.", ".5", "+1", "1e", "1e400", "-", "NaN", "tru", "nul",
        "\"unterminated", "\"\u{1}\"", #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, #""\x""#, #""\u12""#,
        "[1] x", "{1:2}", "{\"a\" 1}", "[1 2]",
    ])
    func refusedTextIsRefusedByBoth(text: String) {
        #expect(decoded(Array(text.utf8)) == nil, "JSONDecoder read \(text)")
        #expect(throws: JSONReadError.self) { try JSONReader.read(text) }
    }

    /// Where the reader is stricter than JSONDecoder, on purpose (RFC 8259).
    @Test func aNULByteAndABadValueUnderARepeatedKeyAreRefused() {
        #expect(decoded([0x31, 0x00]) == .integer(1))
        #expect(read([0x31, 0x00]) == nil)
        let repeated = Array(#"{"k": 1, "k": 1+2}"#.utf8)
        #expect(decoded(repeated) == .object([(key: "k", value: .integer(1))]))
        #expect(read(repeated) == nil)
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        #expect(read([0x22, 0xFF, 0x22]) == nil)
        #expect(read([0x22, 0xC3, 0x22]) == nil)
        let deep = String(repeating: "[", count: JSONReader.maximumDepth + 1) + String(repeating: "]", count: JSONReader.maximumDepth + 1)
        #expect(throws: JSONReadError.self) { try JSONReader.read(deep) }
        let fits = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: Never.self) { try JSONReader.read(fits) }
    }

    /// A random document, as a person or a control plane might write one.
    private func document(_ random: inout ConfigValueJSONTests.Dice, depth: Int = 0) -> String {
        let strings = ["", "plain", "quote\\\"d", "back\\\\slash", "\\n\\t", "\\u00e9", "\\ud83d\\ude80", "日本", "/a/b"]
        let numbers = ["0", "1", "-1", "42", "0.5", "-2.5e-10", "1e3", "3.25", "9223372036854775807", "-9223372036854775808", "1.0"]
        switch Int(random.next() % (depth > 3 ? 5 : 7)) {
        case 0: return ["true", "false", "null"][Int(random.next() % 3)]
        case 1, 2: return numbers[Int(random.next() % UInt64(numbers.count))]
        case 3, 4: return "\"" + strings[Int(random.next() % UInt64(strings.count))] + "\""
        case 5: return "[" + (0..<Int(random.next() % 4)).map { _ in document(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let members = (0..<Int(random.next() % 4)).map { _ in
                "\"k\(random.next() % 5)\": " + document(&random, depth: depth + 1)
            }
            return "{" + members.joined(separator: ", ") + "}"
        }
    }

    /// Whether `bytes` hold a number of 16 digits or more, or an exponent of 3 digits or more:
    /// beyond 2^53, and out of `Double`'s range, the two part ways on purpose — JSONDecoder
    /// reads `92233720685477580.7` as an `Int` whose digits are not the number's, and checks
    /// the range only of values it keeps (not of a repeated key's); the reader rounds as
    /// `Double` does and refuses a number out of range wherever it is.
    private func hasExtremeNumber(_ bytes: [UInt8]) -> Bool {
        var run = 0
        var exponent = false
        for byte in bytes {
            if (0x30...0x39).contains(byte) {
                run += 1
                if run >= 16 || (exponent && run >= 3) { return true }
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                run = 0
                exponent = true
            } else if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") {
                run = 0
            } else {
                run = 0
                exponent = false
            }
        }
        return false
    }

    @Test func randomAndMutatedDocumentsReadAsJSONDecoderReadsThem() {
        let seed: UInt64 = 1_612_2026
        var random = ConfigValueJSONTests.Dice(state: seed)
        let alphabet = Array(#"{}[]:,"\ u0123456789abcdefEe.-+tnl"#.utf8) + [0x00, 0x1F, 0x7F, 0xC3, 0xFF]
        var accepted = 0
        var extreme = 0
        var stricter = 0
        var mismatches: [String] = []
        for _ in 0..<3000 {
            var bytes = Array(document(&random).utf8)
            for round in 0..<4 {
                if round > 0 {
                    let position = Int(random.next() % UInt64(bytes.count + 1))
                    let byte = alphabet[Int(random.next() % UInt64(alphabet.count))]
                    switch random.next() % 3 {
                    case 0 where position < bytes.count: bytes[position] = byte
                    case 1 where position < bytes.count: bytes.remove(at: position)
                    default: bytes.insert(byte, at: position)
                    }
                }
                if hasExtremeNumber(bytes) {
                    extreme += 1
                    continue
                }
                let expected = decoded(bytes)
                let got = read(bytes)
                if expected != nil { accepted += 1 }
                switch (expected, got) {
                case (nil, nil): break
                case (let expected?, nil):
                    // Stricter than JSONDecoder, which reads past a NUL byte and leaves the value
                    // of a repeated key unchecked: what it read must then read back from its
                    // JSON, the same.
                    stricter += 1
                    let canonical = (try? expected.jsonBytes()) ?? []
                    if read(canonical) != expected, mismatches.count < 10 {
                        mismatches.append("\(String(decoding: canonical, as: UTF8.self)) does not read back")
                    }
                case (let expected, let got):
                    if got != expected, mismatches.count < 10 {
                        mismatches.append(
                            "\(String(decoding: bytes, as: UTF8.self)) → decoder \(String(describing: expected)), reader \(String(describing: got))")
                    }
                }
            }
        }
        print("JSON reader differential: seed \(seed): \(accepted) of 12000 accepted by JSONDecoder, \(extreme) with extreme numbers not compared, \(stricter) refused by the reader only")
        #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
        #expect(accepted > 3000)
    }
}
