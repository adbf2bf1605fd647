import Synchronization

/// Tasks waiting for a value that only grows (a clock's time, a count) to reach their
/// threshold: resumed when ``reach(_:)`` passes it, or with `CancellationError` when their
/// task is cancelled.
final class ThresholdWaiters<Value: Comparable & Sendable>: Sendable {
    private struct Waiter {
        let threshold: Value
        let continuation: CheckedContinuation<Void, Error>
    }

    private struct State {
        var current: Value
        var nextID: UInt64 = 0
        var waiting: [UInt64: Waiter] = [:]
        var cancelled: Set<UInt64> = []
    }

    private let state: Mutex<State>

    init(_ initial: Value) {
        state = Mutex(State(current: initial))
    }

    var current: Value { state.withLock { $0.current } }
    /// Tasks waiting now.
    var count: Int { state.withLock { $0.waiting.count } }

    /// Returns once the value is at least `threshold`.
    func wait(for threshold: Value) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                let outcome: Result<Void, Error>? = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if threshold <= state.current { return .success(()) }
                    state.waiting[id] = Waiter(threshold: threshold, continuation: continuation)
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                guard let waiter = state.waiting.removeValue(forKey: id) else {
                    state.cancelled.insert(id)
                    return nil as Waiter?
                }
                return waiter
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Makes `value` current (it never goes back) and resumes the waiters it satisfies.
    func reach(_ value: Value) {
        let due = state.withLock { state in
            state.current = max(state.current, value)
            let current = state.current
            let due = state.waiting.filter { $0.value.threshold <= current }
            for id in due.keys { state.waiting[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }
}
