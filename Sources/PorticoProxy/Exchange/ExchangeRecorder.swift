import Logging
import NIOCore
import PorticoCore
import W3CTraceContext

/// Reports ended exchanges: the request metrics of the event loop, one access-log line
/// (SPEC §10) and, for a sampled trace, the gateway's span (SPEC §16).
struct ExchangeRecorder {
    let accessLogger: Logger
    /// The loop's JSON lines, which stand in for the logger's handler when set.
    let accessLog: AccessLogBuffer?
    let metrics: RequestMetricsCache
    let spans: SpanQueue?

    func record(_ record: ExchangeRecord, now: NIODeadline) {
        let elapsed = now - record.startTime
        // The wall clock, read once for the span and the access-log line alike.
        let wallClock = spans != nil || accessLog != nil ? wallClockNanoseconds() : 0
        if let spans, let trace = record.trace, trace.context.flags.contains(.sampled),
            let span = FinishedSpan(record, endUnixNanos: wallClock, elapsedNanos: elapsed.nanoseconds)
        {
            spans.offer(span)
        }
        metrics.recordRequest(route: record.routeName ?? "no_route", status: record.status, nanoseconds: elapsed.nanoseconds)
        if let upstream = record.servedBy { metrics.recordUpstreamResponse(upstream: upstream, status: record.status) }
        if let tenant = record.tenant { metrics.recordTenantRequest(tenant: tenant, status: record.status) }
        guard accessLogger.logLevel <= .info else { return }
        if let accessLog {
            return accessLog.append(record, elapsedNanoseconds: elapsed.nanoseconds, now: wallClock)
        }
        var metadata: Logger.Metadata = [
            "method": .string(record.method),
            "path": .string(record.path),
            "status": .string(String(record.status)),
            "route": .string(record.routeName ?? "no_route"),
            "bytes_in": .string(String(record.bytesIn)),
            "bytes_out": .string(String(record.bytesOut)),
            "duration_ms": .string(String(Double(elapsed.nanoseconds) / 1_000_000)),
            "client": .string(record.client),
        ]
        if let host = record.host { metadata["host"] = .string(host) }
        if let id = record.requestID { metadata["request.id"] = .string(id) }
        if let endpoint = record.endpoint { metadata["upstream"] = .string(endpoint.description) }
        if let reason = record.failureReason { metadata["error"] = .string(reason) }
        if let trace = record.trace {
            metadata["traceId"] = .string(trace.traceID)
            metadata["spanId"] = .string(trace.spanID)
        }
        accessLogger.info("request", metadata: metadata)
    }
}

/// What the access log and the request metrics report about one exchange.
struct ExchangeRecord {
    let method: String
    let path: String
    let host: String?
    let requestID: String?
    /// The client address (SPEC §13).
    let client: String
    let routeName: String?
    /// The route's tenant (SPEC §15).
    var tenant: String? = nil
    let startTime: NIODeadline
    var status = 0
    var bytesIn = 0
    var bytesOut = 0
    /// Why the gateway answered itself or cut the exchange.
    var failureReason: String?
    /// The endpoint of the last try.
    var endpoint: Endpoint?
    /// The upstream whose response the client got (none for the gateway's own answers).
    var servedBy: String?
    /// The gateway's span of a proxied request (SPEC §16).
    var trace: RequestTrace?
}
