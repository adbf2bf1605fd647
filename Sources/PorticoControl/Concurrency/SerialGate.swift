import NIOCore
import Synchronization

/// Lets one asynchronous operation run at a time, the others waiting their turn in the
/// order they arrived.
///
/// An actor alone does not serialise work that awaits: at every `await` another call may
/// enter and see the state half-changed (two admin calls computing the same next version,
/// two SQLite transactions interleaving on one connection). The owner passes through the
/// gate for the whole operation instead:
///
/// ```swift
/// try await gate.run { try await self.recordChange() }
/// ```
///
/// Not reentrant: an operation that holds the gate must not enter it again.
final class SerialGate: Sendable {
    private struct State {
        var busy = false
        var waiting = CircularBuffer<CheckedContinuation<Void, Never>>()
    }

    private let state = Mutex(State())

    init() {}

    /// Waits until no other operation holds the gate, then holds it.
    private func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let enterNow = state.withLock { state in
                guard state.busy else {
                    state.busy = true
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if enterNow { continuation.resume() }
        }
    }

    /// Hands the gate to the operation that has waited longest, or opens it.
    private func leave() {
        let next: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let next = state.waiting.popFirst() else {
                state.busy = false
                return nil
            }
            return next  // the gate stays held: it passes to `next`
        }
        next?.resume()
    }

    /// Runs `operation` holding the gate, on the caller's actor.
    func run<T, Failure: Error>(
        isolation: isolated (any Actor)? = #isolation, _ operation: () async throws(Failure) -> T
    ) async throws(Failure) -> T {
        await enter()
        defer { leave() }
        return try await operation()
    }
}
