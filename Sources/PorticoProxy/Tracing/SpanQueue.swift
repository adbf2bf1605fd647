import Metrics
import NIOCore
import Synchronization

/// The spans waiting for export (SPEC §16). It holds at most `capacity`, so a collector that
/// is slow or down costs spans, counted in `portico_trace_spans_dropped_total`, and never
/// memory or a request's time: the event loops only append under a lock, and the exporter
/// takes batches on its own task.
public final class SpanQueue: Sendable {
    /// The most spans held.
    public let capacity: Int
    /// The most spans in one export; the exporter is woken when this many wait.
    public let batchSize: Int
    private let spans: Mutex<CircularBuffer<FinishedSpan>>
    private let dropped: Counter
    let exported: Counter
    /// Wakes the exporter: when a batch is full, and at each export interval.
    let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    public init(capacity: Int = 2048, batchSize: Int = 512, metrics: GatewayMetrics) {
        self.capacity = max(capacity, 1)
        self.batchSize = min(max(batchSize, 1), self.capacity)
        spans = Mutex(CircularBuffer(initialCapacity: min(self.capacity, 1024)))
        dropped = metrics.traceSpansDropped
        exported = metrics.traceSpansExported
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues `span`, or counts it dropped when the queue is full.
    func offer(_ span: FinishedSpan) {
        let (accepted, batchReady) = spans.withLock { spans -> (Bool, Bool) in
            guard spans.count < capacity else { return (false, false) }
            spans.append(span)
            return (true, spans.count == batchSize)
        }
        if !accepted { dropped.increment() }
        if batchReady { wake.yield() }
    }

    /// Takes up to `batchSize` spans, oldest first.
    func takeBatch() -> [FinishedSpan] {
        spans.withLock { spans in
            let count = min(spans.count, batchSize)
            var batch: [FinishedSpan] = []
            batch.reserveCapacity(count)
            for _ in 0..<count { batch.append(spans.removeFirst()) }
            return batch
        }
    }

    /// Empties the queue; the number of spans it held.
    func takeAll() -> Int {
        spans.withLock { spans in
            defer { spans.removeAll(keepingCapacity: false) }
            return spans.count
        }
    }

    /// Spans waiting now.
    public var count: Int { spans.withLock { $0.count } }

    /// Counts spans lost after they were queued (their batch could not be delivered).
    func countDropped(_ spans: Int) {
        dropped.increment(by: Int64(spans))
    }

    func wakeExporter() {
        wake.yield()
    }

    func finishWakeups() {
        wake.finish()
    }
}
