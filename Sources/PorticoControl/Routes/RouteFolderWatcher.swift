import Foundation
import Logging
import PorticoCore
import ServiceLifecycle

/// Watches the routes folder and hands every settled change to the ``RouteController``.
///
/// Polls the folder's route files (names and contents) every `interval`. A change is applied
/// only once it has settled — read again after `settleDelay` and found the same — so a file
/// caught in the middle of an in-place write is never half-applied; a rename into place is
/// seen whole. Polling needs no platform API and catches edits through any path (editors,
/// ConfigMap symlink swaps, `git pull`).
public struct RouteFolderWatcher: Sendable {
    public var interval: Duration = .milliseconds(500)
    public var settleDelay: Duration = .milliseconds(200)
    private let directory: String
    private let controller: RouteController
    private let logger: Logger

    public init(directory: String, controller: RouteController, logger: Logger) {
        self.directory = directory
        self.controller = controller
        self.logger = logger
    }

    /// Runs until graceful shutdown or cancellation.
    public func run() async {
        var applied = Self.contents(of: directory)
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: interval)
            let seen = Self.contents(of: directory)
            guard seen != applied else { continue }
            try? await Task.sleep(for: settleDelay)
            guard Self.contents(of: directory) == seen else { continue }  // still being written
            applied = seen
            logger.info("routes folder changed", metadata: ["folder": "\(directory)"])
            let result: Result<RouteSet, ConfigurationError> = Result { () throws(ConfigurationError) in
                try RouteFolderLoader.load(directory: directory)
            }
            await controller.applyFiles(result)
        }
    }

    /// The route files of the folder by name, with their bytes; empty when it cannot be read.
    static func contents(of directory: String) -> [String: Data] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [:] }
        var contents: [String: Data] = [:]
        for name in names where RouteFolderLoader.isRouteFile(name) {
            let path = (directory as NSString).appendingPathComponent(name)
            contents[name] = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        }
        return contents
    }
}
