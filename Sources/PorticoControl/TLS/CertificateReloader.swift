import Logging
import PorticoProxy

/// Keeps the HTTPS listener's ``CertificateStore`` in step with the certificates folder.
///
/// Each load builds a new ``CertificateSet`` and publishes it with one reference store; new
/// connections get it, established ones keep theirs. A pair that cannot be used is logged
/// with its file name and skipped; if an earlier load had a good version of it (a renewal
/// caught between writing the certificate and the key), that version stays in use.
public final class CertificateReloader: Sendable {
    /// The active certificates.
    public let store = CertificateStore(.empty)
    /// The folder read.
    public let directory: String
    private let logger: Logger

    /// Loads the folder once.
    public init(directory: String, logger: Logger) {
        self.directory = directory
        self.logger = logger
        reload()
    }

    /// Reads the folder again and publishes the result.
    public func reload() {
        let loaded = CertificateFolderLoader.load(directory: directory)
        for problem in loaded.problems {
            logger.error("certificate skipped", metadata: ["problem": "\(problem)"])
        }
        for warning in loaded.warnings {
            logger.warning("certificate", metadata: ["warning": "\(warning)"])
        }
        var certificates = loaded.certificates
        for previous in store.current.certificates where loaded.skippedNames.contains(previous.name) {
            logger.warning("keeping the previous version of a skipped certificate", metadata: ["certificate": "\(previous.name)"])
            certificates.append(previous)
        }
        let (set, failures) = CertificateSet.build(certificates)
        for failure in failures {
            logger.error("certificate skipped", metadata: ["certificate": "\(failure.name)", "error": "\(failure.error)"])
        }
        store.publish(set)
        logger.info(
            "certificates loaded",
            metadata: [
                "folder": "\(directory)",
                "certificates": "\(set.certificates.map { "\($0.name) (\($0.dnsNames.joined(separator: ", ")))" }.joined(separator: "; "))",
            ])
    }
}
