import Foundation
import NIOHTTP1
import PorticoControl
import PorticoCore
import PorticoTestSupport
import Testing

extension HeavyIntegrationTests {
    /// The running binary fed mutated input on its admin API and its HTTP/1 listener (issue 14
    /// #2b, #2c): no 5xx from the admin API, the version moving only with a 2xx, and the
    /// process alive and serving afterwards. Seeds are printed; `PORTICO_FUZZ_SEED` replays one.
    @Suite(.serialized) struct FuzzTests {
        @Test func mutatedBodiesOnEveryMutatingAdminEndpoint() async throws {
            let seed = SeededRandom.seed(fallback: 0xAD_0014)
            print("admin fuzz: seed \(seed)")
            var fuzzer = ConfigFuzzer(seed: seed)
            let upstream = try await TestUpstream.start()
            let gateway = try await ServingGateway.start(routes: "", environment: ["PORTICO_PORT_START": "21400", "PORTICO_PORT_END": "21449"])
            let admin = AdminClient(port: gateway.adminPort)
            func version() async throws -> Int { try await admin.send(.GET, "/v1/config").json["version"] as? Int ?? -1 }
            // Something to replace: the valid document's upstream and routes.
            #expect(try await admin.send(.PUT, "/v1/config", json: ConfigFuzzer.valid.fuzzJSONText).status == 200)

            var counts: [Int: Int] = [:]
            let started = ContinuousClock.now
            for index in 0..<300 where ContinuousClock.now - started < .seconds(120) {
                // Half the cases mutate the structure; half put a boundary value into one field.
                let document = index.isMultiple(of: 2) ? fuzzer.mutatedDocument() : fuzzer.documentWithAnExtremeField()
                let upstreamBody = document["upstreams"].flatMap { if case .array(let items) = $0 { items.first } else { nil } } ?? fuzzer.randomValue()
                let routeBody = document["routes"].flatMap { if case .array(let items) = $0 { items.first } else { nil } } ?? fuzzer.randomValue()
                let (method, path, body, changesVersion): (HTTPMethod, String, ConfigValue, Bool) =
                    switch index % 6 {
                    case 0: (.PUT, "/v1/config", document, true)
                    case 1: (.POST, "/v1/routes", routeBody, true)
                    case 2: (.PUT, "/v1/routes/r", routeBody, true)
                    case 3: (.POST, "/v1/upstreams", upstreamBody, true)
                    case 4: (.PUT, "/v1/upstreams/u", upstreamBody, true)
                    default: (.POST, "/v1/tenants/t\(index % 3)/ports", ["name": fuzzer.randomValue(), "target": fuzzer.randomValue()], false)
                    }
                guard var text = body.fuzzJSONText else { continue }
                if index.isMultiple(of: 4) { text = fuzzer.mutatedText(text) }
                let response: AdminAPIClient.Response
                let (before, after): (Int, Int)
                do {
                    before = try await version()
                    response = try await admin.send(method, path, json: text)
                    after = try await version()
                } catch {
                    Issue.record("seed \(seed), case \(index): \(method) \(path) \(text.prefix(200)): no answer (\(error)):\n\(gateway.process.log.suffix(1500))")
                    break
                }
                counts[response.status, default: 0] += 1
                let context = "seed \(seed), case \(index): \(method) \(path) \(text.prefix(200)) → \(response.status) \(response.body.prefix(200))"
                #expect(response.status < 500, "\(context)")
                if (200..<300).contains(response.status) {
                    if changesVersion { #expect(after == before + 1, "\(context): version \(before) → \(after)") }
                } else {
                    #expect(after == before, "\(context): refused, yet version \(before) → \(after)")
                    #expect(response.json["error"] is String, "\(context): not a JSON error")
                }
                guard gateway.process.isRunning else {
                    Issue.record("\(context): the gateway exited:\n\(gateway.process.log.suffix(2000))")
                    break
                }
            }
            print("admin fuzz: seed \(seed): statuses \(counts.sorted { $0.key < $1.key })")
            #expect(gateway.process.isRunning)
            #expect(try await AdminClient(port: gateway.adminPort, token: nil).send(.GET, "/health/live").status == 200)
            await gateway.stop()
            await upstream.stop()
        }

        @Test func garbageAndMutatedRequestsOnTheHTTPListener() async throws {
            let seed = SeededRandom.seed(fallback: 0x4774_0014)
            print("HTTP/1 fuzz: seed \(seed)")
            var fuzzer = ConfigFuzzer(seed: seed)
            // Python's server: the loopback test upstream (SwiftNIO's server pipeline in debug
            // mode) traps on its own assertion when the gateway closes it mid-request, as it
            // must when a client's chunked body turns out malformed after the upstream answered.
            let upstream = try await PythonUpstream.start()
            let gateway = try await ServingGateway.start(routes: catchAllRoutes(upstreamPort: upstream.port))
            let valid = [
                "GET /a/b?c=d HTTP/1.1\r\nHost: a.example\r\nAccept: */*\r\n\r\n",
                "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
                "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                "GET http://a.example:8080/x HTTP/1.1\r\nHost: ignored\r\n\r\n",
                "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
                "GET /%2e%2e/%41//x/./y/../z HTTP/1.1\r\nHost: A.Example.\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n",
                "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                "GET / HTTP/1.0\r\n\r\n",
            ]
            var inputs: [[UInt8]] = []
            for index in 0..<300 {
                switch index % 3 {
                case 0: inputs.append(Array(fuzzer.mutatedText(valid[index % valid.count]).utf8))
                case 1: inputs.append((0..<Int.random(in: 1...512, using: &fuzzer.random)).map { _ in UInt8.random(in: 0...255, using: &fuzzer.random) })
                default:
                    // A valid request line with mutated headers: long, repeated, odd characters.
                    let header = fuzzer.randomString() + ": " + fuzzer.randomString()
                    let repeated = String(repeating: "X-Many: 1\r\n", count: Int.random(in: 0...200, using: &fuzzer.random))
                    inputs.append(Array("GET /\(fuzzer.randomString()) HTTP/1.1\r\nHost: a\r\n\(header)\r\n\(repeated)\r\n".utf8))
                }
            }
            // 25 connections at a time, each given at most 3 s; the client half-closes after sending.
            var answered = 0
            for batch in stride(from: 0, to: inputs.count, by: 25) {
                let replies = try await withThrowingTaskGroup(of: RawSocketClient.Reply.self) { group in
                    for input in inputs[batch..<min(batch + 25, inputs.count)] {
                        group.addTask { try await RawSocketClient.send(input, port: gateway.port, timeout: .seconds(3), halfClose: true) }
                    }
                    var replies: [RawSocketClient.Reply] = []
                    for try await reply in group { replies.append(reply) }
                    return replies
                }
                answered += replies.filter { $0.status != nil }.count
                guard gateway.process.isRunning else {
                    Issue.record("seed \(seed), batch \(batch): the gateway exited:\n\(gateway.process.log.suffix(2000))")
                    break
                }
            }
            print("HTTP/1 fuzz: seed \(seed): \(answered) of \(inputs.count) answered with a status line")
            #expect(gateway.process.isRunning, "seed \(seed)")
            // Still serving, on new connections and on one kept alive.
            #expect(try await gateway.client.sendSequentially(["/after/1", "/after/2", "/after/3"]).map(\.status) == [200, 200, 200], "seed \(seed)")
            await gateway.stop()
            upstream.stop()
        }
    }
}
