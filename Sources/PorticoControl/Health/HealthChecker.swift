import Logging
import NIOCore
import PorticoCore
import PorticoProxy
import ServiceLifecycle

/// Runs the active health checks of SPEC §3 `healthCheck`: one schedule per endpoint of
/// every upstream that has one, following the active route table. Results go through
/// ``EndpointHealth`` (by default 3 failures take an endpoint out, 2 passes bring it back)
/// and are published to the data plane as an immutable ``UnhealthyEndpoints`` snapshot, of
/// which every event loop keeps a copy that its requests read without a lock.
///
/// Time and the probe are parameters, so that tests advance a clock instead of sleeping.
public actor HealthChecker<C: Clock> where C.Duration == Duration {
    /// Checks one endpoint; `true` when it passes.
    public typealias Probe = @Sendable (Endpoint, HealthCheckDefinition) async -> Bool

    /// One endpoint's check, as the active table defines it.
    struct Target: Hashable {
        var key: UnhealthyEndpoints.Key
        var check: HealthCheckDefinition
    }

    /// How often the set of checks is compared with the active table.
    static var reconcileInterval: Duration { .milliseconds(250) }

    private let dataPlane: DataPlane
    private let clock: C
    private let probe: Probe
    private let logger: Logger
    private var schedules: [Target: Task<Void, Never>] = [:]
    private var health: [UnhealthyEndpoints.Key: EndpointHealth] = [:]

    public init(dataPlane: DataPlane, clock: C, probe: @escaping Probe, logger: Logger) {
        self.dataPlane = dataPlane
        self.clock = clock
        self.probe = probe
        self.logger = logger
    }

    /// Runs until graceful shutdown or cancellation.
    public func run() async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            reconcile(with: dataPlane.routeTables.current)
            try? await clock.sleep(until: clock.now.advanced(by: Self.reconcileInterval), tolerance: nil)
        }
        for schedule in schedules.values { schedule.cancel() }
        schedules.removeAll()
    }

    /// Starts the checks the table names and stops the others.
    private func reconcile(with table: RouteTable) {
        var wanted = Set<Target>()
        for upstream in table.upstreams.values {
            guard let check = upstream.definition.healthCheck else { continue }
            for endpoint in upstream.definition.endpoints {
                wanted.insert(Target(key: .init(upstream: upstream.name, endpoint: endpoint), check: check))
            }
        }
        var changed = false
        for (target, schedule) in schedules where !wanted.contains(target) {
            schedule.cancel()
            schedules[target] = nil
            if health.removeValue(forKey: target.key) != nil {
                changed = true
                // An endpoint no longer checked has no health to report.
                dataPlane.metrics.endpointHealthy(upstream: target.key.upstream, endpoint: target.key.endpoint.description).destroy()
            }
        }
        for target in wanted where schedules[target] == nil {
            let (clock, probe) = (self.clock, self.probe)
            schedules[target] = Task { [weak self] in
                var due = clock.now
                while !Task.isCancelled {
                    // The next check waits for this one (up to its timeout), so a short
                    // interval does not make a slow answer a failure.
                    let passed = await probe(target.key.endpoint, target.check)
                    guard !Task.isCancelled, let self else { return }
                    let changing = await self.record(passed, for: target)
                    // A result that disagrees with the endpoint's state is confirmed at half
                    // the interval (HAProxy's `fastinter`): with 3 failures needed, a failing
                    // endpoint is out within two intervals of its first failed check's due time.
                    // Checks keep to due times, so their own latency does not add up; one that
                    // took longer than the step is followed at once.
                    due = max(due.advanced(by: changing ? target.check.interval / 2 : target.check.interval), clock.now)
                    try? await clock.sleep(until: due, tolerance: nil)
                }
            }
        }
        if changed { publish() }
    }

    private func recordGauge(_ target: Target, healthy: Bool) {
        dataPlane.metrics.endpointHealthy(upstream: target.key.upstream, endpoint: target.key.endpoint.description)
            .record(healthy ? 1 : 0)
    }

    /// Records a check; returns whether the endpoint is on its way to changing state.
    private func record(_ passed: Bool, for target: Target) -> Bool {
        guard schedules[target] != nil else { return false }  // stopped meanwhile
        let first = health[target.key] == nil
        var state = health[target.key]
            ?? EndpointHealth(healthyThreshold: target.check.healthyThreshold, unhealthyThreshold: target.check.unhealthyThreshold)
        let changed = state.record(passed: passed)
        health[target.key] = state
        if first || changed { recordGauge(target, healthy: state.isHealthy) }
        guard changed else { return state.isChanging }
        publish()  // before the log line, which tests and operators take as the change
        let metadata: Logger.Metadata = ["upstream": "\(target.key.upstream)", "endpoint": "\(target.key.endpoint)"]
        if state.isHealthy {
            logger.info("endpoint passed its health checks; back in rotation", metadata: metadata)
        } else {
            logger.warning("endpoint failed its health checks; out of rotation", metadata: metadata)
        }
        return false
    }

    private func publish() {
        dataPlane.publishEndpointHealth(UnhealthyEndpoints(Set(health.filter { !$0.value.isHealthy }.keys)))
    }
}

extension HealthChecker where C == ContinuousClock {
    /// Checks over HTTP on `group`'s event loops (``HealthProbe``), in real time.
    public init(dataPlane: DataPlane, group: EventLoopGroup, logger: Logger) {
        self.init(
            dataPlane: dataPlane, clock: ContinuousClock(),
            probe: { endpoint, check in
                await HealthProbe.check(endpoint, path: check.path, timeout: check.timeout, group: group)
            },
            logger: logger)
    }
}
