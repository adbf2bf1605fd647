import W3CTraceContext

/// The W3C Trace Context a proxied request carries upstream (SPEC §16): the gateway's span,
/// a child of the client's when its `traceparent` is valid (its trace id and sampled flag
/// kept, `tracestate` passed on), else the root of a new trace sampled at the configured
/// rate. Parsing is swift-w3c-trace-context's: a version other than `00`, an all-zero id,
/// upper-case hex or a bad length starts a new trace (and drops the client's `tracestate`).
struct RequestTrace: Sendable {
    /// The gateway's span: what the upstream's `traceparent` names as its parent.
    let context: TraceContext
    /// The client's span, when its `traceparent` was valid.
    let parent: SpanID?

    var traceID: String { withUnsafeBytes(of: context.traceID.bytes) { Self.hex($0) } }
    var spanID: String { withUnsafeBytes(of: context.spanID.bytes) { Self.hex($0) } }
    var tracestate: String? { context.state.isEmpty ? nil : context.traceStateHeaderValue }

    /// `00-<trace id>-<span id>-<flags>`, written into one string (it is made for every
    /// proxied request; the library's description builds each part as a string of its own).
    var traceparent: String {
        String(unsafeUninitializedCapacity: 55) { buffer in
            var index = 0
            func put(_ byte: UInt8) {
                buffer[index] = byte
                index += 1
            }
            func putHex(_ byte: UInt8) {
                put(Self.digits[Int(byte >> 4)])
                put(Self.digits[Int(byte & 0x0F)])
            }
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "-"))
            withUnsafeBytes(of: context.traceID.bytes) { for byte in $0 { putHex(byte) } }
            put(UInt8(ascii: "-"))
            withUnsafeBytes(of: context.spanID.bytes) { for byte in $0 { putHex(byte) } }
            put(UInt8(ascii: "-"))
            putHex(context.flags.rawValue)
            return index
        }
    }

    private static let digits = Array("0123456789abcdef".utf8)

    private static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (offset, byte) in bytes.enumerated() {
                buffer[offset * 2] = digits[Int(byte >> 4)]
                buffer[offset * 2 + 1] = digits[Int(byte & 0x0F)]
            }
            return bytes.count * 2
        }
    }

    /// - Parameters:
    ///   - sampleRate: The share of new traces sampled, 0–1.
    ///   - random: A uniformly random 64-bit number, each call a new one.
    init(traceparent: String?, tracestate: String?, sampleRate: Double, random: () -> UInt64) {
        let spanID = SpanID(bytes: Self.bytes8(random()))
        // An invalid `tracestate` is dropped; the `traceparent` beside it still counts.
        if let traceparent,
            let client = (try? TraceContext(traceParentHeaderValue: traceparent, traceStateHeaderValue: tracestate))
                ?? (try? TraceContext(traceParentHeaderValue: traceparent))
        {
            context = TraceContext(traceID: client.traceID, spanID: spanID, flags: client.flags, state: client.state)
            parent = client.spanID
            return
        }
        let high = Self.bytes8(random())
        let low = Self.bytes8(random())
        let traceID = TraceID(
            bytes: (high.0, high.1, high.2, high.3, high.4, high.5, high.6, high.7, low.0, low.1, low.2, low.3, low.4, low.5, low.6, low.7))
        // A draw below the rate's share of 2^64 samples the trace.
        let sampled = sampleRate >= 1 || (sampleRate > 0 && Double(random()) < sampleRate * 18_446_744_073_709_551_616.0)
        context = TraceContext(traceID: traceID, spanID: spanID, flags: sampled ? .sampled : [], state: TraceState())
        parent = nil
    }

    private static func bytes8(_ value: UInt64) -> SpanID.Bytes {
        // Never all zero: W3C forbids a zero id.
        let value = value == 0 ? 1 : value
        return (
            UInt8(truncatingIfNeeded: value >> 56), UInt8(truncatingIfNeeded: value >> 48), UInt8(truncatingIfNeeded: value >> 40),
            UInt8(truncatingIfNeeded: value >> 32), UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
            UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)
        )
    }
}
