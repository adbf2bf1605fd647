import NIOCore
import PorticoCore

/// The proxy handler's one timer (``ConnectionTimer``): the running exchange's deadlines
/// (route timeout, per-try timeout, drain) and, between exchanges, the idle timeout.
extension HTTPProxyHandler {
    /// A try starts: the timer fires no later than its deadlines (per-try, route, drain).
    /// Other transitions only clear deadlines or end the exchange, and a timer firing early
    /// re-arms for what is still due.
    func armExchangeTimer(context: ChannelHandlerContext) {
        if let deadline = exchange?.machine?.nextDeadline { timer.arm(at: deadline, on: context.eventLoop) }
    }

    /// The connection timer fired: the exchange ends what expired, or the idle timeout applies.
    func timerFired() {
        guard let context, !connection.isClosing else { return }
        let now = context.eventLoop.now
        if exchange?.machine?.nextDeadline != nil {
            run(exchange?.machine?.timerFired(now: now), context: context)
            // Whatever is still due (a route timeout after a per-try one that passed unused).
            if let deadline = exchange?.machine?.nextDeadline { timer.arm(at: deadline, on: context.eventLoop) }
        } else {
            armIdleTimer(context: context, now: now)  // between requests, or a body trickling in after an answer
        }
    }

    func armIdleTimer(context: ChannelHandlerContext, now: NIODeadline) {
        switch connection.idleCheck(now: now) {
        case .close: close(context)
        case .armTimer(let deadline): timer.arm(at: deadline, on: context.eventLoop)
        }
    }

    /// A new snapshot was published: if it retires the running exchange (its route, or its
    /// endpoint), the exchange may run until `deadline` on its old definition, then it is ended.
    func drain(_ retirement: RouteRetirement, deadline: NIODeadline) {
        guard let context, exchange?.machine?.drain(retirement, deadline: deadline) == true else { return }
        timer.arm(at: deadline, on: context.eventLoop)
    }
}
