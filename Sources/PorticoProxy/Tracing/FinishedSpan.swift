import PorticoCore
import W3CTraceContext

/// The gateway's SERVER span of one proxied request, as it is exported (SPEC §16). It keeps
/// the exchange's values as they are; the span's name and attributes are made when a batch
/// is encoded, off the event loops.
struct FinishedSpan: Sendable {
    let trace: RequestTrace
    let method: String
    let path: String
    /// The route's name (`http.route`).
    let route: String?
    let status: Int
    let client: String
    /// The request's host (`server.address`).
    let host: String?
    /// The endpoint of the last try (`portico.upstream.endpoint`).
    let endpoint: Endpoint?
    let startUnixNanos: UInt64
    let endUnixNanos: UInt64

    /// The attributes SPEC §16 names, in its order (given one by one, so that encoding a
    /// span makes no array or string of its own).
    func forEachAttribute(_ body: (String, SpanAttributeValue) -> Void) {
        body("http.request.method", .string(method))
        body("url.path", .string(path))
        if let route { body("http.route", .string(route)) }
        body("http.response.status_code", .int(Int64(status)))
        body("client.address", .string(client))
        if let host { body("server.address", .string(host)) }
        if let endpoint { body("portico.upstream.endpoint", .endpoint(endpoint)) }
    }

    /// A 5xx is an error of a server span; anything else leaves the status unset
    /// (OpenTelemetry's HTTP conventions).
    var isError: Bool { status >= 500 }
}

/// A span attribute's value, as the gateway's spans use them.
enum SpanAttributeValue: Sendable, Equatable {
    case string(String)
    case int(Int64)
    /// `host:port`, written as a string.
    case endpoint(Endpoint)
}

extension FinishedSpan {
    /// The span of an exchange that ended at `endUnixNanos` (wall clock) after `elapsedNanos`;
    /// nil for an exchange without a trace (the gateway answered it itself).
    init?(_ record: ExchangeRecord, endUnixNanos: UInt64, elapsedNanos: Int64) {
        guard let trace = record.trace else { return nil }
        self.init(
            trace: trace, method: record.method, path: record.path, route: record.routeName, status: record.status,
            client: record.client, host: record.host, endpoint: record.endpoint,
            startUnixNanos: endUnixNanos &- UInt64(clamping: elapsedNanos), endUnixNanos: endUnixNanos)
    }
}
