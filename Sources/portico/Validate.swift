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

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = routesDirectory ?? environment[GatewaySettings.Key.routesDirectory.rawValue] ?? GatewaySettings().routesDirectory
        do {
            let files = try RouteFolderLoader.load(directory: directory)
            let table = try RouteController.initialTable(files: files, stored: StoredConfiguration())
            print("\(directory): valid (\(table.routes.count) routes, \(table.upstreams.count) upstreams)")
        } catch {
            error.printProblems()
            throw ExitCode(1)
        }
    }
}
