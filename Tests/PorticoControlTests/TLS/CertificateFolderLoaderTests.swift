import Foundation
import Logging
import PorticoControl
import PorticoTestSupport
import Testing

@Suite struct CertificateFolderLoaderTests {
    @Test func loadsPairsWithTheirDNSNamesAndReportsEveryUnusableFile() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try TestCertificate(dnsNames: ["api.veni.test", "API2.veni.test"]).write(to: folder, name: "api")
        try TestCertificate(dnsNames: ["*.veni.test"]).write(to: folder, name: "wildcard")
        try folder.write("certs/mismatch.crt", try TestCertificate(dnsNames: ["a.test"]).certificatePEM)
        try folder.write("certs/mismatch.key", try TestCertificate(dnsNames: ["b.test"]).privateKeyPEM)
        try folder.write("certs/garbage.crt", "hello")
        try folder.write("certs/garbage.key", "hello")
        try folder.write("certs/nokey.crt", try TestCertificate(dnsNames: ["c.test"]).certificatePEM)
        try folder.write("certs/nocert.key", try TestCertificate(dnsNames: ["d.test"]).privateKeyPEM)
        try folder.write("certs/README.md", "not a certificate")

        let directory = folder.url.appendingPathComponent("certs").path
        let loaded = CertificateFolderLoader.load(directory: directory)
        #expect(loaded.certificates.map(\.name) == ["api", "wildcard"])
        #expect(loaded.certificates.map(\.dnsNames) == [["api.veni.test", "api2.veni.test"], ["*.veni.test"]])
        #expect(loaded.skippedNames == ["mismatch", "garbage", "nokey"])
        #expect(loaded.problems.count == 4)
        #expect(loaded.problems.contains("\(directory)/mismatch.crt, mismatch.key: the private key does not belong to the certificate; skipped"))
        #expect(loaded.problems.contains { $0.hasPrefix("\(directory)/garbage.crt, garbage.key: ") })
        #expect(loaded.problems.contains("\(directory)/nokey.crt: no nokey.key beside it; skipped"))
        #expect(loaded.problems.contains("\(directory)/nocert.key: no nocert.crt beside it; skipped"))
        #expect(loaded.warnings.isEmpty)
    }

    @Test func aMissingFolderHoldsNoCertificates() {
        let loaded = CertificateFolderLoader.load(directory: "/nonexistent/portico-certs")
        #expect(loaded.certificates.isEmpty)
        #expect(loaded.problems.isEmpty)
    }

    @Test func theReloaderKeepsThePreviousVersionOfAPairThatTurnedBadAndDropsRemovedOnes() throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let api = try TestCertificate(dnsNames: ["api.veni.test"])
        try api.write(to: folder, name: "api")
        try TestCertificate(dnsNames: ["other.test"]).write(to: folder, name: "other")
        let reloader = CertificateReloader(
            directory: folder.url.appendingPathComponent("certs").path, logger: Logger(label: "test"))
        #expect(reloader.store.current.certificates.map(\.name) == ["api", "other"])

        // Half-way through a renewal: the new key beside the old certificate.
        try folder.write("certs/api.key", try TestCertificate(dnsNames: ["api.veni.test"]).privateKeyPEM)
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("certs/other.crt"))
        try FileManager.default.removeItem(at: folder.url.appendingPathComponent("certs/other.key"))
        reloader.reload()
        let current = reloader.store.current.certificates
        #expect(current.map(\.name) == ["api"])
        #expect(try current.first?.chain.first?.toDERBytes() == (try api.der()))
    }
}
