import NIOCore
import NIOHTTP1
@testable import PorticoProxy
import Testing

/// Pipelining, read gating and the idle deadline of one downstream connection, with time
/// passed in.
@Suite struct DownstreamConnectionStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(5_000_000_000)
    let head = HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))

    @Test func pipelinedPartsWaitForTheRunningResponseAndStopReads() {
        var connection = DownstreamConnectionStateMachine(now: start, idleTimeout: .seconds(75))
        do {
            let value = connection.partRead(head, exchangeTakesParts: true)
            #expect(value == .process)
        }
        #expect(connection.partRead(.end(nil), exchangeTakesParts: true) == .process)
        // The first request is complete; its response is still running: the next one waits.
        do {
            let value = connection.partRead(head, exchangeTakesParts: false)
            #expect(value == .hold)
        // Once one part waits, the ones after it wait too, in order.
        }
        #expect(connection.partRead(.end(nil), exchangeTakesParts: true) == .hold)
        do {
            let value = connection.readRequested(exchangeHoldsReads: false)
            #expect(!value)
        // The response ends: the held parts are served, then the read that waited goes out.
        }
        connection.exchangeEnded(now: start + .seconds(1))
        do {
            let value = connection.startServingHeldParts()
            #expect(value)
        }
        do {
            let value = connection.startServingHeldParts()
            #expect(!value)  // an exchange ending inside does not recurse
        }
        guard case .head = connection.nextHeldPart(exchangeTakesParts: true) else {
            Issue.record("the held head comes first")
            return
        }
        guard case .end = connection.nextHeldPart(exchangeTakesParts: true) else {
            Issue.record("then its end")
            return
        }
        do {
            let value = connection.nextHeldPart(exchangeTakesParts: true)
            #expect(value == nil)
        }
        do {
            let value = connection.stopServingHeldParts(exchangeHoldsReads: false)
            #expect(value)
        }
        do {
            let value = connection.resumeReading(exchangeHoldsReads: false)
            #expect(!value)  // issued once
        }
    }

    @Test func heldPartsStopWhileTheNextExchangeAnswers() {
        var connection = DownstreamConnectionStateMachine(now: start, idleTimeout: .seconds(75))
        _ = connection.partRead(head, exchangeTakesParts: false)
        _ = connection.partRead(.end(nil), exchangeTakesParts: false)
        do {
            let value = connection.startServingHeldParts()
            #expect(value)
        }
        do {
            let value = connection.nextHeldPart(exchangeTakesParts: true)
            #expect(value != nil)
        // The head started an exchange that completed its request and still answers.
        }
        do {
            let value = connection.nextHeldPart(exchangeTakesParts: false)
            #expect(value == nil)
        }
        #expect(connection.hasHeldParts)
        do {
            let value = connection.stopServingHeldParts(exchangeHoldsReads: false)
            #expect(!value)
        }
    }

    @Test func readsWaitWhileTheExchangeHoldsThem() {
        var connection = DownstreamConnectionStateMachine(now: start, idleTimeout: .seconds(75))
        do {
            let value = connection.readRequested(exchangeHoldsReads: true)
            #expect(!value)
        }
        do {
            let value = connection.resumeReading(exchangeHoldsReads: true)
            #expect(!value)
        }
        do {
            let value = connection.resumeReading(exchangeHoldsReads: false)
            #expect(value)
        }
        do {
            let value = connection.readRequested(exchangeHoldsReads: false)
            #expect(value)
        }
    }

    @Test func theIdleDeadlineCountsFromTheLastActivity() {
        var connection = DownstreamConnectionStateMachine(now: start, idleTimeout: .seconds(75))
        #expect(connection.idleCheck(now: start + .seconds(10)) == .armTimer(start + .seconds(75)))
        connection.readCompleted(now: start + .seconds(30))
        #expect(connection.idleCheck(now: start + .seconds(75)) == .armTimer(start + .seconds(105)))
        connection.exchangeEnded(now: start + .seconds(50))
        #expect(connection.idleCheck(now: start + .seconds(124)) == .armTimer(start + .seconds(125)))
        #expect(connection.idleCheck(now: start + .seconds(125)) == .close)
    }

    @Test func aClosingConnectionIgnoresInput() {
        var connection = DownstreamConnectionStateMachine(now: start, idleTimeout: .seconds(75))
        do {
            let value = connection.startClosing()
            #expect(value)
        }
        do {
            let value = connection.startClosing()
            #expect(!value)
        }
        do {
            let value = connection.partRead(head, exchangeTakesParts: true)
            #expect(value == .ignore)
        }
        do {
            let value = connection.nextHeldPart(exchangeTakesParts: true)
            #expect(value == nil)
        }
        do {
            let value = connection.resumeReading(exchangeHoldsReads: false)
            #expect(!value)
        }
    }
}
