import Foundation
import NIOSSL
import PorticoProxy
import X509

/// Reads the certificates folder (SPEC §9): every `NAME.crt` (PEM, leaf first, then the
/// chain) with its `NAME.key`. A pair that cannot be used is reported and left out; the
/// others load.
public enum CertificateFolderLoader {
    /// What a load found.
    public struct Result: Sendable {
        /// The usable pairs, by name.
        public var certificates: [TLSCertificate] = []
        /// One line per unusable pair or stray file, naming the file.
        public var problems: [String] = []
        /// The names (`api` for `api.crt`) of the pairs left out.
        public var skippedNames: Set<String> = []
        /// Usable pairs worth a look (an expired or not yet valid certificate is still served).
        public var warnings: [String] = []
    }

    /// Loads the folder; a missing folder holds no certificates.
    public static func load(directory: String, now: Date = Date()) -> Result {
        var result = Result()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return result }
        let visible = Set(names.filter { !$0.hasPrefix(".") })
        let display = RouteFolderLoader.displayPath(directory)
        func file(_ name: String) -> String { display == "." ? name : display + "/" + name }

        for name in visible.sorted() where name.hasSuffix(".crt") {
            let base = String(name.dropLast(4))
            guard visible.contains(base + ".key") else {
                result.problems.append("\(file(name)): no \(base).key beside it; skipped")
                result.skippedNames.insert(base)
                continue
            }
            do {
                let certificate = try loadPair(
                    name: base, certificatePEM: try read(directory, name), keyPEM: try read(directory, base + ".key"))
                result.certificates.append(certificate.certificate)
                if now > certificate.notValidAfter {
                    result.warnings.append("\(file(name)): expired on \(certificate.notValidAfter); still served")
                } else if now < certificate.notValidBefore {
                    result.warnings.append("\(file(name)): not valid before \(certificate.notValidBefore); still served")
                }
            } catch {
                result.problems.append("\(file(name)), \(base).key: \(error.message); skipped")
                result.skippedNames.insert(base)
            }
        }
        for name in visible.sorted() where name.hasSuffix(".key") && !visible.contains(String(name.dropLast(4)) + ".crt") {
            result.problems.append("\(file(name)): no \(name.dropLast(4)).crt beside it; skipped")
        }
        return result
    }

    /// Loads the folder and builds the TLS contexts the HTTPS listener would serve, as
    /// `portico validate --certs` reports it: problems include pairs whose context fails.
    public static func check(directory: String) -> (certificates: [TLSCertificate], problems: [String], warnings: [String]) {
        let loaded = load(directory: directory)
        let (set, failures) = CertificateSet.build(loaded.certificates)
        let display = RouteFolderLoader.displayPath(directory)
        let failed = failures.map { "\(display)/\($0.name).crt: cannot make a TLS context (\($0.error)); skipped" }
        return (set.certificates, loaded.problems + failed, loaded.warnings)
    }

    /// Whether a file name belongs to the certificates folder's pairs.
    @Sendable public static func isCertificateFile(_ name: String) -> Bool {
        !name.hasPrefix(".") && (name.hasSuffix(".crt") || name.hasSuffix(".key"))
    }

    /// Why a pair cannot be used.
    public struct PairError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses and checks one pair: a certificate chain, a private key that belongs to the
    /// leaf, and the leaf's DNS names (its subject alternative names, else its common name).
    public static func loadPair(name: String, certificatePEM: String, keyPEM: String) throws(PairError)
        -> (certificate: TLSCertificate, notValidBefore: Date, notValidAfter: Date)
    {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
        } catch {
            throw PairError(message: "the certificate is not valid PEM (\(error))")
        }
        guard let leafDER = chain.first.flatMap({ try? $0.toDERBytes() }) else {
            throw PairError(message: "no certificate in the file")
        }
        let leaf: Certificate
        do {
            leaf = try Certificate(derEncoded: leafDER)
        } catch {
            throw PairError(message: "the certificate cannot be read (\(error))")
        }
        let privateKey: NIOSSLPrivateKey
        let key: Certificate.PrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
            key = try Certificate.PrivateKey(pemEncoded: keyPEM)
        } catch {
            throw PairError(message: "the private key is not a valid unencrypted PEM key (\(error))")
        }
        guard key.publicKey == leaf.publicKey else {
            throw PairError(message: "the private key does not belong to the certificate")
        }
        let dnsNames = dnsNames(of: leaf)
        guard !dnsNames.isEmpty else {
            throw PairError(message: "the certificate names no DNS name (subject alternative name or common name)")
        }
        return (
            TLSCertificate(name: name, dnsNames: dnsNames, chain: chain, privateKey: privateKey),
            leaf.notValidBefore, leaf.notValidAfter
        )
    }

    /// The DNS names of the subject alternative names; the common name when there are none.
    static func dnsNames(of certificate: Certificate) -> [String] {
        var names: [String] = []
        if let alternatives = try? certificate.extensions.subjectAlternativeNames {
            for case .dnsName(let name) in alternatives { names.append(name.lowercased()) }
        }
        if names.isEmpty {
            for relativeName in certificate.subject {
                for attribute in relativeName where attribute.type == .RDNAttributeType.commonName {
                    if let commonName = String(attribute.value), !commonName.contains(" ") {
                        names.append(commonName.lowercased())
                    }
                }
            }
        }
        return names
    }

    private static func read(_ directory: String, _ name: String) throws(PairError) -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PairError(message: "cannot read \(name)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PairError(message: "\(name) is not PEM text")
        }
        return text
    }
}

extension Error {
    fileprivate var message: String {
        (self as? CertificateFolderLoader.PairError)?.message ?? "\(self)"
    }
}
