import NIOCore

/// One timer per downstream connection that serves both the route timeout of the current
/// exchange and the keep-alive idle timeout.
///
/// Why not a timer per request: scheduling and cancelling a task per request costs
/// allocations and heap operations on the hot path. This timer is re-armed lazily: arming
/// for a later deadline than the one already pending does nothing, and when the timer fires
/// the handler checks the deadlines that are current then and arms it again for the next one.
/// On a keep-alive connection that means about one timer operation per timeout period, not
/// one per request.
final class ConnectionTimer: NIOScheduledCallbackHandler {
    /// Called when the timer fires; the owner decides what expired and re-arms.
    private let onFire: () -> Void
    private var pending: (deadline: NIODeadline, callback: NIOScheduledCallback)?

    init(onFire: @escaping () -> Void) {
        self.onFire = onFire
    }

    /// Makes sure the timer fires no later than `deadline`.
    func arm(at deadline: NIODeadline, on eventLoop: EventLoop) {
        if let pending, pending.deadline <= deadline { return }
        pending?.callback.cancel()
        guard let callback = try? eventLoop.assumeIsolated().scheduleCallback(at: deadline, handler: self) else {
            pending = nil
            return
        }
        pending = (deadline, callback)
    }

    /// Stops the timer for good (the connection is closing).
    func cancel() {
        pending?.callback.cancel()
        pending = nil
    }

    func handleScheduledCallback(eventLoop: some EventLoop) {
        pending = nil
        onFire()
    }
}
