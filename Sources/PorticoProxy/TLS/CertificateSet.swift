import NIOSSL
import PorticoCore

/// A certificate pair from the certificates folder, parsed and checked: the chain (leaf
/// first), its private key and the DNS names the leaf covers.
public struct TLSCertificate: Sendable {
    /// The file name without `.crt`: `api` for `api.crt` and `api.key`.
    public var name: String
    public var dnsNames: [String]
    public var chain: [NIOSSLCertificate]
    public var privateKey: NIOSSLPrivateKey

    public init(name: String, dnsNames: [String], chain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) {
        self.name = name
        self.dnsNames = dnsNames
        self.chain = chain
        self.privateKey = privateKey
    }
}

/// The certificates the HTTPS listener serves: one TLS server context per certificate,
/// chosen per connection by the client's server name (``ServerNameIndex``). Immutable; a
/// reload publishes a new set, and connections keep the context they were accepted with.
public struct CertificateSet: Sendable {
    /// The certificates in the set, by name.
    public let certificates: [TLSCertificate]
    private let index: ServerNameIndex<NIOSSLContext>

    /// A set that serves nothing.
    public static let empty = CertificateSet(certificates: [], index: ServerNameIndex([]))

    private init(certificates: [TLSCertificate], index: ServerNameIndex<NIOSSLContext>) {
        self.certificates = certificates
        self.index = index
    }

    /// Builds a context per certificate. A certificate whose context cannot be made is left
    /// out and reported by name.
    public static func build(_ certificates: [TLSCertificate]) -> (set: CertificateSet, failures: [(name: String, error: Error)]) {
        var kept: [TLSCertificate] = []
        var entries: [ServerNameIndex<NIOSSLContext>.Entry] = []
        var failures: [(name: String, error: Error)] = []
        for certificate in certificates.sorted(by: { $0.name < $1.name }) {
            do {
                let context = try NIOSSLContext(configuration: TLSPolicy.serverConfiguration(for: certificate))
                kept.append(certificate)
                entries.append(.init(name: certificate.name, dnsNames: certificate.dnsNames, value: context))
            } catch {
                failures.append((certificate.name, error))
            }
        }
        return (CertificateSet(certificates: kept, index: ServerNameIndex(entries)), failures)
    }

    /// Whether the set has no certificate.
    public var isEmpty: Bool { certificates.isEmpty }

    /// The context for a client's server name (SNI), or the fallback; `nil` when empty.
    func context(serverName: String?) -> NIOSSLContext? {
        index.select(serverName: serverName)
    }
}

/// The active ``CertificateSet``.
public typealias CertificateStore = SnapshotStore<CertificateSet>

/// The TLS settings of the HTTPS listener (SPEC §9).
public enum TLSPolicy {
    /// The protocols offered by ALPN, HTTP/2 first.
    public static let applicationProtocols = ["h2", "http/1.1"]

    /// TLS 1.2 and 1.3 only. For TLS 1.2, only forward-secret AEAD suites (Mozilla's
    /// "intermediate" list), so the order of preference carries no weakness; TLS 1.3 has
    /// only such suites. BoringSSL never renegotiates as a server.
    public static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    static func serverConfiguration(for certificate: TLSCertificate) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificate.chain.map { .certificate($0) }, privateKey: .privateKey(certificate.privateKey))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = .tlsv13
        configuration.cipherSuites = tls12CipherSuites
        configuration.applicationProtocols = applicationProtocols
        return configuration
    }
}
