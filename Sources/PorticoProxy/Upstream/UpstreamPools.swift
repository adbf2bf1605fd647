import NIOCore
import Synchronization

/// The ``UpstreamConnectionPool`` of every event loop of a listener group.
///
/// Looked up once per downstream connection, never per request.
final class UpstreamPools: Sendable {
    private let configuration: UpstreamConnectionPool.Configuration
    private let pools = Mutex<[ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]>([:])

    init(configuration: UpstreamConnectionPool.Configuration = .init()) {
        self.configuration = configuration
    }

    /// The pool of `eventLoop`; must be called on that loop.
    func pool(for eventLoop: EventLoop) -> UpstreamConnectionPool {
        eventLoop.preconditionInEventLoop()
        let key = ObjectIdentifier(eventLoop)
        let bound: NIOLoopBound<UpstreamConnectionPool> = pools.withLock { pools in
            if let existing = pools[key] { return existing }
            let created = NIOLoopBound(
                UpstreamConnectionPool(eventLoop: eventLoop, configuration: configuration), eventLoop: eventLoop)
            pools[key] = created
            return created
        }
        return bound.value
    }
}
