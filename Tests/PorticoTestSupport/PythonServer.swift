import Foundation

/// A Python script that serves HTTP on a loopback port, as a process of its own (killed at
/// exit whatever happens to the test): `python3 -c <script> <port> <arguments…>`.
struct PythonServer: Sendable {
    let port: Int
    private let process: Process

    /// Starts the script and waits until `GET /` answers `readyStatus` (at most 10 s).
    static func start(script: String, arguments: [String] = [], readyStatus: Int, name: String) async throws -> PythonServer {
        let port = try await freeLoopbackPort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, String(port)] + arguments
        // Its own output: an inherited pipe would keep the test runner's output open.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        StartedProcesses.add(process.processIdentifier)
        let server = PythonServer(port: port, process: process)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let reply = try? await RawSocketClient.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n", port: port, timeout: .seconds(1)),
                reply.status == readyStatus
            {
                return server
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.stop()
        throw PorticoProcessError.timedOut(waitingFor: "\(name) on port \(port)", log: "")
    }

    /// SIGTERM, then SIGKILL if it still runs a second later (a server that inherited an
    /// ignored SIGTERM outlived its test once).
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        for _ in 0..<100 where process.isRunning { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
