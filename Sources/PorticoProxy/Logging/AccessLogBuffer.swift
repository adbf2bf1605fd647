import NIOCore
import PorticoCore
import W3CTraceContext

/// One event loop's access-log lines (SPEC §10), as JSON written straight into bytes — the
/// same object, keys in the same order, as the gateway's JSON log handler writes for the
/// access logger — and sent in as few writes as the work of one loop turn allows: a write
/// holds whole lines and at most ``StandardError/atomicWriteLimit`` bytes (one line longer
/// than that goes alone), so no line is ever split or mixed with another writer's.
///
/// Only its event loop touches it, one access at a time (no write or escape reads the
/// buffer back): the runtime's exclusivity check on each of a line's forty appends, which
/// cost a fifth of the log's CPU, is left out.
final class AccessLogBuffer {
    private let eventLoop: EventLoop
    private let label: [UInt8]
    private let write: @Sendable (UnsafeRawBufferPointer) -> Void
    @exclusivity(unchecked) private var bytes: [UInt8] = []
    @exclusivity(unchecked) private var flushScheduled = false
    /// The second whose `YYYY-MM-DDTHH:MM:SS` text is `secondText`.
    @exclusivity(unchecked) private var second: UInt64 = .max
    @exclusivity(unchecked) private var secondText: [UInt8] = []

    init(eventLoop: EventLoop, label: String, write: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) {
        self.eventLoop = eventLoop
        self.label = Array(label.utf8)
        self.write = write
        bytes.reserveCapacity(StandardError.atomicWriteLimit * 2)
    }

    /// Adds the line of an exchange that took `elapsedNanoseconds` and ended at `now`
    /// (nanoseconds since 1970).
    func append(_ record: ExchangeRecord, elapsedNanoseconds: Int64, now: UInt64) {
        raw(#"{"time":""#)
        timestamp(now)
        raw(#"","level":"info","label":""#)
        label.withUnsafeBufferPointer { escaped($0) }
        raw(#"","message":"request""#)
        // Sorted by key, as the handler writes them.
        field("bytes_in", record.bytesIn)
        field("bytes_out", record.bytesOut)
        field("client", record.client)
        raw(#","duration_ms":""#)
        milliseconds(elapsedNanoseconds)
        raw("\"")
        if let reason = record.failureReason { field("error", reason) }
        if let host = record.host { field("host", host) }
        raw(#","log":"access""#)
        field("method", record.method)
        field("path", record.path)
        if let id = record.requestID { field("request.id", id) }
        field("route", record.routeName ?? "no_route")
        if let trace = record.trace { withUnsafeBytes(of: trace.context.spanID.bytes) { hexField("spanId", $0) } }
        field("status", record.status)
        if let trace = record.trace { withUnsafeBytes(of: trace.context.traceID.bytes) { hexField("traceId", $0) } }
        if let endpoint = record.endpoint { field("upstream", endpoint) }
        raw("}\n")
        if bytes.count >= StandardError.atomicWriteLimit * 4 { flush() }
        if !flushScheduled {
            flushScheduled = true
            eventLoop.assumeIsolated().execute { self.flush() }
        }
    }

    /// Writes what is buffered, in pieces of whole lines.
    func flush() {
        flushScheduled = false
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { all in
            var start = 0
            while start < all.count {
                var end = min(start + StandardError.atomicWriteLimit, all.count)
                if end < all.count {
                    // Back to the end of the last whole line; a longer line goes alone.
                    var lineEnd = end
                    while lineEnd > start, all[lineEnd - 1] != UInt8(ascii: "\n") { lineEnd -= 1 }
                    if lineEnd > start {
                        end = lineEnd
                    } else {
                        end = (all[start...].firstIndex(of: UInt8(ascii: "\n")) ?? all.count - 1) + 1
                    }
                }
                write(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
        bytes.removeAll(keepingCapacity: true)
    }

    // MARK: Writing

    private func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    private func field(_ key: StaticString, _ value: String) {
        raw(",\"")
        raw(key)
        raw("\":\"")
        var value = value
        value.withUTF8 { escaped($0) }
        raw("\"")
    }

    private func field(_ key: StaticString, _ value: Int) {
        raw(",\"")
        raw(key)
        raw("\":\"")
        decimal(value)
        raw("\"")
    }

    /// As `Endpoint.description` writes it (a host and port need no escaping).
    private func field(_ key: StaticString, _ endpoint: Endpoint) {
        raw(",\"")
        raw(key)
        raw("\":\"")
        endpoint.appendDescription(to: &bytes)
        raw("\"")
    }

    private func hexField(_ key: StaticString, _ id: UnsafeRawBufferPointer) {
        raw(",\"")
        raw(key)
        raw("\":\"")
        TextBytes.appendHex(id, to: &bytes)
        raw("\"")
    }

    private func escaped(_ text: UnsafeBufferPointer<UInt8>) {
        TextBytes.appendJSONEscaped(text, to: &bytes)
    }

    private func decimal(_ value: Int) {
        TextBytes.appendDecimal(value, to: &bytes)
    }

    /// `0.523`: milliseconds with three decimals.
    private func milliseconds(_ nanoseconds: Int64) {
        let micros = max(0, nanoseconds) / 1000
        decimal(Int(micros / 1000))
        bytes.append(UInt8(ascii: "."))
        let fraction = Int(micros % 1000)
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// `2026-12-01T20:41:55.123Z`; the second's text is made once per second.
    private func timestamp(_ nanoseconds: UInt64) {
        let second = nanoseconds / 1_000_000_000
        if second != self.second {
            self.second = second
            secondText = Array(RFC3339.format(secondsSince1970: Double(second)).utf8.dropLast())  // without its Z
        }
        bytes.append(contentsOf: secondText)
        bytes.append(UInt8(ascii: "."))
        let millis = Int(nanoseconds / 1_000_000 % 1000)
        bytes.append(UInt8(ascii: "0") + UInt8(millis / 100))
        bytes.append(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(millis % 10))
        bytes.append(UInt8(ascii: "Z"))
    }
}
