import ArgumentParser
import Foundation
import PorticoControl
import PorticoCore

/// `portico validate [folder]`: the running gateway's loader and validation, for CI pipelines.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a routes folder as the gateway would load it; exit 0 when it would be accepted.")

    @Argument(help: "The routes folder (PORTICO_ROUTES_DIR, default ./routes).")
    var routesDirectory: String?
    @Option(name: .customLong("certs"), help: "Also check a certificates folder: every NAME.crt with its NAME.key.")
    var certsDirectory: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = routesDirectory ?? environment[GatewaySettings.Key.routesDirectory.rawValue] ?? GatewaySettings().routesDirectory
        var valid = true
        do {
            let files = try RouteFolderLoader.load(directory: directory)
            let table = try RouteController.initialTable(files: files, stored: StoredConfiguration())
            print("\(directory): valid (\(table.routes.count) routes, \(table.upstreams.count) upstreams)")
        } catch {
            for problem in RouteController.everyProblem(of: error, table: { $0 }) { printProblem(problem.description) }
            valid = false
        }
        if let certsDirectory {
            let report = CertificateFolderLoader.check(directory: certsDirectory)
            for problem in report.problems { printProblem(problem) }
            for warning in report.warnings { printProblem("warning: \(warning)") }
            if report.problems.isEmpty {
                print("\(certsDirectory): valid (\(report.certificates.count) certificate\(report.certificates.count == 1 ? "" : "s"))")
            } else {
                valid = false
            }
        }
        if !valid { throw ExitCode(1) }
    }
}
