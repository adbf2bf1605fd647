/// A route's `auth` (SPEC §13): a JWT check, then a forward-auth call, before the upstream.
public struct AuthDefinition: Hashable, Sendable {
    public var jwt: JWTAuthDefinition?
    public var forward: ForwardAuthDefinition?

    public init(jwt: JWTAuthDefinition? = nil, forward: ForwardAuthDefinition? = nil) {
        self.jwt = jwt
        self.forward = forward
    }
}

/// `auth.forward` (Traefik ForwardAuth): `GET url` decides whether the request goes on.
public struct ForwardAuthDefinition: Hashable, Sendable {
    public static let defaultTimeout: Duration = .seconds(2)
    public static let defaultRequestHeaders = ["Authorization", "Cookie"]

    /// An absolute `http` or `https` URL.
    public var url: String
    /// No answer within it: 503 `auth_unavailable`.
    public var timeout: Duration
    /// Client headers the call carries.
    public var requestHeaders: [String]
    /// Headers copied from a 2xx answer to the upstream request (removed from the client's first).
    public var responseHeaders: [String]

    public init(
        url: String, timeout: Duration = Self.defaultTimeout, requestHeaders: [String] = Self.defaultRequestHeaders,
        responseHeaders: [String] = []
    ) {
        self.url = url
        self.timeout = timeout
        self.requestHeaders = requestHeaders
        self.responseHeaders = responseHeaders
    }
}

/// `auth.jwt`: a bearer token signed by a key of a JWKS, with its time, issuer and audience checked.
public struct JWTAuthDefinition: Hashable, Sendable {
    /// Where the keys come from.
    public enum KeySource: Hashable, Sendable {
        /// A path relative to the routes folder.
        case file(String)
        /// An `http` or `https` URL.
        case url(String)
    }

    /// A claim copied to a request header for the upstream.
    public struct ClaimHeader: Hashable, Sendable {
        public var claim: String
        public var header: String

        public init(claim: String, header: String) {
            self.claim = claim
            self.header = header
        }
    }

    /// The signature algorithms accepted (SPEC §13); every other `alg`, `none` and the HMACs
    /// included, is refused.
    public static let algorithms: Set<String> = ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]
    /// Seconds `exp` and `nbf` may be off by.
    public static let leewaySeconds: Double = 60

    /// `iss` must equal it when given.
    public var issuer: String?
    /// `aud` must hold one of them when not empty.
    public var audiences: [String]
    public var keys: KeySource
    public var claimsToHeaders: [ClaimHeader]

    public init(issuer: String? = nil, audiences: [String] = [], keys: KeySource, claimsToHeaders: [ClaimHeader] = []) {
        self.issuer = issuer
        self.audiences = audiences
        self.keys = keys
        self.claimsToHeaders = claimsToHeaders
    }
}

/// The claims of a JWT that the gateway checks or copies, as plain values.
public struct JWTClaims: Sendable, Equatable {
    public var issuer: String?
    public var audiences: [String]
    /// Seconds since 1970.
    public var expiration: Double?
    public var notBefore: Double?
    /// Claims with a string, number or boolean value, as text.
    public var values: [String: String]

    public init(
        issuer: String? = nil, audiences: [String] = [], expiration: Double? = nil, notBefore: Double? = nil,
        values: [String: String] = [:]
    ) {
        self.issuer = issuer
        self.audiences = audiences
        self.expiration = expiration
        self.notBefore = notBefore
        self.values = values
    }

    /// Why the claims do not pass `definition`'s issuer and audience checks, or `nil`.
    public func identityProblem(for definition: JWTAuthDefinition) -> String? {
        if let issuer = definition.issuer, self.issuer != issuer { return "wrong issuer" }
        if !definition.audiences.isEmpty, !audiences.contains(where: definition.audiences.contains) {
            return "wrong audience"
        }
        return nil
    }

    /// Why the token is not valid at `now` (seconds since 1970), with the leeway, or `nil`.
    public func timeProblem(now: Double) -> String? {
        let leeway = JWTAuthDefinition.leewaySeconds
        if let expiration, now >= expiration + leeway { return "expired" }
        if let notBefore, now + leeway < notBefore { return "not yet valid" }
        return nil
    }

    /// The request headers `definition`'s `claimsToHeaders` set, in its order.
    public func headers(for definition: JWTAuthDefinition) -> [(String, String)] {
        definition.claimsToHeaders.compactMap { pair in values[pair.claim].map { (pair.header, $0) } }
    }
}

/// The token of an `Authorization: Bearer …` header.
public enum BearerToken {
    /// The token, or `nil` when the header is missing, another scheme, or empty. Works on
    /// the UTF-8 bytes: a token is hundreds of ASCII bytes, read on every request.
    public static func parse(_ authorization: String?) -> Substring? {
        guard let authorization else { return nil }
        let bytes = authorization.utf8
        let space = UInt8(ascii: " ")
        var index = bytes.firstIndex { $0 != space } ?? bytes.endIndex
        for expected in "bearer".utf8 {
            guard index < bytes.endIndex, bytes[index] | 0x20 == expected else { return nil }
            bytes.formIndex(after: &index)
        }
        guard index < bytes.endIndex, bytes[index] == space else { return nil }
        guard let start = bytes[index...].firstIndex(where: { $0 != space }),
            let last = bytes[start...].lastIndex(where: { $0 != space })
        else { return nil }
        return Substring(bytes[start...last])
    }
}
