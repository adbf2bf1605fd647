import NIOCore
import NIOHTTP1
import PorticoCore
@testable import PorticoProxy
import PorticoTestSupport
import Testing

/// An upstream side with a fixed endpoint order that records what the machine reports.
final class RecordingUpstream: ExchangeUpstream {
    let endpoints: [Endpoint]
    var admitsRetries = true
    private(set) var outcomes: [(endpoint: Endpoint, failed: Bool)] = []
    private(set) var errors: [String] = []
    private(set) var retries: [String] = []
    private(set) var running: [Endpoint: Int] = [:]
    private(set) var endedWithBudget: Bool?

    init(_ ports: [Int]) {
        endpoints = ports.map { Endpoint(host: "127.0.0.1", port: $0) }
    }

    var endpointCount: Int { endpoints.count }
    func endpoint(excluding tried: [Endpoint]?, retrying: Bool) -> Endpoint? {
        endpoints.first { !(tried?.contains($0) ?? false) }
    }
    func admitRetry() -> Bool { admitsRetries }
    func recordOutcome(of endpoint: Endpoint, failed: Bool) { outcomes.append((endpoint, failed)) }
    func recordError(kind: String) { errors.append(kind) }
    func recordRetry(kind: String) { retries.append(kind) }
    func requestMoved(from previous: Endpoint?, to endpoint: Endpoint) {
        if let previous { running[previous, default: 0] -= 1 }
        running[endpoint, default: 0] += 1
    }
    func requestEnded(on endpoint: Endpoint, heldRetryBudget: Bool) {
        running[endpoint, default: 0] -= 1
        endedWithBudget = heldRetryBudget
    }
}

/// Drives ``ExchangeStateMachine`` through the request path's races with time passed in:
/// no sockets, no sleeps.
@Suite struct ExchangeStateMachineTests {
    typealias Machine = ExchangeStateMachine

    static let routes = """
        upstreams: [{ name: app, endpoints: ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"] }]
        routes:
          - { name: app, match: { path: { prefix: /app } }, upstream: app, timeout: 10s,
              retries: { attempts: 2, on: [reset, per-try-timeout, connect-failure, "503"], perTryTimeout: 1s } }
          - { name: ws, match: { path: { prefix: /ws } }, upstream: app }
          - { name: here, match: { path: { prefix: /here } }, respond: { status: 201, body: made here } }
        """

    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let upstream = RecordingUpstream([9001, 9002, 9003])

    func machine(_ uri: String, method: HTTPMethod = .GET, headers: [(String, String)] = [], version: HTTPVersion = .http1_1, http2: Bool = false) throws -> (Machine, Machine.Action) {
        let table = try TestRoutes.table(Self.routes)
        var head = HTTPRequestHead(version: version, method: method, uri: uri)
        head.headers.add(name: "host", value: "a")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        let routed = RequestRouter(scheme: "http", httpsRedirectPort: 8443)
            .route(head, in: .init(table: table, peerAddress: "127.0.0.1", makeRequestID: { "req-1" }))
        var machine = Machine(routed: routed, request: head, serial: 7, now: start, isHTTP2Stream: http2)
        let action = machine.start(upstream: upstream, now: start)
        return (machine, action)
    }

    func endpoint(_ port: Int) -> Endpoint { Endpoint(host: "127.0.0.1", port: port) }

    /// Starts a GET to /app, completes its request and attaches a connection; returns the first try.
    func forwardingGET() throws -> (Machine, Machine.Try) {
        var (machine, action) = try machine("/app/x")
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        _ = machine.requestEndReceived(nil)
        guard case .sendRequest(_, let parts) = machine.connectionReady(forTry: first.id) else { throw Unexpected(machine.state) }
        #expect(parts.count == 1)  // the buffered end
        return (machine, first)
    }

    struct Unexpected: Error {
        let what: String
        init(_ what: Any) { self.what = "\(what)" }
    }

    @Test func aLocalAnswerNeedsNoUpstream() throws {
        var (machine, action) = try machine("/here")
        guard case .answer(let head, let body, let ending) = action else { throw Unexpected(action) }
        #expect(head.status.code == 201)
        #expect(String(buffer: body) == "made here")
        #expect(head.headers["content-length"] == ["9"])
        // The request's end has not been read yet: read and drop the rest, then finish.
        #expect(ending == .readRest)
        #expect(machine.state == .responded)
        guard case .finish = machine.requestEndReceived(nil) else { throw Unexpected(machine.state) }
        #expect(machine.record.status == 201)
    }

    @Test func aMalformedTargetIsRefusedAndTheConnectionCloses() throws {
        let (machine, action) = try machine("no-slash")
        guard case .answer(let head, _, .close) = action else { throw Unexpected(action) }
        #expect(head.status.code == 400)
        #expect(head.headers["connection"] == ["close"])
        #expect(machine.record.failureReason?.hasPrefix("request target") == true)
    }

    @Test func theFirstTryMayReuseAPooledConnectionAndArmsItsDeadlines() throws {
        let (machine, action) = try machine("/app/x")
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        #expect(first.mayReusePooledConnection)
        #expect(first.endpoint == endpoint(9001))
        #expect(first.deadline == start + .seconds(1))
        #expect(machine.nextDeadline == start + .seconds(1))  // per-try before the 10 s route timeout
        #expect(machine.readGate == .held)
        #expect(upstream.running[endpoint(9001)] == 1)
    }

    @Test func aRetryAfterAResetGoesToAFreshConnectionWithItsOwnPerTryTimer() throws {
        var (machine, first) = try forwardingGET()
        let later = start + .milliseconds(400)
        guard case .retry(let second, after: .reset) = machine.upstreamClosed(requestCount: 1, now: later) else {
            throw Unexpected(machine.state)
        }
        #expect(second.id.number == 2)
        #expect(!second.mayReusePooledConnection)
        #expect(second.endpoint == endpoint(9002))
        #expect(second.deadline == later + .seconds(1))
        #expect(upstream.retries == ["reset"])
        #expect(upstream.running[endpoint(9001)] == 0)
        #expect(upstream.running[endpoint(9002)] == 1)
        // The first try's per-try deadline passes: nothing happens, the new one governs.
        #expect(machine.nextDeadline == later + .seconds(1))
        guard case .none = machine.timerFired(now: first.deadline!) else { throw Unexpected(machine.state) }
        // Its connection arriving late (a connect that was in flight) is given back.
        guard case .giveBack = machine.connectionReady(forTry: first.id) else { throw Unexpected(machine.state) }
        // The retry is sent as a complete request without a body.
        guard case .sendRequest(_, let parts) = machine.connectionReady(forTry: second.id) else { throw Unexpected(machine.state) }
        #expect(parts.count == 1)
    }

    @Test func aPerTryTimeoutRacingALateResponseHead() throws {
        var (machine, first) = try forwardingGET()
        guard case .retry(let second, after: .perTryTimeout) = machine.timerFired(now: first.deadline!) else {
            throw Unexpected(machine.state)
        }
        #expect(upstream.errors == ["timeout"])
        #expect(upstream.outcomes.map(\.failed) == [true])
        // The first try's head comes in after the timeout: the machine no longer forwards.
        let late = HTTPResponseHead(version: .http1_1, status: .ok)
        guard case .none = machine.responseHeadReceived(late, now: first.deadline! + .milliseconds(1)) else {
            throw Unexpected(machine.state)
        }
        #expect(machine.state == .connecting(second))
        // The second try answers in time.
        _ = machine.connectionReady(forTry: second.id)
        guard case .forwardResponseHead(let head, compress: false) = machine.responseHeadReceived(late, now: first.deadline! + .milliseconds(2))
        else { throw Unexpected(machine.state) }
        #expect(head.status == .ok)
        #expect(machine.nextDeadline == start + .seconds(10))  // the per-try timer is off once a head arrived
        guard case .endResponse(nil, reuseConnection: true, then: .finish) = machine.responseEndReceived(nil) else {
            throw Unexpected(machine.state)
        }
        machine.requestEnded()
        #expect(upstream.endedWithBudget == true)
    }

    @Test func retriesStopAtTheAttemptsAndTheLastFailureAnswers() throws {
        var (machine, first) = try forwardingGET()
        var now = first.deadline!
        var current = first
        for _ in 0..<2 {
            guard case .retry(let next, _) = machine.timerFired(now: now) else { throw Unexpected(machine.state) }
            _ = machine.connectionReady(forTry: next.id)
            current = next
            now = current.deadline!
        }
        guard case .answer(let head, _, .finish) = machine.timerFired(now: now) else { throw Unexpected(machine.state) }
        #expect(head.status.code == 504)
        #expect(machine.record.failureReason == "per-try timeout")
        #expect(upstream.retries.count == 2)
    }

    @Test func aRequestWithABodyIsNotRetriedAfterAReset() throws {
        var (machine, action) = try machine("/app/x", method: .POST)
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        _ = machine.requestBodyReceived(ByteBuffer(string: "data"))
        _ = machine.connectionReady(forTry: first.id)
        guard case .sendRequestPart = machine.requestBodyReceived(ByteBuffer(string: "more")) else { throw Unexpected(machine.state) }
        // Nothing of the response yet, the request incomplete: 502 and the connection closes.
        guard case .answer(let head, _, .close) = machine.upstreamClosed(requestCount: 1, now: start) else {
            throw Unexpected(machine.state)
        }
        #expect(head.status.code == 502)
        #expect(machine.record.bytesIn == 8)
    }

    @Test func aReusedConnectionClosedBeforeAnsweringIsRetriedOnceOnTheSameEndpoint() throws {
        var (machine, first) = try forwardingGET()
        guard case .retry(let second, after: .refusedStream) = machine.upstreamClosed(requestCount: 3, now: start) else {
            throw Unexpected(machine.state)
        }
        #expect(second.endpoint == first.endpoint)
        #expect(upstream.outcomes.isEmpty)  // not the endpoint's fault
    }

    @Test func aConnectionSlotThatArrivesAfterTheClientLeftIsGivenBack() throws {
        var (machine, action) = try machine("/app/x")
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        machine.connectionSlotQueued(forTry: first.id)
        #expect(machine.state == .connecting(Machine.Try(id: first.id, endpoint: first.endpoint, deadline: first.deadline, waitingForSlot: true)))
        // A connection cannot be attached while the try waits for its slot.
        guard case .giveBack = machine.connectionReady(forTry: first.id) else { throw Unexpected(machine.state) }
        machine.clientClosed()
        #expect(machine.record.status == 499)
        #expect(machine.record.failureReason == "client_closed")
        guard case .giveBack = machine.connectionSlotGranted(toTry: first.id) else { throw Unexpected(machine.state) }
    }

    @Test func aSlotGrantedInTimeOpensTheConnection() throws {
        var (machine, action) = try machine("/app/x")
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        machine.connectionSlotQueued(forTry: first.id)
        let otherExchange = Machine.TryID(exchange: 6, number: 1)
        guard case .giveBack = machine.connectionSlotGranted(toTry: otherExchange) else { throw Unexpected(machine.state) }
        guard case .openConnection(let opening) = machine.connectionSlotGranted(toTry: first.id) else { throw Unexpected(machine.state) }
        #expect(!opening.waitingForSlot)
    }

    @Test func overflowWhileWaitingForASlotIs503AndKeepsTheConnection() throws {
        var (machine, action) = try machine("/app/x", method: .POST)
        guard case .acquireConnection = action else { throw Unexpected(action) }
        _ = machine.requestBodyReceived(ByteBuffer(string: "part"))
        guard case .answer(let head, let body, .readRest) = machine.connectionOverflowed(reason: "full") else {
            throw Unexpected(machine.state)
        }
        #expect(head.status.code == 503)
        #expect(String(buffer: body).contains("upstream_overflow"))
        #expect(head.headers["connection"].isEmpty)
        // The rest of the body is read and dropped, then the exchange ends.
        guard case .none = machine.requestBodyReceived(ByteBuffer(string: "rest")) else { throw Unexpected(machine.state) }
        guard case .finish = machine.requestEndReceived(nil) else { throw Unexpected(machine.state) }
    }

    @Test func theRouteTimeoutWhileWaitingForASlotIs504WithoutBlamingTheEndpoint() throws {
        var (waiting, started) = try self.machine("/ws")  // no per-try timeout on this route
        guard case .acquireConnection(let first) = started else { throw Unexpected(started) }
        _ = waiting.requestEndReceived(nil)
        waiting.connectionSlotQueued(forTry: first.id)
        #expect(first.deadline == nil)
        let routeTimeout = try #require(waiting.nextDeadline)
        guard case .none = waiting.timerFired(now: routeTimeout - .milliseconds(1)) else { throw Unexpected(waiting.state) }
        guard case .answer(let timedOut, _, .finish) = waiting.timerFired(now: routeTimeout) else { throw Unexpected(waiting.state) }
        #expect(timedOut.status.code == 504)
        #expect(upstream.outcomes.isEmpty)
    }

    @Test func theRouteTimeoutMidResponseCutsTheConnection() throws {
        var (machine, _) = try forwardingGET()
        _ = machine.responseHeadReceived(HTTPResponseHead(version: .http1_1, status: .ok), now: start)
        guard case .close = machine.timerFired(now: start + .seconds(10)) else { throw Unexpected(machine.state) }
        #expect(machine.record.failureReason == "route timeout")
        machine.clientClosed()
        #expect(machine.record.status == 200)  // the status already sent stays in the log
    }

    @Test func aDrainDeadlineDuringARequestEndsIt() throws {
        var (machine, _) = try forwardingGET()
        let newer = try TestRoutes.table(Self.routes.replacingOccurrences(of: "timeout: 10s", with: "timeout: 20s"), version: 2)
        // The route changes in the newer table: the running request drains.
        let retirement = try TestRoutes.table(Self.routes).retirement(by: newer)
        let drainAt = start + .seconds(2)
        let draining = machine.drain(retirement, deadline: drainAt)
        let extended = machine.drain(retirement, deadline: drainAt + .seconds(5))
        #expect(draining)
        #expect(!extended)  // a later swap never extends it
        #expect(machine.nextDeadline == start + .seconds(1))  // the per-try timer is still earlier
        _ = machine.responseHeadReceived(HTTPResponseHead(version: .http1_1, status: .ok), now: start)
        #expect(machine.nextDeadline == drainAt)
        guard case .close = machine.timerFired(now: drainAt) else { throw Unexpected(machine.state) }
        #expect(machine.record.failureReason == "drain timeout")
    }

    @Test func aDrainReachingAnUpgradeIsCarriedToTheTunnel() throws {
        var (machine, action) = try machine("/ws", headers: [("connection", "upgrade"), ("upgrade", "websocket")])
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        _ = machine.requestEndReceived(nil)
        _ = machine.connectionReady(forTry: first.id)
        var switching = HTTPResponseHead(version: .http1_1, status: .switchingProtocols)
        switching.headers.add(name: "upgrade", value: "websocket")
        guard case .beginUpgrade(let head) = machine.responseHeadReceived(switching, now: start) else { throw Unexpected(machine.state) }
        #expect(head.headers["connection"] == ["upgrade"])
        #expect(head.headers["upgrade"] == ["websocket"])
        #expect(machine.readGate == .held)
        let empty = try TestRoutes.table("routes: []", version: 2)
        let retirement = try TestRoutes.table(Self.routes).retirement(by: empty)
        let draining = machine.drain(retirement, deadline: start + .seconds(3))
        let handedOver = machine.upgradeHandedOver()
        let again = machine.upgradeHandedOver()
        #expect(draining)
        #expect(handedOver)
        #expect(machine.drainDeadline == start + .seconds(3))
        #expect(!again)
    }

    @Test func anUpgradeTheClientDidNotAskForIsRefused() throws {
        var (machine, _) = try forwardingGET()
        guard case .close = machine.responseHeadReceived(HTTPResponseHead(version: .http1_1, status: .switchingProtocols), now: start)
        else { throw Unexpected(machine.state) }
        #expect(machine.record.failureReason == "upstream switched protocols unasked")
    }

    @Test func anUpgradeTheUpstreamRefusesIsAnOrdinaryResponse() throws {
        var (machine, action) = try machine("/ws", headers: [("connection", "upgrade"), ("upgrade", "websocket")])
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        _ = machine.requestEndReceived(nil)
        guard case .sendRequest(let sent, _) = machine.connectionReady(forTry: first.id) else { throw Unexpected(machine.state) }
        #expect(sent.headers["upgrade"] == ["websocket"])
        guard case .forwardResponseHead(let head, _) = machine.responseHeadReceived(
            HTTPResponseHead(version: .http1_1, status: .badRequest, headers: ["content-length": "0"]), now: start)
        else { throw Unexpected(machine.state) }
        #expect(head.status == .badRequest)
        #expect(machine.readGate == .whileUpstreamBusy)
    }

    @Test func theClientClosingMidRequestLogs499() throws {
        var (machine, action) = try machine("/app/x", method: .POST)
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        _ = machine.connectionReady(forTry: first.id)
        _ = machine.requestBodyReceived(ByteBuffer(string: "half"))
        machine.clientClosed()
        #expect(machine.state == .finished)
        #expect(machine.record.status == 499)
        // A response that arrives afterwards goes nowhere.
        guard case .none = machine.responseHeadReceived(HTTPResponseHead(version: .http1_1, status: .ok), now: start) else {
            throw Unexpected(machine.state)
        }
    }

    @Test func theClientClosingMidResponseKeepsTheStatusSent() throws {
        var (machine, _) = try forwardingGET()
        _ = machine.responseHeadReceived(HTTPResponseHead(version: .http1_1, status: .created), now: start)
        machine.responseBodyWritten(bytes: 10)
        machine.clientClosed()
        #expect(machine.state == .finished)
        #expect(machine.record.status == 201)
        #expect(machine.record.bytesOut == 10)
        #expect(machine.record.failureReason == "client_closed")
        // The rest of the upstream's response goes nowhere.
        #expect(!machine.forwardsResponseBody)
        guard case .none = machine.responseEndReceived(nil) else { throw Unexpected(machine.state) }
    }

    @Test func aShutdownClosesTheConnectionAfterTheCurrentResponse() throws {
        var (machine, _) = try forwardingGET()
        machine.closeAfterResponse()
        guard case .forwardResponseHead(let head, _) = machine.responseHeadReceived(
            HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "0"]), now: start)
        else { throw Unexpected(machine.state) }
        #expect(head.headers["connection"] == ["close"])
        guard case .endResponse(_, reuseConnection: true, then: .close) = machine.responseEndReceived(nil) else {
            throw Unexpected(machine.state)
        }
    }

    @Test func aResponseBeforeTheWholeRequestClosesHTTP1ButNotAnHTTP2Stream() throws {
        for http2 in [false, true] {
            var (machine, action) = try machine("/app/x", method: .POST, version: http2 ? .http2 : .http1_1, http2: http2)
            guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
            _ = machine.connectionReady(forTry: first.id)
            _ = machine.responseHeadReceived(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "0"]), now: start)
            guard case .endResponse(_, reuseConnection: false, then: let ending) = machine.responseEndReceived(nil) else {
                throw Unexpected(machine.state)
            }
            #expect(ending == (http2 ? .readRest : .close))
        }
    }

    @Test func a5xxIsRetriedThenForwardedWhenRetriesRunOut() throws {
        var (machine, first) = try forwardingGET()
        let unavailable = HTTPResponseHead(version: .http1_1, status: .serviceUnavailable, headers: ["content-length": "0"])
        guard case .retry(let second, after: .status(503)) = machine.responseHeadReceived(unavailable, now: start) else {
            throw Unexpected(machine.state)
        }
        _ = machine.connectionReady(forTry: second.id)
        upstream.admitsRetries = true
        guard case .retry(let third, _) = machine.responseHeadReceived(unavailable, now: start) else { throw Unexpected(machine.state) }
        _ = machine.connectionReady(forTry: third.id)
        guard case .forwardResponseHead(let head, _) = machine.responseHeadReceived(unavailable, now: start) else {
            throw Unexpected(machine.state)
        }
        #expect(head.status == .serviceUnavailable)
        #expect(Set([first.endpoint, second.endpoint, third.endpoint]).count == 3)
    }

    @Test func anExhaustedRetryBudgetForwardsTheFailure() throws {
        var (machine, _) = try forwardingGET()
        upstream.admitsRetries = false
        let unavailable = HTTPResponseHead(version: .http1_1, status: .serviceUnavailable, headers: ["content-length": "0"])
        guard case .forwardResponseHead = machine.responseHeadReceived(unavailable, now: start) else { throw Unexpected(machine.state) }
        #expect(upstream.retries.isEmpty)
    }

    @Test func anHTTP10ClientGetsACloseWhenTheBodyHasNoLength() throws {
        var (machine, action) = try machine("/app/x", headers: [("connection", "keep-alive")], version: .http1_0)
        guard case .acquireConnection(let first) = action else { throw Unexpected(action) }
        _ = machine.requestEndReceived(nil)
        _ = machine.connectionReady(forTry: first.id)
        guard case .forwardResponseHead(let head, _) = machine.responseHeadReceived(HTTPResponseHead(version: .http1_1, status: .ok), now: start)
        else { throw Unexpected(machine.state) }
        #expect(head.headers["connection"] == ["close"])
        guard case .endResponse(_, _, then: .close) = machine.responseEndReceived(nil) else { throw Unexpected(machine.state) }
    }
}
