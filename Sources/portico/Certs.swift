import ArgumentParser
import Foundation
import PorticoControl

/// `portico certs`: certificate helpers.
struct Certs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Certificate helpers for the HTTPS listener.", subcommands: [Dev.self])

    /// `portico certs dev`: a self-signed certificate for localhost.
    struct Dev: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a self-signed certificate for localhost and 127.0.0.1 into the certificates folder.",
            discussion: "Writes localhost.crt and localhost.key (mode 0600). For development only: browsers warn about it "
                + "until you trust it; in production put a CA-issued pair in the folder.")

        @Option(name: .customLong("certs-dir"), help: "Certificates folder (PORTICO_CERTS_DIR, default ./certs).")
        var certsDirectory: String?
        @Flag(help: "Replace an existing localhost.crt and localhost.key.")
        var force = false

        func run() async throws {
            let directory = certsDirectory ?? ProcessInfo.processInfo.environment[GatewaySettings.Key.certsDirectory.rawValue]
                .flatMap { $0.isEmpty ? nil : $0 } ?? GatewaySettings().certsDirectory
            let base = (directory as NSString).appendingPathComponent("localhost")
            if !force, FileManager.default.fileExists(atPath: base + ".crt") || FileManager.default.fileExists(atPath: base + ".key") {
                print("\(base).crt or .key already exists; use --force to replace it")
                throw ExitCode(1)
            }
            let certificate = try SelfSignedCertificate(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1", "::1"])
            try certificate.write(to: directory, name: "localhost")
            print("wrote \(base).crt and \(base).key: a self-signed certificate for localhost, 127.0.0.1 and ::1, valid 397 days")
            print("a running gateway picks it up within seconds; try: curl --cacert \(base).crt https://localhost:8443/")
        }
    }
}
