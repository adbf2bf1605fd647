import FoundationEssentials
import Logging
import NIOCore
import PorticoCore
import Synchronization

/// Where a route's JWKS comes from, and the keys it holds now (SPEC §13). Shared by every
/// route naming the same file or URL and kept across table swaps.
///
/// A file is read again when it changes (polled every ``pollInterval``); a URL is fetched at
/// start and every 5 minutes. A token with an unknown `kid` asks for a load at once
/// (``refresh(on:)``), at most every ``refreshInterval``. A document that cannot be fetched
/// or read leaves the keys held in use.
final class JWKSSource: Sendable {
    /// A file (its path: the routes folder's joined with `jwksFile`) or a URL.
    enum Origin: Hashable, Sendable, CustomStringConvertible {
        case file(String)
        case url(String)

        var description: String {
            switch self {
            case .file(let path): return path
            case .url(let url): return url
            }
        }
    }

    let origin: Origin
    private let fetch: @Sendable () async throws -> [UInt8]
    private let pollInterval: Duration
    private let refreshInterval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var keys = JWKSKeySet.empty
        var document: [UInt8]?
        var loading = false
        /// When an unknown `kid` last caused a load.
        var lastRefresh: ContinuousClock.Instant?
        /// Whether a load has ended (well or not): until then a token waits for the load at
        /// start, which is no unknown-`kid` load, however the first one comes about.
        var loadedOnce = false
        var waiting: [EventLoopPromise<Void>] = []
        var task: Task<Void, Never>?
        var stopped = false
    }

    /// - Parameter fetch: Reads the document (the file's bytes, or the URL's 200 body).
    init(
        origin: Origin, pollInterval: Duration, refreshInterval: Duration = .seconds(10), logger: Logger,
        fetch: @escaping @Sendable () async throws -> [UInt8]
    ) {
        self.origin = origin
        self.pollInterval = pollInterval
        self.refreshInterval = refreshInterval
        self.logger = logger
        self.fetch = fetch
    }

    /// The keys held now.
    var keys: JWKSKeySet { state.withLock { $0.keys } }

    /// Loads the document now and then every ``pollInterval``, until ``stop()``.
    func start() {
        let task = Task { [weak self, pollInterval] in
            while !Task.isCancelled {
                guard let self else { return }
                if self.beginLoad() { await self.load() }
                try? await Task.sleep(for: pollInterval)
            }
        }
        let stopped = state.withLock { state in
            state.task = task
            return state.stopped
        }
        if stopped { task.cancel() }
    }

    /// Ends the polling; requests waiting for a load go on with the keys held.
    func stop() {
        let (task, waiting) = state.withLock { state in
            state.stopped = true
            let waiting = state.waiting
            state.waiting = []
            return (state.task.take(), waiting)
        }
        task?.cancel()
        waiting.forEach { $0.succeed() }
    }

    /// A token named a `kid` the keys do not have: the returned future completes when a load
    /// (started now, or already under way) ends; `nil` when an unknown `kid` caused one less
    /// than ``refreshInterval`` ago, so the answer is not worth waiting for.
    func refresh(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        let promise = eventLoop.makePromise(of: Void.self)
        let outcome = state.withLock { state -> Bool? in
            if state.stopped { return nil }
            if state.loading {
                state.waiting.append(promise)
                return false
            }
            if state.loadedOnce {
                if let last = state.lastRefresh, ContinuousClock.now < last + refreshInterval { return nil }
                state.lastRefresh = .now
            }
            state.loading = true
            state.waiting.append(promise)
            return true
        }
        switch outcome {
        case nil:
            promise.succeed()
            return nil
        case false?:
            return promise.futureResult
        case true?:
            Task { await self.load() }
            return promise.futureResult
        }
    }

    /// Marks a load as under way, unless one is.
    private func beginLoad() -> Bool {
        state.withLock { state in
            guard !state.loading, !state.stopped else { return false }
            state.loading = true
            return true
        }
    }

    private func load() async {
        var metadata: Logger.Metadata = ["jwks": "\(origin)"]
        let document: [UInt8]?
        do {
            document = try await fetch()
        } catch {
            metadata["error"] = "\(error)"
            logger.warning("cannot fetch the JWKS; the keys held stay in use", metadata: metadata)
            document = nil
        }
        var next: JWKSKeySet?
        if let document, document != state.withLock({ $0.document }) {
            do {
                let generation = state.withLock { $0.keys.generation } + 1
                let (keys, skipped) = try await JWKSKeySet.read(document, generation: generation)
                for problem in skipped {
                    logger.warning("JWKS key skipped", metadata: metadata.merging(["problem": "\(problem)"]) { $1 })
                }
                metadata["kids"] = "\(keys.keyIDs.joined(separator: ","))"
                logger.info("JWKS loaded", metadata: metadata)
                next = keys
            } catch {
                metadata["error"] = "\(error)"
                logger.warning("cannot read the JWKS; the keys held stay in use", metadata: metadata)
            }
        }
        let waiting = state.withLock { state in
            if let document { state.document = document }  // a bad one is not read (nor logged) again
            if let next { state.keys = next }
            state.loading = false
            state.loadedOnce = true
            let waiting = state.waiting
            state.waiting = []
            return waiting
        }
        waiting.forEach { $0.succeed() }
    }
}
