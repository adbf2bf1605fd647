import Crypto
import Foundation
import SwiftASN1
import X509

/// A self-signed server certificate with a new P-256 key, for development (`portico certs
/// dev`) and tests: never for production, where a CA-issued certificate belongs in `certs/`.
public struct SelfSignedCertificate: Sendable {
    /// The certificate, PEM.
    public var certificatePEM: String
    /// Its private key, PEM (PKCS#8).
    public var privateKeyPEM: String

    /// Makes a certificate for `dnsNames` (the first is the subject's common name) and
    /// IPv4 or IPv6 addresses, valid from an hour ago for `validity`.
    public init(dnsNames: [String], ipAddresses: [String] = [], validity: Duration = .seconds(397 * 86_400)) throws {
        let key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName {
            CommonName(dnsNames.first ?? ipAddresses.first ?? "portico")
            OrganizationName("Portico development certificate")
        }
        var alternativeNames: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let bytes = Self.addressBytes(address) else {
                throw CertificateGenerationError(message: "not an IP address: \(address)")
            }
            alternativeNames.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(TimeInterval(validity.components.seconds)),
            issuer: subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(alternativeNames)
            },
            issuerPrivateKey: .init(key))
        certificatePEM = try certificate.serializeAsPEM().pemString + "\n"
        privateKeyPEM = key.pemRepresentation + "\n"
    }

    /// Writes `NAME.crt` and `NAME.key` (mode 0600) into `directory`, creating it.
    public func write(to directory: String, name: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let base = (directory as NSString).appendingPathComponent(name)
        try PrivateFile.write(privateKeyPEM, to: base + ".key")
        try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: base + ".crt"), options: .atomic)
    }

    private static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

/// A self-signed certificate could not be made.
public struct CertificateGenerationError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
