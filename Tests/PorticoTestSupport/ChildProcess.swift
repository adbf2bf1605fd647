import Foundation

/// Runs a program to its end without blocking a thread of the concurrency pool (two on two
/// cores: a blocked one stalls every other test). Output goes to a file, not a pipe, so a
/// daemon the program leaves behind cannot hold the reader open.
public enum ChildProcess {
    /// What the program did.
    public struct Outcome: Sendable {
        public var status: Int32
        /// Standard output, and standard error when `includeErrors`.
        public var output: String
    }

    /// Runs `executable` with `arguments` in `directory`; killed after `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], directory: URL? = nil, includeErrors: Bool = true,
        timeout: Duration = .seconds(120)
    ) async throws -> Outcome {
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("portico-child-\(UUID().uuidString).out")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardOutput = output
        process.standardError = includeErrors ? output : FileHandle.nullDevice
        let killer = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { process.terminate() }
        }
        defer { killer.cancel() }
        let launchError: Error? = await withCheckedContinuation { continuation in
            process.terminationHandler = { _ in continuation.resume(returning: nil) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(returning: error)
            }
        }
        if let launchError { throw launchError }
        return Outcome(
            status: process.terminationStatus, output: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "")
    }
}
