import Foundation

/// A throwaway PostgreSQL cluster on a loopback port, for the shared-store tests: made with
/// the server's own `initdb` and `postgres` (Debian's `postgresql` package, which `.ci/run`
/// installs), run as the `postgres` user when the tests run as root (the server refuses
/// root), trusting local connections, removed by ``destroy()``.
public final class TestPostgres: Sendable {
    public let port: Int
    public let dataDirectory: String
    private let binDirectory: String

    /// The URL replicas share (the password is ignored by the trust authentication).
    public var url: String { "postgres://portico:secret@127.0.0.1:\(port)/portico?sslmode=disable" }

    /// The folder of `initdb` and `pg_ctl`, newest server version first; `nil` when none is installed.
    public static let binDirectory: String? = {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = "\(root)/\(version)/bin"
            if FileManager.default.isExecutableFile(atPath: bin + "/initdb") { return bin }
        }
        return nil
    }()

    /// Whether the shared-store tests can run here. They must under CI (`.ci/run` installs
    /// the server), so there a missing server fails them instead of skipping them.
    public static var shouldRun: Bool {
        binDirectory != nil || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    private init(port: Int, dataDirectory: String, binDirectory: String) {
        self.port = port
        self.dataDirectory = dataDirectory
        self.binDirectory = binDirectory
    }

    /// Makes a cluster with a `portico` database and starts it.
    public static func start() async throws -> TestPostgres {
        guard let binDirectory else {
            throw TestPostgresError("no PostgreSQL server: install Debian's postgresql package (.ci/run does)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portico-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 {
            try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: directory)
        }
        let server = TestPostgres(port: try await freeLoopbackPort(), dataDirectory: directory, binDirectory: binDirectory)
        try await server.runServerCommand("initdb", ["-D", directory + "/data", "-U", "portico", "--auth=trust", "-E", "UTF8", "--no-sync"])
        try await server.restart()
        try await server.runServerCommand(
            "psql", ["-h", "127.0.0.1", "-p", "\(server.port)", "-U", "portico", "-d", "postgres", "-q", "-c", "CREATE DATABASE portico"])
        return server
    }

    /// Starts (again) the server on the same port and data, and waits until it accepts
    /// connections. The server runs as a child of this process: `pg_ctl` would leave a
    /// daemon holding the descriptor Foundation's `Process` watches for the exit of pg_ctl.
    public func restart() async throws {
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: try logPath()))
        try log.seekToEnd()
        let server = Process()
        let (executable, arguments) = command(
            "postgres",
            [
                "-D", dataDirectory + "/data", "-p", "\(port)", "-c", "listen_addresses=127.0.0.1", "-k", dataDirectory,
                // fsync off is safe against a killed server (the page cache survives it);
                // synchronous_commit off would not be (commits still in WAL buffers are lost).
                "-c", "fsync=off",
            ])
        server.executableURL = URL(fileURLWithPath: executable)
        server.arguments = arguments
        server.currentDirectoryURL = URL(fileURLWithPath: dataDirectory)
        server.standardOutput = log
        server.standardError = log
        try server.run()
        try? log.close()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if (try? await runServerCommand("pg_isready", ["-h", "127.0.0.1", "-p", "\(port)", "-q"])) != nil { return }
            if !server.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOfFile: try logPath(), encoding: .utf8)) ?? ""
        throw TestPostgresError("the server did not start: \(text.suffix(2000))")
    }

    /// Stops the server at once (SIGQUIT, PostgreSQL's immediate shutdown), as if the
    /// database host went away.
    public func stop() async throws {
        let pidFile = dataDirectory + "/data/postmaster.pid"
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ Int32($0) })
        else { return }
        kill(pid, SIGQUIT)
        let deadline = ContinuousClock.now + .seconds(20)
        while kill(pid, 0) == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops the server if it runs and removes its files.
    public func destroy() async {
        try? await stop()
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    private func logPath() throws -> String {
        let path = dataDirectory + "/server.log"
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        return path
    }

    /// The command line of a PostgreSQL program, run as the `postgres` user when this
    /// process is root.
    private func command(_ program: String, _ arguments: [String]) -> (executable: String, arguments: [String]) {
        let path = binDirectory + "/" + program
        return getuid() == 0 ? ("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments) : (path, arguments)
    }

    /// Runs a PostgreSQL program to its end.
    private func runServerCommand(_ program: String, _ arguments: [String]) async throws {
        let (executable, fullArguments) = command(program, arguments)
        let outcome = try await ChildProcess.run(executable, fullArguments, directory: URL(fileURLWithPath: dataDirectory))
        guard outcome.status == 0 else {
            throw TestPostgresError("\(program) \(arguments.joined(separator: " ")) exited \(outcome.status): \(outcome.output)")
        }
    }
}

/// The test cluster could not be made or controlled.
public struct TestPostgresError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
