import Foundation

/// Writes secrets — the admin token, private keys — so that no other user can read them at
/// any moment: the file is created with mode 0600 (an existing one is set to 0600 before
/// it is written).
enum PrivateFile {
    static func write(_ contents: String, to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw PrivateFileError(path: path, code: errno) }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else { throw PrivateFileError(path: path, code: errno) }
        var bytes = Array(contents.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw PrivateFileError(path: path, code: errno)
            }
            bytes = bytes.dropFirst(written)
        }
    }
}

/// A private file could not be written.
struct PrivateFileError: Error, CustomStringConvertible {
    var path: String
    var code: Int32
    var description: String { "cannot write \(path): \(String(cString: strerror(code)))" }
}
