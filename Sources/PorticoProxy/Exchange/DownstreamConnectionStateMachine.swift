import NIOCore
import NIOHTTP1

/// One downstream connection between and around its exchanges, as a pure state machine:
/// pipelined request parts that arrive while a response runs are held (and reads stop while
/// any are), a read the channel asks for waits while the exchange holds reads, and the idle
/// timeout counts from the last read or the end of the last exchange.
struct DownstreamConnectionStateMachine {
    /// Where the connection stands.
    enum State: Equatable {
        /// Open: serving an exchange, or waiting for the next request.
        case open
        /// Being closed; input is ignored.
        case closing
    }

    /// What to do with a part that was read.
    enum PartAction: Equatable {
        /// Hand it to the running exchange, or start one with it.
        case process
        /// Keep it for after the current response (a pipelined request).
        case hold
        /// Drop it: the connection is closing.
        case ignore
    }

    /// What the idle timer says.
    enum IdleCheck: Equatable {
        case close
        case armTimer(NIODeadline)
    }

    private(set) var state = State.open
    /// When the connection last read anything or finished an exchange.
    private(set) var lastActivity: NIODeadline
    private let idleTimeout: TimeAmount
    /// Parts of pipelined requests that arrived while an earlier response was still running.
    /// Reads stop while any wait, so at most one read's worth is held. Made on the first held
    /// part, so that a connection that never pipelines holds no buffer (SwiftNIO's default
    /// capacity is 16 parts, 400 bytes on every idle connection).
    private var heldParts: CircularBuffer<HTTPServerRequestPart>?
    /// A read the channel asked for while it could not be issued.
    private var readPending = false
    /// Held parts are being served (serving one can end an exchange, which asks again).
    private var servingHeldParts = false

    init(now: NIODeadline, idleTimeout: TimeAmount) {
        self.lastActivity = now
        self.idleTimeout = idleTimeout
    }

    var isClosing: Bool { state == .closing }
    /// Whether pipelined parts wait for the current response.
    var hasHeldParts: Bool { !(heldParts?.isEmpty ?? true) }

    /// A part was read; `exchangeTakesParts` is false while an exchange runs whose request
    /// is complete (its response is still going out).
    mutating func partRead(_ part: HTTPServerRequestPart, exchangeTakesParts: Bool) -> PartAction {
        guard state == .open else { return .ignore }
        if hasHeldParts || !exchangeTakesParts {
            if heldParts == nil { heldParts = CircularBuffer(initialCapacity: 4) }
            heldParts!.append(part)
            return .hold
        }
        return .process
    }

    mutating func readCompleted(now: NIODeadline) {
        lastActivity = now
    }

    /// The channel asks to read; returns whether to read now.
    mutating func readRequested(exchangeHoldsReads: Bool) -> Bool {
        if hasHeldParts || exchangeHoldsReads {
            readPending = true
            return false
        }
        return true
    }

    /// Whether a read held back may be issued now.
    mutating func resumeReading(exchangeHoldsReads: Bool) -> Bool {
        guard readPending, state == .open, !hasHeldParts, !exchangeHoldsReads else { return false }
        readPending = false
        return true
    }

    /// An exchange ended at `now`.
    mutating func exchangeEnded(now: NIODeadline) {
        lastActivity = now
    }

    /// Starts serving held parts; `false` while an outer call already does (it keeps looping).
    mutating func startServingHeldParts() -> Bool {
        guard !servingHeldParts else { return false }
        servingHeldParts = true
        return true
    }

    /// The next held part, while the connection is open and the exchange takes parts.
    mutating func nextHeldPart(exchangeTakesParts: Bool) -> HTTPServerRequestPart? {
        guard state == .open, exchangeTakesParts else { return nil }
        return heldParts?.popFirst()
    }

    /// Held parts are served; returns whether to issue the read that waited for them.
    mutating func stopServingHeldParts(exchangeHoldsReads: Bool) -> Bool {
        servingHeldParts = false
        return resumeReading(exchangeHoldsReads: exchangeHoldsReads)
    }

    /// Closes the connection if nothing was read for the idle timeout, else says when to look again.
    func idleCheck(now: NIODeadline) -> IdleCheck {
        let deadline = lastActivity + idleTimeout
        return deadline <= now ? .close : .armTimer(deadline)
    }

    /// The connection starts closing; returns `false` if it already was.
    mutating func startClosing() -> Bool {
        guard state == .open else { return false }
        state = .closing
        return true
    }
}
