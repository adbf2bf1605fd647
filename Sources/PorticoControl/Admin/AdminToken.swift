import Foundation
import Logging

/// The bearer token of the admin API (SPEC §2).
public enum AdminToken {
    /// The configured token, else the one kept in `admin.token` in the state folder, else a
    /// new random one written there with mode 0600. Logs the file's path, never the token.
    public static func resolve(configured: String?, stateDirectory: String, logger: Logger) throws -> String {
        if let configured, !configured.isEmpty { return configured }
        // Absolute, so the logged path says where the file is whatever the working folder.
        let path = URL(fileURLWithPath: stateDirectory).appendingPathComponent("admin.token").standardizedFileURL.path
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let token = existing.trimmingCharacters(in: .whitespacesAndNewlines)
            if !token.isEmpty {
                logger.info("admin token read from file", metadata: ["path": "\(path)"])
                return token
            }
        }
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        var generator = SystemRandomNumberGenerator()
        let token = (0..<4).map { _ in
            let hex = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
        try PrivateFile.write(token + "\n", to: path)
        logger.info("admin token generated", metadata: ["path": "\(path)"])
        return token
    }

    /// Compares in time that does not depend on where the first difference is.
    public static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8)
        let b = Array(rhs.utf8)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
