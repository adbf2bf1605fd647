import Foundation
import ServiceLifecycle

/// Watches a folder (routes, certificates) and reports every settled change.
///
/// Polls the names and contents of the folder's files that `includes` accepts every
/// `interval`. A change is reported only once it has settled — read again after
/// `settleDelay` and found the same — so a file caught in the middle of an in-place write
/// is never half-applied; a rename into place is seen whole. Polling needs no platform API
/// and catches edits through any path (editors, ConfigMap and Secret symlink swaps,
/// cert-manager renewals, `git pull`).
public struct FolderWatcher: Sendable {
    public var interval: Duration = .milliseconds(500)
    public var settleDelay: Duration = .milliseconds(200)
    /// The folder watched.
    public let directory: String
    private let includes: @Sendable (String) -> Bool

    /// - Parameter includes: Whether a file name is part of what is watched.
    public init(directory: String, includes: @escaping @Sendable (String) -> Bool) {
        self.directory = directory
        self.includes = includes
    }

    /// Calls `onChange` after each settled change, until graceful shutdown or cancellation.
    ///
    /// - Parameter baseline: What the folder held when its contents were last applied
    ///   (``contents()`` read before loading them), so that a change made before the watch
    ///   starts is still reported; by default, what it holds when the watch starts.
    public func run(from baseline: [String: Data]? = nil, onChange: () async -> Void) async {
        await run(clock: ContinuousClock(), from: baseline, onChange: onChange)
    }

    /// ``run(from:onChange:)`` on `clock`, which tests advance instead of sleeping.
    public func run<C: Clock>(clock: C, from baseline: [String: Data]? = nil, onChange: () async -> Void) async
    where C.Duration == Duration {
        var applied = baseline ?? contents()
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await clock.sleep(until: clock.now.advanced(by: interval), tolerance: nil)
            let seen = contents()
            guard seen != applied else { continue }
            try? await clock.sleep(until: clock.now.advanced(by: settleDelay), tolerance: nil)
            guard contents() == seen else { continue }  // still being written
            applied = seen
            await onChange()
        }
    }

    /// The watched files of the folder by name, with their bytes; empty when it cannot be read.
    public func contents() -> [String: Data] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [:] }
        var contents: [String: Data] = [:]
        for name in names where includes(name) {
            let path = (directory as NSString).appendingPathComponent(name)
            contents[name] = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        }
        return contents
    }
}
