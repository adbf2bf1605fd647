import NIOCore
import NIOHTTP1
import PorticoCore

extension ExchangeStateMachine {
    /// Names one try: the exchange's serial on its connection and the try's number in it.
    struct TryID: Hashable {
        let exchange: UInt64
        /// Numbers the tries of an exchange from 1.
        let number: Int
    }

    /// One try of sending the request upstream.
    struct Try: Equatable {
        let id: TryID
        let endpoint: Endpoint
        /// When the try stops waiting for a response head (`retries.perTryTimeout`).
        var deadline: NIODeadline?
        /// The try waits for one of the upstream's `maxConnections`.
        var waitingForSlot = false
        /// A first try may take an idle pooled connection; a retry opens a fresh one.
        var mayReusePooledConnection: Bool { id.number == 1 }
    }

    /// Where the exchange stands.
    enum State: Equatable {
        /// The head is routed; ``start(upstream:now:)`` acts on the decision.
        case routed
        /// The route's `auth` runs (a JWKS refresh for an unknown `kid`, or the forward-auth
        /// call); request parts are buffered.
        case authorizing(AuthStep)
        /// A try waits for an upstream connection; request parts are buffered.
        case connecting(Try)
        /// Request and response stream through the try's connection.
        case forwarding(Try, responseStarted: Bool)
        /// The upstream agreed to an `Upgrade` (101); the handler hands both connections to a tunnel.
        case upgrading
        /// The response is complete; the rest of the request is read and dropped.
        case responded
        /// Nothing more happens.
        case finished
    }

    /// What an exchange in ``State/authorizing(_:)`` waits for.
    enum AuthStep: Equatable {
        /// A load of the JWKS, for a token whose `kid` the keys did not have.
        case keys
        /// The `auth.forward` call's answer.
        case forward
    }

    /// What ends a response, for the downstream connection.
    enum Ending: Equatable {
        /// Request and response are complete: the exchange ends, the connection serves the next.
        case finish
        /// The response is complete: read and drop the rest of the request, then end.
        case readRest
        /// End the exchange and close the connection once the response is written.
        case close
    }

    /// What the handler does next.
    enum Action {
        case none
        /// Ask the JWKS source for a load, then report ``keysRefreshed(serial:now:epochSeconds:)``.
        case refreshKeys(JWKSSource)
        /// Make the forward-auth call, then report ``forwardAuthAnswered(serial:_:now:)``.
        case callForwardAuth(ForwardAuthDefinition, AuthHTTPClient)
        /// Get a connection for the try: an idle pooled one when it may, else a slot of the
        /// upstream's connection limit (open at once, wait, or overflow).
        case acquireConnection(Try)
        /// Give up the failed try's connection or slot wait, then acquire one for `Try`.
        case retry(Try, after: TryFailure)
        /// The try's slot was granted: open a new connection.
        case openConnection(Try)
        /// A slot or a connection arrived for a try that is no longer current: give it back.
        case giveBack
        /// Write the head and the buffered parts to the try's connection.
        case sendRequest(HTTPRequestHead, [HTTPClientRequestPart])
        case sendRequestPart(HTTPClientRequestPart, flush: Bool)
        /// Give up any try, then write the gateway's own response.
        case answer(HTTPResponseHead, body: ByteBuffer, then: Ending)
        case forwardInformational(HTTPResponseHead)
        case forwardResponseHead(HTTPResponseHead, compress: Bool)
        /// Write the end of the response; `reuseConnection`: the upstream connection may go
        /// back to the pool (which decides), else it is closed.
        case endResponse(HTTPHeaders?, reuseConnection: Bool, then: Ending)
        /// Write the 101, then hand both connections to a tunnel.
        case beginUpgrade(HTTPResponseHead)
        /// The exchange ended (its request's end arrived after the response).
        case finish
        /// Give up any try and close the downstream connection.
        case close
    }
}

// MARK: Queries

extension ExchangeStateMachine {
    /// Whether response body parts from the upstream go to the client now.
    var forwardsResponseBody: Bool {
        if case .forwarding(_, true) = state { return true }
        return false
    }

    /// Whether the response is still to come or still streaming.
    var isRunning: Bool {
        switch state {
        case .authorizing, .connecting, .forwarding, .upgrading: return true
        case .routed, .responded, .finished: return false
        }
    }

    /// When the downstream may read.
    enum ReadGate {
        case open
        /// Request parts wait while a try connects; the tunnel takes over after a 101.
        case held
        /// Reads wait while the upstream connection cannot take more (backpressure).
        case whileUpstreamBusy
    }

    var readGate: ReadGate {
        switch state {
        case .authorizing, .connecting, .upgrading: return .held
        case .forwarding: return .whileUpstreamBusy
        case .routed, .responded, .finished: return .open
        }
    }

    /// Whether a response head (the gateway's own or the upstream's) went to the client.
    var responseStarted: Bool {
        switch state {
        case .routed, .authorizing, .connecting, .forwarding(_, false): return false
        case .forwarding(_, true), .upgrading, .responded, .finished: return true
        }
    }

    /// The try running now, while the response is still to come or streaming.
    var currentTry: Try? {
        switch state {
        case .connecting(let current), .forwarding(let current, _): return current
        case .routed, .authorizing, .upgrading, .responded, .finished: return nil
        }
    }

    /// The earliest deadline that can end the running try or response; `nil` when none can
    /// (between responses the connection's idle timeout applies instead).
    var nextDeadline: NIODeadline? {
        guard let current = currentTry else { return nil }
        let earliest = { (a: NIODeadline?, b: NIODeadline?) -> NIODeadline? in
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        return earliest(earliest(routeDeadline, drainDeadline), current.deadline)
    }
}
