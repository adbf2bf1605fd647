import Foundation
import PorticoControl
import PorticoCore
import PorticoTestSupport
import Testing
import Yams

/// The route decoder fed mutated documents, in-process, as structures and as JSON and YAML
/// text (issue 14 #2a): it returns definitions or problems, and never traps. A trap ends the
/// test process, which fails the run; the seed is printed first, to replay it with
/// `PORTICO_FUZZ_SEED=<seed> swift test --filter RouteDecoderFuzzTests`.
@Suite struct RouteDecoderFuzzTests {
    static let documents = 10_000

    @Test func tenThousandMutatedDocumentsDecodeOrAreRefusedWithProblems() async throws {
        // On a thread of its own at the lowest priority: the suite's timing-sensitive tests
        // share two cores with it, and it has no deadline but its own bound.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                #if os(Linux)
                // SCHED_IDLE (5 in <sched.h>, which Swift's Glibc leaves out without
                // _GNU_SOURCE): this thread runs only when no other thread wants the CPU.
                var parameters = sched_param(sched_priority: 0)
                pthread_setschedparam(pthread_self(), 5, &parameters)
                #endif
                self.fuzz()
                done.resume()
            }
            thread.stackSize = 16 << 20  // deep documents recurse deeply in the parser
            thread.start()
        }
    }

    private func fuzz() {
        let seed = SeededRandom.seed(fallback: 0x5EED_0014)
        print("route decoder fuzz: seed \(seed), \(Self.documents) documents")
        var fuzzer = ConfigFuzzer(seed: seed)
        var outcomes = (accepted: 0, refused: 0, texts: 0)
        let started = ContinuousClock.now
        for index in 0..<Self.documents {
            let document = index.isMultiple(of: 3) ? fuzzer.documentWithAnExtremeField() : fuzzer.mutatedDocument()
            record(decode(document, file: "fuzz.yaml"), into: &outcomes, seed: seed, index: index)
            // The same document as text, as the admin API (JSON) and route files (YAML) read it.
            let text = index.isMultiple(of: 2) ? document.fuzzJSONText : yamlText(document)
            if let text {
                outcomes.texts += 1
                record(parse(text), into: &outcomes, seed: seed, index: index)
                if index.isMultiple(of: 5) {
                    record(parse(fuzzer.mutatedText(text)), into: &outcomes, seed: seed, index: index)
                }
            }
            // Bounded in time as well as in count, for a very slow machine: one that is only
            // loaded stops early and says so; one that cannot reach 500 documents in the
            // time fails (a parser gone slow on some input).
            guard ContinuousClock.now - started < .seconds(240) else {
                print("route decoder fuzz: seed \(seed): stopped after \(index + 1) documents at the time bound")
                #expect(index + 1 >= 500, "seed \(seed): only \(index + 1) documents within the time bound")
                break
            }
        }
        print("route decoder fuzz: seed \(seed): \(outcomes.accepted) accepted, \(outcomes.refused) refused, \(outcomes.texts) as text")
        #expect(outcomes.accepted > 0 && outcomes.refused > 0)
    }

    /// `nil` when the document was accepted; its problems when refused.
    private func decode(_ value: ConfigValue, file: String) -> [ConfigProblem]? {
        do {
            let set = try RouteFileDecoder.decodeDocument(value, file: file)
            do {
                _ = try RouteTable.build(version: 1, from: set)
                return nil
            } catch {
                return error.problems
            }
        } catch {
            return RouteController.everyProblem(of: error, table: { $0 })
        }
    }

    private func parse(_ text: String) -> [ConfigProblem]? {
        do {
            return decode(try ConfigDocumentParser.parse(text, file: "fuzz.yaml"), file: "fuzz.yaml")
        } catch {
            return error.problems
        }
    }

    private func record(_ problems: [ConfigProblem]?, into outcomes: inout (accepted: Int, refused: Int, texts: Int), seed: UInt64, index: Int) {
        guard let problems else {
            outcomes.accepted += 1
            return
        }
        outcomes.refused += 1
        #expect(!problems.isEmpty, "seed \(seed), document \(index): refused without a problem")
    }

    /// The document as YAML text, strings double-quoted.
    private func yamlText(_ value: ConfigValue) -> String? {
        func node(_ value: ConfigValue) -> Node {
            switch value {
            case .null: return Node("null")
            case .bool(let flag): return Node(flag ? "true" : "false")
            case .integer(let number): return Node(String(number))
            case .double(let number): return Node(String(number))
            case .string(let text): return Node(text, Tag(.str), .doubleQuoted)
            case .array(let items): return Node(items.map(node))
            case .object(let pairs): return Node(pairs.map { (Node($0.key, Tag(.str), .doubleQuoted), node($0.value)) })
            }
        }
        return try? Yams.serialize(node: node(value))
    }
}
