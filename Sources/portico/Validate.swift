import ArgumentParser
import Foundation
import PorticoControl
import PorticoCore
import PorticoProxy

/// `portico validate [folder]`: the running gateway's loader and validation, for CI pipelines.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a routes folder as the gateway would load it; exit 0 when it would be accepted.")

    @Argument(help: "The routes folder (PORTICO_ROUTES_DIR, default ./routes).")
    var routesDirectory: String?
    @Flag(help: "Fail (exit 1) on warnings too, such as a route that can never be chosen.")
    var strict = false
    @Option(name: .customLong("certs"), help: "Also check a certificates folder: every NAME.crt with its NAME.key.")
    var certsDirectory: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = routesDirectory ?? environment[GatewaySettings.Key.routesDirectory.rawValue] ?? GatewaySettings().routesDirectory
        var valid = true
        do {
            let files = try RouteFolderLoader.load(directory: directory)
            let table = try RouteController.initialTable(files: files, stored: StoredConfiguration())
            valid = await checkKeyFiles(of: table, in: directory)
            let warnings = table.shadowedRoutes
            for warning in warnings {
                let source = table.route(named: warning.route).map { $0.source.displayName + ": " } ?? ""
                printProblem("warning: \(source)\(warning)")
            }
            if strict, !warnings.isEmpty { valid = false }
            if valid { print("\(directory): valid (\(table.routes.count) routes, \(table.upstreams.count) upstreams)") }
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

    /// Every `auth.jwt.jwksFile` must hold a usable key; keys that would be skipped are warnings.
    private func checkKeyFiles(of table: RouteTable, in directory: String) async -> Bool {
        var valid = true
        for route in table.routes {
            guard case .file(let path)? = route.definition.auth?.jwt?.keys else { continue }
            let report = await JWKSFileCheck.check(file: path, inRoutesFolder: directory)
            let place = "route \(route.name): auth.jwt.jwksFile \(path)"
            for skipped in report.skipped { printProblem("warning: \(place): key skipped: \(skipped)") }
            if let problem = report.problem {
                printProblem("\(place): \(problem)")
                valid = false
            }
        }
        return valid
    }
}
