/// When a response is gzipped (SPEC §8): the client accepts gzip, the upstream did not encode
/// the body, the type is compressible and the body is at least 1 KiB or of unknown length.
public enum CompressionPolicy {
    /// Smaller bodies are not worth the gzip header and the CPU.
    public static let minimumLength = 1024

    /// Whether `Accept-Encoding` values accept gzip, honouring q-values (`gzip;q=0` refuses,
    /// `*` accepts unless gzip is refused by name).
    public static func acceptsGzip<S: Sequence>(_ acceptEncoding: S) -> Bool where S.Element == String {
        var gzip: Double?
        var wildcard: Double?
        for value in acceptEncoding {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";").map { $0.trimmingWhitespace().lowercased() }
                guard let coding = parts.first, !coding.isEmpty else { continue }
                var quality = 1.0
                for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                    quality = Double(parameter.dropFirst(2)) ?? 0
                }
                switch coding {
                case "gzip", "x-gzip": gzip = max(gzip ?? 0, quality)
                case "*": wildcard = quality
                default: break
                }
            }
        }
        if let gzip { return gzip > 0 }
        return (wildcard ?? 0) > 0
    }

    /// Text, JSON, JavaScript, XML and SVG.
    public static func isCompressible(contentType: String?) -> Bool {
        guard let contentType else { return false }
        let type = contentType.split(separator: ";").first.map { $0.trimmingWhitespace().lowercased() } ?? ""
        if type.hasPrefix("text/") { return true }
        if type.hasSuffix("+json") || type.hasSuffix("+xml") { return true }
        return [
            "application/json", "application/javascript", "application/x-javascript", "application/ecmascript",
            "application/xml", "image/svg+xml", "application/manifest+json",
        ].contains(type)
    }

    /// Whether a response may be compressed at all (before asking the client): a body that
    /// can be, not already encoded, of a compressible type, large enough or of unknown length.
    public static func isEligible(
        requestMethod: String, status: Int, contentType: String?, contentEncoding: String?, contentLength: Int?
    ) -> Bool {
        // The cheap checks first: most small responses stop at their length.
        guard requestMethod != "HEAD", status >= 200, status != 204, status != 304 else { return false }
        if let contentLength, contentLength < minimumLength { return false }
        if let encoding = contentEncoding?.trimmingWhitespace().lowercased(), !encoding.isEmpty, encoding != "identity" {
            return false
        }
        return isCompressible(contentType: contentType)
    }
}
