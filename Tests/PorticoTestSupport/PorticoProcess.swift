import Foundation
import Synchronization

/// The built `portico` binary run as a user would: a child process with its own
/// environment and working folder, its standard error captured.
public final class PorticoProcess: Sendable {
    private let process: Process
    private let output: Mutex<String>

    /// Everything the process wrote to standard error and standard output so far.
    public var log: String { output.withLock { $0 } }
    public var processIdentifier: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// The `portico` executable of this package's build folder.
    public static func binaryPath() throws -> String {
        let root = PackageRoot.root()
        let candidates = ["debug", "release"].map { root.appendingPathComponent(".build/\($0)/portico").path }
            .filter { FileManager.default.isExecutableFile(atPath: $0) }
        let newest = candidates.max { lhs, rhs in
            let lhsDate = (try? FileManager.default.attributesOfItem(atPath: lhs)[.modificationDate] as? Date) ?? .distantPast
            let rhsDate = (try? FileManager.default.attributesOfItem(atPath: rhs)[.modificationDate] as? Date) ?? .distantPast
            return lhsDate < rhsDate
        }
        guard let newest else { throw PorticoProcessError.binaryNotBuilt(root.path) }
        return newest
    }

    private init(process: Process) {
        self.process = process
        self.output = Mutex("")
    }

    /// Starts `portico` with `arguments` in `directory`, environment variables added to a
    /// clean environment.
    public static func start(
        _ arguments: [String] = [], environment: [String: String] = [:], directory: URL
    ) throws -> PorticoProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binaryPath())
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        env.merge(environment) { _, new in new }
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        let handle = PorticoProcess(process: process)
        pipe.fileHandleForReading.readabilityHandler = { [weak handle] file in
            let data = file.availableData
            guard !data.isEmpty else {
                file.readabilityHandler = nil
                return
            }
            handle?.output.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        StartedProcesses.add(process.processIdentifier)
        return handle
    }

    /// Waits until the log contains `text`; fails if the process exits first or time runs out.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(text) { return }
            if !process.isRunning {
                try await Task.sleep(for: .milliseconds(100))  // let the pipe drain
                if log.contains(text) { return }
                throw PorticoProcessError.exited(status: process.terminationStatus, log: log)
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw PorticoProcessError.timedOut(waitingFor: text, log: log)
    }

    /// Waits for the process to exit and returns its status.
    public func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                throw PorticoProcessError.timedOut(waitingFor: "exit", log: log)
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        try await Task.sleep(for: .milliseconds(100))  // let the pipe drain
        return process.terminationStatus
    }

    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Stops the process (SIGKILL if it does not exit after SIGTERM within 5 s).
    public func stop() async {
        guard process.isRunning else { return }
        signal(SIGTERM)
        if (try? await waitForExit(timeout: .seconds(5))) == nil {
            signal(SIGKILL)
        }
    }

    /// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
    public func memoryKiB(_ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else {
            return nil
        }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
        }
        return nil
    }
}

/// Every `portico` process the tests started, killed when the test process exits, so a
/// test that fails before stopping its gateway leaves nothing listening behind.
enum StartedProcesses {
    private static let pids = Mutex<[Int32]>([])
    private static let registered = Mutex(false)

    static func add(_ pid: Int32) {
        pids.withLock { $0.append(pid) }
        registered.withLock { done in
            guard !done else { return }
            done = true
            atexit { StartedProcesses.killAll() }
        }
    }

    static func killAll() {
        for pid in pids.withLock({ $0 }) { kill(pid, SIGKILL) }
    }
}

/// Failures while driving the `portico` process.
public enum PorticoProcessError: Error, CustomStringConvertible {
    case binaryNotBuilt(String)
    case exited(status: Int32, log: String)
    case timedOut(waitingFor: String, log: String)

    public var description: String {
        switch self {
        case .binaryNotBuilt(let root): return "no built portico binary under \(root)/.build; run swift build first"
        case .exited(let status, let log): return "portico exited with \(status):\n\(log)"
        case .timedOut(let text, let log): return "timed out waiting for \(text):\n\(log)"
        }
    }
}

/// A fresh temporary folder for one test, with helpers to write files into it.
public struct TemporaryFolder: Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("portico-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func write(_ relativePath: String, _ contents: String) throws {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try contents.write(to: file, atomically: true, encoding: .utf8)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// The folder that holds this package's `Package.swift`.
public enum PackageRoot {
    public static var path: String { root().path }

    static func root(filePath: String = #filePath) -> URL {
        var root = URL(fileURLWithPath: filePath)
        while root.path != "/", !FileManager.default.fileExists(atPath: root.appendingPathComponent("Package.swift").path) {
            root.deleteLastPathComponent()
        }
        return root
    }
}

/// A `portico` process serving a temporary routes folder on a free loopback port.
public struct ServingGateway: Sendable {
    public let process: PorticoProcess
    public let folder: TemporaryFolder
    public let port: Int
    public let adminPort: Int
    /// The HTTPS listener's port; it listens once `certs/` of the folder holds a pair.
    public let httpsPort: Int
    /// The admin token the process was started with.
    public static let adminToken = "test-admin-token"

    public var client: LoopbackHTTPClient { LoopbackHTTPClient(port: port) }

    /// Writes `routes` to `routes/<file>` of a new folder, starts `portico serve` there and
    /// waits until it listens.
    public static func start(
        routes: String, file: String = "app.yaml", arguments: [String] = [], environment: [String: String] = [:]
    ) async throws -> ServingGateway {
        let folder = try TemporaryFolder()
        try folder.write("routes/" + file, routes)
        return try await start(in: folder, arguments: arguments, environment: environment)
    }

    /// Starts `portico serve` in an existing folder (a restart keeps the folder's state).
    public static func start(
        in folder: TemporaryFolder, arguments: [String] = [], environment: [String: String] = [:]
    ) async throws -> ServingGateway {
        var env = ["PORTICO_ADMIN_TOKEN": adminToken]
        env.merge(environment) { _, new in new }
        // A port found free can be taken by another test's connection before the gateway binds
        // it; such a start is tried again on other ports (three times at most).
        var attempt = 0
        while true {
            attempt += 1
            let port = try await freeLoopbackPort()
            let adminPort = try await freeLoopbackPort()
            let httpsPort = try await freeLoopbackPort()
            let process = try PorticoProcess.start(
                [
                    "serve", "--http-addr", "127.0.0.1:\(port)", "--admin-addr", "127.0.0.1:\(adminPort)",
                    "--https-addr", "127.0.0.1:\(httpsPort)",
                ] + arguments,
                environment: env, directory: folder.url)
            do {
                try await process.waitForLog("admin listening")
                return ServingGateway(process: process, folder: folder, port: port, adminPort: adminPort, httpsPort: httpsPort)
            } catch {
                await process.stop()
                guard attempt < 3, process.log.contains("cannot listen") else { throw error }
            }
        }
    }

    /// Stops the process and removes its folder.
    public func stop() async {
        await process.stop()
        folder.remove()
    }
}

/// Routes that send everything to one upstream named `app`.
public func catchAllRoutes(upstreamPort: Int) -> String {
    """
    upstreams: [{ name: app, endpoints: ["127.0.0.1:\(upstreamPort)"] }]
    routes: [{ name: app, upstream: app }]
    """
}
