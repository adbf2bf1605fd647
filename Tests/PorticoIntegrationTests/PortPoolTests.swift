import Foundation
import NIOCore
import NIOPosix
import PorticoControl
import PorticoTestSupport
import Testing

/// Starts a gateway whose tenant ports come from `range`.
private func gateway(range: ClosedRange<Int>, extra: [String: String] = [:], in folder: TemporaryFolder? = nil) async throws
    -> ServingGateway
{
    let environment = ["PORTICO_PORT_START": "\(range.lowerBound)", "PORTICO_PORT_END": "\(range.upperBound)"]
        .merging(extra) { _, new in new }
    if let folder { return try await ServingGateway.start(in: folder, environment: environment) }
    return try await ServingGateway.start(routes: "", environment: environment)
}

private func allocate(_ admin: AdminClient, _ tenant: String, _ name: String, target: String? = nil) async throws -> AdminAPIClient.Response {
    let body = target.map { #"{"name": "\#(name)", "target": "\#($0)"}"# } ?? #"{"name": "\#(name)"}"#
    return try await admin.send(.POST, "/v1/tenants/\(tenant)/ports", json: body)
}

@Suite struct TenantPortTests {
    @Test func allocatesIdempotentlyWithinTheRangeAndLists() async throws {
        let gateway = try await gateway(range: 21000...21009)
        let admin = AdminClient(port: gateway.adminPort)
        let first = try await allocate(admin, "acme", "redis")
        #expect(first.status == 201)
        let port = try #require(first.json["port"] as? Int)
        #expect((21000...21009).contains(port))
        #expect(first.json["tenant"] as? String == "acme")
        let again = try await allocate(admin, "acme", "redis")
        #expect(again.status == 200)
        #expect(again.json["port"] as? Int == port)
        #expect(try await allocate(admin, "acme", "cache").status == 201)

        let list = try await admin.send(.GET, "/v1/ports").json
        #expect((list["range"] as? [String: Int]) == ["start": 21000, "end": 21009])
        #expect(list["allocated"] as? Int == 2)
        #expect(list["free"] as? Int == 8)
        let allocations = list["allocations"] as? [[String: Any]] ?? []
        #expect(allocations.count == 2)
        #expect(allocations.allSatisfy { ($0["createdAt"] as? String)?.hasSuffix("Z") == true && $0.keys.contains("target") })
        let tenant = try await admin.send(.GET, "/v1/tenants/acme/ports").json["allocations"] as? [[String: Any]]
        #expect(tenant?.count == 2)
        #expect((try await admin.send(.GET, "/v1/tenants/other/ports").json["allocations"] as? [Any])?.isEmpty == true)
        await gateway.stop()
    }

    @Test func fiftyParallelAllocationsAreDistinct() async throws {
        let gateway = try await gateway(range: 21100...21199)
        let admin = AdminClient(port: gateway.adminPort)
        let ports = try await withThrowingTaskGroup(of: Int?.self) { group in
            for index in 0..<50 {
                group.addTask { try await allocate(admin, "t\(index % 5)", "n\(index)").json["port"] as? Int }
            }
            // The same name from several callers at once gets one port.
            for _ in 0..<5 {
                group.addTask { try await allocate(admin, "same", "one").json["port"] as? Int }
            }
            var ports: [Int] = []
            for try await port in group { if let port { ports.append(port) } }
            return ports
        }
        #expect(ports.count == 55)
        #expect(Set(ports).count == 51)
        #expect(try await admin.send(.GET, "/v1/ports").json["allocated"] as? Int == 51)
        await gateway.stop()
    }

    @Test func skipsPortsHeldOnTheHostReservedOnesAndItsOwn() async throws {
        // 21200 is held by another socket, 21201 reserved, 21202 the HTTP listener, 21203 admin.
        let holder = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 21200).get()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try folder.write("routes/a.yaml", "")
        let process = try PorticoProcess.start(
            ["--http-addr", "127.0.0.1:21202", "--admin-addr", "127.0.0.1:21203"],
            environment: [
                "PORTICO_PORT_START": "21200", "PORTICO_PORT_END": "21205", "PORTICO_PORT_RESERVED": "21201",
                "PORTICO_ADMIN_TOKEN": ServingGateway.adminToken,
            ], directory: folder.url)
        try await process.waitForLog("admin listening")
        let admin = AdminClient(port: 21203)
        #expect(try await allocate(admin, "t", "a").json["port"] as? Int == 21204)
        #expect(try await allocate(admin, "t", "b").json["port"] as? Int == 21205)
        let full = try await allocate(admin, "t", "c")
        #expect(full.status == 409)
        #expect(full.json["error"] as? String == "pool_exhausted")
        // The held port is still skipped; the freed one is handed out again.
        #expect(try await admin.send(.DELETE, "/v1/tenants/t/ports/a").status == 200)
        #expect(try await allocate(admin, "t", "d").json["port"] as? Int == 21204)
        await process.stop()
        try await holder.close()
    }

    @Test func exhaustionIs409() async throws {
        let gateway = try await gateway(range: 21300...21304)
        let admin = AdminClient(port: gateway.adminPort)
        for index in 0..<5 {
            #expect(try await allocate(admin, "t", "n\(index)").status == 201)
        }
        let full = try await allocate(admin, "t", "n5")
        #expect(full.status == 409)
        #expect(full.json["error"] as? String == "pool_exhausted")
        #expect(try await allocate(admin, "t", "n0").status == 200)  // existing ones still answer
        await gateway.stop()
    }

    @Test func badInputIs422AndUnknownIs404() async throws {
        let gateway = try await gateway(range: 21400...21409)
        let admin = AdminClient(port: gateway.adminPort)
        #expect(try await allocate(admin, "Acme", "redis").status == 422)
        #expect(try await allocate(admin, "acme", String(repeating: "a", count: 64)).status == 422)
        #expect(try await allocate(admin, "acme", "").status == 422)
        #expect(try await allocate(admin, "acme", "re_dis").status == 422)
        let badTarget = try await allocate(admin, "acme", "redis", target: "nope")
        #expect(badTarget.status == 422)
        #expect((badTarget.json["details"] as? [[String: Any]])?.first?["field"] as? String == "target")
        #expect(try await admin.send(.POST, "/v1/tenants/acme/ports", json: "{").status == 400)
        #expect(try await admin.send(.DELETE, "/v1/tenants/acme/ports/none").status == 404)
        #expect(try await admin.send(.GET, "/v1/ports").json["allocated"] as? Int == 0)
        await gateway.stop()
    }

    @Test func forwardsTCPAndSurvivesRestartsUntilFreed() async throws {
        let echo = try await TCPEchoServer.start()
        let first = try await gateway(range: 21500...21509)
        let admin = AdminClient(port: first.adminPort)
        let port = try #require(try await allocate(admin, "acme", "redis", target: "127.0.0.1:\(echo.port)").json["port"] as? Int)
        let kept = try #require(try await allocate(admin, "acme", "plain").json["port"] as? Int)
        let reply = try await RawSocketClient.send("PING hello\r\n", port: port, halfClose: true)
        #expect(reply.text == "PING hello\r\n")
        #expect(reply.closed)

        await first.process.stop()
        let second = try await gateway(range: 21500...21509, in: first.folder)
        let admin2 = AdminClient(port: second.adminPort)
        #expect(try await allocate(admin2, "acme", "redis").json["port"] as? Int == port)
        #expect(try await allocate(admin2, "acme", "plain").json["port"] as? Int == kept)
        #expect(try await RawSocketClient.send("after restart", port: port, halfClose: true).text == "after restart")

        #expect(try await admin2.send(.DELETE, "/v1/tenants/acme/ports/redis").status == 200)
        let afterFree = try? await RawSocketClient.send("gone", port: port, timeout: .seconds(1), halfClose: true)
        #expect(afterFree == nil || afterFree?.text.isEmpty == true)
        #expect(try await admin2.send(.DELETE, "/v1/tenants/acme/ports/redis").status == 404)
        await second.stop()
        await echo.stop()
    }

    @Test func anUnreachableTargetClosesTheClient() async throws {
        let gateway = try await gateway(range: 21600...21609)
        let admin = AdminClient(port: gateway.adminPort)
        let closed = try refusingLoopbackPort()
        let port = try #require(try await allocate(admin, "acme", "gone", target: "127.0.0.1:\(closed)").json["port"] as? Int)
        let reply = try await RawSocketClient.send("hello", port: port, timeout: .seconds(3))
        #expect(reply.closed)
        #expect(reply.text.isEmpty)
        await gateway.stop()
    }
}

@Suite struct PortsCommandTests {
    @Test func allocateListAndFreeFromTheCommandLine() async throws {
        let gateway = try await gateway(range: 21700...21709)
        func run(_ arguments: [String]) async throws -> (Int32, String) {
            let process = try PorticoProcess.start(
                ["ports"] + arguments + ["--admin-addr", "127.0.0.1:\(gateway.adminPort)"],
                environment: ["PORTICO_ADMIN_TOKEN": ServingGateway.adminToken], directory: gateway.folder.url)
            return (try await process.waitForExit(), process.log)
        }
        let (allocated, port) = try await run(["allocate", "acme", "redis", "--target", "127.0.0.1:6379"])
        #expect(allocated == 0)
        #expect(port.trimmingCharacters(in: .whitespacesAndNewlines) == "21700")
        let (listed, list) = try await run(["list"])
        #expect(listed == 0)
        #expect(list.contains("range 21700-21709: 1 allocated, 9 free"))
        #expect(list.contains("21700\tacme\tredis\t127.0.0.1:6379"))
        #expect(try await run(["free", "acme", "redis"]).0 == 0)
        let (failed, message) = try await run(["free", "acme", "redis"])
        #expect(failed == 1)
        #expect(message.contains("404"))
        await gateway.stop()
    }
}

/// A tenant port's target changed without freeing it, and a freed port's drain (SPEC §15).
@Suite struct TenantPortChangeTests {
    /// A connection to `port` that stays open: it reads what arrives and writes on demand.
    private func withConnection<T>(
        to port: Int, _ body: (_ read: () async throws -> String?, _ write: (String) async throws -> Void) async throws -> T
    ) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            return try await body({ try await iterator.next().map { String(buffer: $0) } }, { try await outbound.write(ByteBuffer(string: $0)) })
        }
    }

    @Test func aPatchedTargetTakesNewConnectionsAndAFreedPortDrains() async throws {
        let (a, b) = (try await TCPEchoServer.start(greeting: "a"), try await TCPEchoServer.start(greeting: "b"))
        let gateway = try await gateway(range: 21800...21809, extra: ["PORTICO_DRAIN_TIMEOUT_SEC": "2"])
        let admin = AdminClient(port: gateway.adminPort)
        let port = try #require(try await allocate(admin, "acme", "redis", target: "127.0.0.1:\(a.port)").json["port"] as? Int)
        try await withConnection(to: port) { read, write in
            #expect(try await read() == "a")
            let patched = try await admin.send(.PATCH, "/v1/tenants/acme/ports/redis", json: #"{"target": "127.0.0.1:\#(b.port)"}"#)
            #expect(patched.status == 200)
            #expect(patched.json["port"] as? Int == port)
            #expect(patched.json["target"] as? String == "127.0.0.1:\(b.port)")
            // New connections go to the new target; the open one goes on to the old.
            let greeting = try await withConnection(to: port) { newRead, _ in try await newRead() }
            #expect(greeting == "b")
            try await write("still here")
            #expect(try await read() == "still here")
            let listed = try await admin.send(.GET, "/v1/tenants/acme/ports")
            #expect((listed.json["allocations"] as? [[String: Any]])?.first?["target"] as? String == "127.0.0.1:\(b.port)")

            // Freed: no new connection is forwarded; the open one runs until the drain timeout.
            let freed = ContinuousClock.now
            #expect(try await admin.send(.DELETE, "/v1/tenants/acme/ports/redis").status == 200)
            let refused = try? await RawSocketClient.send("x", port: port, timeout: .seconds(1))
            #expect(refused == nil || refused?.text.isEmpty == true)
            try await write("draining")
            #expect(try await read() == "draining")
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline, (try? await read()) != nil {}
            let drained = ContinuousClock.now - freed
            #expect(drained >= .seconds(2) && drained < .seconds(10), "closed after \(drained)")
        }
        await gateway.stop()
        await a.stop()
        await b.stop()
    }

    @Test func aPatchIsKeptAcrossARestartAndBadOnesAreRefused() async throws {
        let (a, b) = (try await TCPEchoServer.start(greeting: "a"), try await TCPEchoServer.start(greeting: "b"))
        let first = try await gateway(range: 21810...21819)
        let admin = AdminClient(port: first.adminPort)
        // A port allocated without a target starts forwarding once it has one.
        let port = try #require(try await allocate(admin, "acme", "cache").json["port"] as? Int)
        #expect(try await admin.send(.PATCH, "/v1/tenants/acme/ports/cache", json: #"{"target": "127.0.0.1:\#(a.port)"}"#).status == 200)
        #expect(try await RawSocketClient.send("", port: port, timeout: .seconds(3)).text == "a")
        #expect(try await admin.send(.PATCH, "/v1/tenants/acme/ports/cache", json: #"{"target": "127.0.0.1:\#(b.port)"}"#).status == 200)

        let missing = try await admin.send(.PATCH, "/v1/tenants/acme/ports/nope", json: #"{"target": "127.0.0.1:1"}"#)
        #expect(missing.status == 404)
        for (body, field) in [(#"{"target": "nowhere"}"#, "target"), ("{}", "target"), (#"{"target": 5}"#, "target"),
                              (#"{"target": "127.0.0.1:1", "name": "x"}"#, "name")] {
            let refused = try await admin.send(.PATCH, "/v1/tenants/acme/ports/cache", json: body)
            #expect(refused.status == 422, "\(body)")
            #expect((refused.json["details"] as? [[String: Any]])?.first?["field"] as? String == field, "\(body)")
        }
        #expect(try await admin.send(.PATCH, "/v1/tenants/acme/ports/cache", json: "[").status == 400)

        await first.process.stop()
        let second = try await gateway(range: 21810...21819, in: first.folder)
        #expect(try await RawSocketClient.send("", port: port, timeout: .seconds(3)).text == "b")
        await second.stop()
        await a.stop()
        await b.stop()
    }
}
