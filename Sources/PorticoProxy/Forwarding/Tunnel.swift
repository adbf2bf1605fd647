import NIOCore
import PorticoCore

/// A byte pipe made by an upgrade (WebSocket), registered with its event loop so that the
/// drain of its route still reaches it: when a new snapshot removes or changes the route,
/// or removes the pipe's endpoint from the upstream, the pipe is closed at the drain deadline.
final class Tunnel: DrainableConnection {
    private let route: CompiledRoute
    private let counter: RouteCounter
    private let endpoint: Endpoint?
    private let downstream: Channel
    private let upstream: Channel
    private let state: EventLoopState
    private var drainTask: Scheduled<Void>?

    init(route: CompiledRoute, counter: RouteCounter, endpoint: Endpoint?, downstream: Channel, upstream: Channel, state: EventLoopState) {
        self.route = route
        self.counter = counter
        self.endpoint = endpoint
        self.downstream = downstream
        self.upstream = upstream
        self.state = state
    }

    /// Registers the tunnel until either side closes; counts it as running on its route.
    func start() {
        state.register(self)
        counter.started()
        downstream.closeFuture.assumeIsolated().whenComplete { _ in
            self.drainTask?.cancel()
            self.state.deregister(self)
            self.counter.ended()
            self.upstream.close(promise: nil)
        }
    }

    func drain(_ retirement: RouteRetirement, deadline: NIODeadline) {
        guard drainTask == nil, retirement.retires(route, endpoint: endpoint) else { return }
        drain(at: deadline)
    }

    /// Closes both sides at `deadline`.
    func drain(at deadline: NIODeadline) {
        guard drainTask == nil else { return }
        drainTask = downstream.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [downstream, upstream] in
            downstream.close(promise: nil)
            upstream.close(promise: nil)
        }
    }
}
