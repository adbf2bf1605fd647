/// A request target parsed and normalized as SPEC §4 prescribes.
///
/// Origin-form (`/a/b?q`) and absolute-form (`http://host/a?q`, RFC 9112 §3.2.2) are accepted;
/// `*` only for `OPTIONS`; anything else is refused. The path is normalized: percent-encoded
/// unreserved characters decoded, runs of `/` merged, dot segments removed (RFC 3986 §5.2.4);
/// `%2F` and other reserved escapes stay encoded.
public struct RequestTarget: Hashable, Sendable {
    /// The normalized path, always starting with `/` (or `*` for `OPTIONS *`).
    public var path: String
    /// The query including its leading `?`, as received; empty when there is none.
    public var query: String
    /// The authority of an absolute-form target, which takes the place of `Host`.
    public var authority: String?

    /// Why a target was refused.
    public enum Failure: Error, Hashable, Sendable {
        /// Not origin-form, absolute-form or `*`.
        case unsupportedForm
        /// A character that is not allowed, or a bad percent escape.
        case invalidCharacters
    }

    public init(path: String, query: String = "", authority: String? = nil) {
        self.path = path
        self.query = query
        self.authority = authority
    }

    /// Parses the raw request target of a request with the given method.
    public static func parse(_ uri: String, method: String) -> Result<RequestTarget, Failure> {
        var rest = Substring(uri)
        var authority: String?
        if rest == "*" {
            return method == "OPTIONS" ? .success(RequestTarget(path: "*")) : .failure(.unsupportedForm)
        }
        if !rest.hasPrefix("/") {
            let lower = rest.prefix(8).lowercased()
            let schemeLength: Int
            if lower.hasPrefix("http://") {
                schemeLength = 7
            } else if lower.hasPrefix("https://") {
                schemeLength = 8
            } else {
                return .failure(.unsupportedForm)
            }
            rest = rest.dropFirst(schemeLength)
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            let rawAuthority = rest[..<authorityEnd]
            guard !rawAuthority.isEmpty else { return .failure(.unsupportedForm) }
            authority = String(rawAuthority)
            rest = rest[authorityEnd...]
            if !rest.hasPrefix("/") { rest = "/" + rest }
        }
        let queryStart = rest.firstIndex(of: "?") ?? rest.endIndex
        let rawPath = rest[..<queryStart]
        let query = rest[queryStart...]
        guard query.utf8.allSatisfy(isAllowedTargetByte), !rest.contains("#") else {
            return .failure(.invalidCharacters)
        }
        guard let path = normalizePath(rawPath) else { return .failure(.invalidCharacters) }
        return .success(RequestTarget(path: path, query: String(query), authority: authority))
    }

    /// Normalizes an origin-form path; `nil` on a bad character or percent escape.
    public static func normalizePath(_ raw: Substring) -> String? {
        if isNormal(raw.utf8) { return String(raw) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.utf8.count)
        var bytes = raw.utf8.makeIterator()
        while let byte = bytes.next() {
            guard isAllowedTargetByte(byte) else { return nil }
            if byte == UInt8(ascii: "%") {
                guard let high = bytes.next().flatMap(hexValue), let low = bytes.next().flatMap(hexValue) else {
                    return nil
                }
                let value = high << 4 | low
                if isUnreserved(value) {
                    decoded.append(value)
                } else {
                    decoded.append(UInt8(ascii: "%"))
                    decoded.append(hexDigits[Int(high)])
                    decoded.append(hexDigits[Int(low)])
                }
            } else if byte == UInt8(ascii: "/"), decoded.last == UInt8(ascii: "/") {
                continue  // merge runs of "/"
            } else {
                decoded.append(byte)
            }
        }
        if decoded.first != UInt8(ascii: "/") { decoded.insert(UInt8(ascii: "/"), at: 0) }
        return removeDotSegments(decoded)
    }

    /// Whether a path is normal already, as most are: it starts with `/` and has only allowed
    /// bytes, no percent escape, and no segment that is empty or starts with a dot. Then it
    /// is its own normal form, without the byte-by-byte copy.
    private static func isNormal(_ path: Substring.UTF8View) -> Bool {
        guard path.first == UInt8(ascii: "/") else { return false }
        var previous: UInt8 = 0
        for byte in path {
            guard isAllowedTargetByte(byte), byte != UInt8(ascii: "%") else { return false }
            if previous == UInt8(ascii: "/"), byte == UInt8(ascii: "/") || byte == UInt8(ascii: ".") { return false }
            previous = byte
        }
        return true
    }

    /// RFC 3986 §5.2.4 on a path that starts with `/` and has no empty segments.
    static func removeDotSegments(_ path: [UInt8]) -> String {
        // Fast path: no segment can be "." or ".." when there is no "/." in the path.
        var hasDot = false
        for index in path.indices.dropLast() where path[index] == UInt8(ascii: "/") && path[index + 1] == UInt8(ascii: ".") {
            hasDot = true
            break
        }
        if !hasDot { return String(decoding: path, as: UTF8.self) }

        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        var output: [ArraySlice<UInt8>] = []
        var endsWithSlash = false
        for segment in segments {
            endsWithSlash = false
            if segment.elementsEqual([UInt8(ascii: ".")]) {
                endsWithSlash = true
            } else if segment.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                if !output.isEmpty { output.removeLast() }
                endsWithSlash = true
            } else {
                output.append(segment)
            }
        }
        var result = "/" + output.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        if endsWithSlash, !result.hasSuffix("/") { result += "/" }
        return result
    }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "_"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Visible ASCII only: no controls, spaces or bytes above 0x7E in a target.
    private static func isAllowedTargetByte(_ byte: UInt8) -> Bool {
        byte > 0x20 && byte < 0x7F
    }
}
