import PorticoCore

/// An OTLP `ExportTraceServiceRequest` (opentelemetry-proto's
/// `collector/trace/v1/trace_service.proto`) in protobuf's wire format, the body of an
/// OTLP/HTTP export (`application/x-protobuf`).
///
/// Only the fields the gateway's spans use are written: one resource (`service.name`), one
/// scope, and per span its ids, `tracestate`, name, kind SERVER, times, attributes and, for a
/// 5xx, status ERROR. swift-otel keeps its generated OTLP types internal, and generating our
/// own needs protoc and the Swift plugin for six messages; the tests decode these bytes with
/// the `opentelemetry-proto` package's own decoder.
enum OTLPTraceRequest {
    /// `service.name` of the resource the spans belong to.
    static let serviceName = "portico"

    static func encode(_ spans: some Collection<FinishedSpan>, serviceVersion: String? = nil) -> [UInt8] {
        var request = ProtobufWriter()
        request.message(1) { resourceSpans in  // ExportTraceServiceRequest.resource_spans
            resourceSpans.message(1) { resource in  // ResourceSpans.resource
                resource.keyValue(1, key: "service.name", value: serviceName)
                if let serviceVersion { resource.keyValue(1, key: "service.version", value: serviceVersion) }
            }
            resourceSpans.message(2) { scopeSpans in  // ResourceSpans.scope_spans
                scopeSpans.message(1) { scope in scope.string(1, serviceName) }  // InstrumentationScope.name
                for span in spans {
                    scopeSpans.message(2) { writer in writer.span(span) }  // ScopeSpans.spans
                }
            }
        }
        return request.bytes
    }
}

extension ProtobufWriter {
    /// A `Span` message's fields.
    fileprivate mutating func span(_ span: FinishedSpan) {
        let context = span.trace.context
        withUnsafeBytes(of: context.traceID.bytes) { bytes(1, $0) }
        withUnsafeBytes(of: context.spanID.bytes) { bytes(2, $0) }
        if let state = span.trace.tracestate { string(3, state) }
        if let parent = span.trace.parent { withUnsafeBytes(of: parent.bytes) { bytes(4, $0) } }
        // `GET app`: the method and the route, as OpenTelemetry names HTTP server spans.
        message(5) { name in
            name.raw(span.method)
            if let route = span.route {
                name.raw(" ")
                name.raw(route)
            }
        }
        varintField(6, 2)  // SPAN_KIND_SERVER
        fixed64(7, span.startUnixNanos)
        fixed64(8, span.endUnixNanos)
        span.forEachAttribute { key, value in
            message(9) { pair in  // KeyValue
                pair.string(1, key)
                pair.message(2) { any in  // AnyValue
                    switch value {
                    case .string(let text): any.string(1, text)
                    case .int(let number): any.varintField(3, UInt64(bitPattern: number))
                    case .endpoint(let endpoint):
                        any.message(1) { text in endpoint.appendDescription(to: &text.bytes) }
                    }
                }
            }
        }
        if span.isError {
            message(15) { status in status.varintField(3, 2) }  // Status.code = STATUS_CODE_ERROR
        }
    }

    /// A `KeyValue` message with a string `AnyValue`.
    fileprivate mutating func keyValue(_ field: Int, key: String, value: String) {
        message(field) { pair in
            pair.string(1, key)
            pair.message(2) { any in any.string(1, value) }
        }
    }
}

/// Writes protobuf's wire format: varints, fixed64 and length-delimited fields, all into one
/// array (a nested message is written in place and its length put in front of it after).
struct ProtobufWriter {
    /// What is written so far; a field's body may append to it (see ``message(_:_:)``).
    var bytes: [UInt8] = []

    private enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
    }

    private mutating func tag(_ field: Int, _ type: WireType) {
        varint(UInt64(field) << 3 | type.rawValue)
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func varintField(_ field: Int, _ value: UInt64) {
        tag(field, .varint)
        varint(value)
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        tag(field, .fixed64)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func bytes(_ field: Int, _ value: UnsafeRawBufferPointer) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func string(_ field: Int, _ value: String) {
        message(field) { $0.raw(value) }
    }

    /// Bytes of a field `message` is writing: text as UTF-8.
    mutating func raw(_ text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// A length-delimited field (a nested message, or text written in parts): `body`
    /// writes it here, then its length goes in front.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        tag(field, .lengthDelimited)
        let start = bytes.count
        body(&self)
        var length = UInt64(bytes.count - start)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 10) { prefix in
            var count = 0
            while length >= 0x80 {
                prefix[count] = UInt8(truncatingIfNeeded: length) | 0x80
                length >>= 7
                count += 1
            }
            prefix[count] = UInt8(length)
            bytes.insert(contentsOf: prefix[0...count], at: start)
        }
    }
}
