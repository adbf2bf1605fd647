import NIOCore
import NIOHTTP1
import NIOPosix
import PorticoCore
@testable import PorticoProxy
import PorticoTestSupport
import Testing

/// ``ExchangeStateMachine`` in its `authorizing` state (SPEC §13), with the forward-auth
/// answers fed in: nothing goes upstream before the answer, request parts wait, a late or
/// stale answer is dropped.
@Suite struct AuthorizingExchangeTests {
    typealias Machine = ExchangeStateMachine
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let upstream = RecordingUpstream([9001])

    func machine(serial: UInt64 = 7) throws -> (Machine, Machine.Action) {
        let table = try TestRoutes.table("""
            upstreams: [{ name: app, endpoints: ["127.0.0.1:9001"] }]
            routes: [{ name: app, upstream: app, auth: { forward: { url: "http://127.0.0.1:1/", responseHeaders: [X-User] } } }]
            """)
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/x")
        head.headers.add(name: "host", value: "a")
        head.headers.add(name: "x-user", value: "forged")
        let routed = RequestRouter(scheme: "http", httpsRedirectPort: 8443)
            .route(head, in: .init(table: table, peerAddress: "127.0.0.1", makeRequestID: { "req-1" }))
        let authorizer = RouteAuthorizer(
            definition: try #require(table.routes[0].definition.auth), jwt: nil,
            client: AuthHTTPClient(group: MultiThreadedEventLoopGroup.singleton), route: "app", metrics: .discarding)
        var machine = Machine(routed: routed, request: head, serial: serial, now: start, isHTTP2Stream: false)
        let action = machine.start(upstream: upstream, authorizer: authorizer, now: start, epochSeconds: 0)
        return (machine, action)
    }

    @Test func theRequestWaitsForTheAnswerThenGoesUpstreamWithItsHeaders() throws {
        var (machine, action) = try machine()
        guard case .callForwardAuth = action else { throw ExchangeStateMachineTests.Unexpected(action) }
        #expect(machine.state == .authorizing(.forward))
        #expect(machine.readGate == .held)
        #expect(machine.isRunning)
        _ = machine.requestBodyReceived(ByteBuffer(string: "body"))
        _ = machine.requestEndReceived(nil)
        #expect(upstream.running.isEmpty)
        // An answer for another exchange of the connection is dropped.
        guard case .none = machine.forwardAuthAnswered(serial: 6, .allowed(remove: [], set: []), now: start) else {
            throw ExchangeStateMachineTests.Unexpected(machine.state)
        }
        let next = machine.forwardAuthAnswered(serial: 7, .allowed(remove: ["X-User"], set: [("X-User", "u-1")]), now: start)
        guard case .acquireConnection(let first) = next else { throw ExchangeStateMachineTests.Unexpected(next) }
        guard case .sendRequest(let head, let parts) = machine.connectionReady(forTry: first.id) else { throw ExchangeStateMachineTests.Unexpected(machine.state) }
        #expect(head.headers["x-user"] == ["u-1"])
        #expect(parts.count == 2)  // the body and the end, buffered while authorizing
        // A second answer changes nothing.
        guard case .none = machine.forwardAuthAnswered(serial: 7, .unavailable(reason: "late"), now: start) else {
            throw ExchangeStateMachineTests.Unexpected(machine.state)
        }
    }

    @Test func aDenialOrNoAnswerIsTheGatewaysOwnAnswer() throws {
        var (denied, _) = try machine()
        var answer = LocalAnswer(status: 401, body: ByteBuffer(string: "no"))
        answer.headers.add(name: "www-authenticate", value: "Basic")
        guard case .answer(let head, let body, .readRest) = denied.forwardAuthAnswered(serial: 7, .denied(answer), now: start) else {
            throw ExchangeStateMachineTests.Unexpected(denied.state)
        }
        #expect(head.status.code == 401)
        #expect(head.headers["www-authenticate"] == ["Basic"])
        #expect(String(buffer: body) == "no")
        #expect(upstream.running.isEmpty)

        var (unavailable, _) = try machine()
        guard case .answer(let failed, _, _) = unavailable.forwardAuthAnswered(serial: 7, .unavailable(reason: "down"), now: start)
        else { throw ExchangeStateMachineTests.Unexpected(unavailable.state) }
        #expect(failed.status.code == 503)
        #expect(unavailable.record.failureReason == "down")
    }

    @Test func theClientLeavingWhileAuthorizingEndsTheExchange() throws {
        var (machine, _) = try machine()
        machine.clientClosed()
        #expect(machine.state == .finished)
        #expect(machine.record.status == 499)
        guard case .none = machine.forwardAuthAnswered(serial: 7, .allowed(remove: [], set: []), now: start) else {
            throw ExchangeStateMachineTests.Unexpected(machine.state)
        }
        #expect(upstream.running.isEmpty)
    }
}
