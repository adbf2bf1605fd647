import Foundation
import Logging
import NIOCore
import PorticoCore
import PorticoProxy

/// Allocates tenant node ports (SPEC §10) and runs their TCP forwarders.
///
/// Allocations, releases and syncs run one at a time through a ``SerialGate`` (an actor alone
/// would interleave them at every await on the store); the state store's unique constraints
/// on the port and on tenant and name are the source of truth across restarts (and across
/// replicas sharing one store). A candidate port is checked on the host by binding it before
/// it is recorded; a busy one goes to the back of the line.
public actor PortAllocator {
    private var pool: PortPool
    private let store: any StateStore
    private let listenHost: String
    private let group: EventLoopGroup
    private let logger: Logger
    private var forwarders: [PortPool.Key: TCPForwarder] = [:]
    /// Forwarders of freed ports whose open connections still run, until the drain timeout.
    private var draining: [ObjectIdentifier: TCPForwarder] = [:]
    private let drainTimeout: Duration
    private let gate = SerialGate()

    private init(
        pool: PortPool, store: any StateStore, listenHost: String, group: EventLoopGroup, drainTimeout: Duration, logger: Logger
    ) {
        self.pool = pool
        self.drainTimeout = drainTimeout
        self.store = store
        self.listenHost = listenHost
        self.group = group
        self.logger = logger
    }

    /// Loads the recorded allocations and starts the forwarders of those with a target.
    ///
    /// - Parameters:
    ///   - reserved: The gateway's listener ports and the configured reservations.
    ///   - listenHost: Where forwarders listen: the HTTP listener's address.
    ///   - drainTimeout: How long the open connections of a freed port may run on.
    public static func start(
        range: ClosedRange<Int>, reserved: Set<Int>, store: any StateStore, listenHost: String, group: EventLoopGroup,
        drainTimeout: Duration = .seconds(10), logger: Logger
    ) async throws -> PortAllocator {
        let recorded = try await store.portAllocations()
        let allocator = PortAllocator(
            pool: PortPool(range: range, reserved: reserved, allocations: recorded), store: store, listenHost: listenHost,
            group: group, drainTimeout: drainTimeout, logger: logger)
        for allocation in recorded {
            await allocator.startForwarding(allocation)
        }
        return allocator
    }

    /// The outcome of an allocation request.
    public struct Outcome: Sendable {
        public var allocation: PortAllocation
        /// `false` when the tenant and name had a port already (the same one is returned).
        public var created: Bool
    }

    /// Allocates a port to `tenant` under `name`, or returns the one it has; past the
    /// tenant's `quota` of ports (SPEC §15), 409 `quota_exceeded`.
    public func allocate(tenant: String, name: String, target: String?, quota: Int? = nil) async throws(ControlPlaneError) -> Outcome {
        var problems: [ConfigProblem] = []
        if !PortPool.isValidName(tenant) {
            problems.append(ConfigProblem(path: "tenant", message: "must be 1 to 63 characters of a-z, 0-9 and '-'"))
        }
        if !PortPool.isValidName(name) {
            problems.append(ConfigProblem(path: "name", message: "must be 1 to 63 characters of a-z, 0-9 and '-'"))
        }
        var endpoint: Endpoint?
        if let target {
            endpoint = Endpoint(parsing: target)
            if endpoint == nil {
                problems.append(ConfigProblem(path: "target", message: "expected host:port, found \"\(target)\""))
            }
        }
        guard problems.isEmpty else { throw .invalid(problems) }
        return try await gate.run { () async throws(ControlPlaneError) in
            try await allocateValid(tenant: tenant, name: name, target: endpoint, quota: quota)
        }
    }

    /// ``allocate(tenant:name:target:)`` once its input is valid; the caller holds the gate.
    private func allocateValid(
        tenant: String, name: String, target endpoint: Endpoint?, quota: Int?
    ) async throws(ControlPlaneError) -> Outcome {
        let key = PortPool.Key(tenant: tenant, name: name)
        if let existing = pool.allocation(for: key) {
            return Outcome(allocation: existing, created: false)
        }
        if let quota, pool.allocations(ofTenant: tenant).count >= quota {
            throw .quotaExceeded("tenant \"\(tenant)\" may have \(quota) ports")
        }
        // Each port is tried at most once per call, so a full or busy pool ends the loop.
        var tried: [Int] = []
        defer { for port in tried { pool.returnCandidate(port) } }
        while let port = pool.takeCandidate() {
            guard HostPortProbe.isFree(port: port) else {
                logger.debug("tenant port busy on the host; trying the next", metadata: ["port": "\(port)"])
                tried.append(port)
                continue
            }
            let allocation = PortAllocation(
                tenant: tenant, name: name, port: port, target: endpoint, createdAt: Date().timeIntervalSince1970)
            do {
                try await store.insertPortAllocation(allocation, quota: quota)
            } catch let error as StateStoreError where error.isQuotaReached {
                tried.append(port)
                throw .quotaExceeded("tenant \"\(tenant)\" may have \(quota ?? 0) ports")
            } catch let error as StateStoreError where error.isConflict {
                tried.append(port)  // recorded elsewhere (another replica, or the same name raced)
                if let recorded = try? await store.portAllocations().first(where: { $0.key == key }) {
                    pool.commit(recorded)
                    return Outcome(allocation: recorded, created: false)
                }
                continue
            } catch {
                tried.append(port)
                throw .storeUnavailable("the state store could not record the allocation: \(error)")
            }
            pool.commit(allocation)
            await startForwarding(allocation)
            logger.info(
                "tenant port allocated",
                metadata: ["tenant": "\(tenant)", "name": "\(name)", "port": "\(port)", "target": "\(endpoint.map { "\($0)" } ?? "-")"])
            return Outcome(allocation: allocation, created: true)
        }
        throw .poolExhausted("no free port in \(pool.range.lowerBound)-\(pool.range.upperBound)")
    }

    /// Changes where the port of `tenant` and `name` forwards to (SPEC §15): it keeps its
    /// port, new connections go to `target`, open ones go on.
    public func retarget(tenant: String, name: String, target: String) async throws(ControlPlaneError) -> PortAllocation {
        guard let endpoint = Endpoint(parsing: target) else {
            throw .invalid([ConfigProblem(path: "target", message: "expected host:port, found \"\(target)\"")])
        }
        return try await gate.run { () async throws(ControlPlaneError) in
            let key = PortPool.Key(tenant: tenant, name: name)
            try await requireAllocation(key)
            let updated: Bool
            do {
                updated = try await store.updatePortTarget(tenant: tenant, name: name, target: endpoint)
            } catch {
                throw .storeUnavailable("the state store could not record the target: \(error)")
            }
            guard updated, let allocation = pool.retarget(key, to: endpoint) else {
                throw .notFound("tenant \"\(tenant)\" has no port named \"\(name)\"")  // freed by another replica
            }
            await forward(allocation)
            logger.info(
                "tenant port target changed",
                metadata: ["tenant": "\(tenant)", "name": "\(name)", "port": "\(allocation.port)", "target": "\(endpoint)"])
            return allocation
        }
    }

    /// Frees the port of `tenant` and `name`: no new connections from now on, the open ones
    /// run until they end or the drain timeout has passed.
    public func free(tenant: String, name: String) async throws(ControlPlaneError) {
        try await gate.run { () async throws(ControlPlaneError) in try await freeAlone(tenant: tenant, name: name) }
    }

    private func freeAlone(tenant: String, name: String) async throws(ControlPlaneError) {
        let key = PortPool.Key(tenant: tenant, name: name)
        try await requireAllocation(key)
        do {
            _ = try await store.deletePortAllocation(tenant: tenant, name: name)
        } catch {
            throw .storeUnavailable("the state store could not record the release: \(error)")
        }
        pool.free(key)
        stopForwarding(key)
        logger.info("tenant port freed", metadata: ["tenant": "\(tenant)", "name": "\(name)"])
    }

    /// Throws 404 unless `key` has a port, here or, once the pool has taken in the store's
    /// allocations, on another replica (whose allocation this one may not have seen yet).
    private func requireAllocation(_ key: PortPool.Key) async throws(ControlPlaneError) {
        if pool.allocation(for: key) == nil { try? await syncAlone() }
        guard pool.allocation(for: key) != nil else {
            throw .notFound("tenant \"\(key.tenant)\" has no port named \"\(key.name)\"")
        }
    }

    /// The pool for `GET /v1/ports` and the pool gauges.
    public var snapshot: (range: ClosedRange<Int>, allocated: Int, free: Int, capacity: Int, allocations: [PortAllocation]) {
        (pool.range, pool.allocatedCount, pool.freeCount, pool.capacity, pool.all)
    }

    /// One tenant's allocations.
    public func allocations(ofTenant tenant: String) -> [PortAllocation] {
        pool.allocations(ofTenant: tenant)
    }

    /// Takes in what replicas sharing the store allocated and freed: the pool follows the
    /// store's allocations, and forwarders start and stop with them.
    public func sync() async throws {
        try await gate.run { try await syncAlone() }
    }

    private func syncAlone() async throws {
        let recorded = try await store.portAllocations()
        let keys = Set(recorded.map(\.key))
        for allocation in pool.all where !keys.contains(allocation.key) {
            pool.free(allocation.key)
            stopForwarding(allocation.key)
        }
        for allocation in recorded {
            switch pool.allocation(for: allocation.key) {
            case nil:
                pool.commit(allocation)
                await startForwarding(allocation)
            case let held? where held.target != allocation.target:
                if let changed = pool.retarget(allocation.key, to: allocation.target) { await forward(changed) }
            default:
                break
            }
        }
    }

    /// Stops every forwarder, draining ones too (shutdown).
    public func stopForwarding() async {
        for forwarder in Array(forwarders.values) + Array(draining.values) {
            await forwarder.stop()
        }
        forwarders.removeAll()
        draining.removeAll()
    }

    /// Stops a freed port's forwarder: it listens no more, and its open connections drain
    /// on a task of their own, so the next change need not wait for them.
    private func stopForwarding(_ key: PortPool.Key) {
        guard let forwarder = forwarders.removeValue(forKey: key) else { return }
        let id = ObjectIdentifier(forwarder)
        draining[id] = forwarder
        Task { [drainTimeout] in
            await forwarder.stop(drainingFor: drainTimeout)
            self.drained(id)
        }
    }

    private func drained(_ id: ObjectIdentifier) {
        draining[id] = nil
    }

    /// Sends an allocation's new connections to its target: the running forwarder's target
    /// changes, or one starts.
    private func forward(_ allocation: PortAllocation) async {
        if let target = allocation.target, let forwarder = forwarders[allocation.key] {
            forwarder.retarget(target)
        } else {
            await startForwarding(allocation)
        }
    }

    private func startForwarding(_ allocation: PortAllocation) async {
        guard let target = allocation.target, forwarders[allocation.key] == nil else { return }
        do {
            forwarders[allocation.key] = try await TCPForwarder.start(
                host: listenHost, port: allocation.port, target: target, group: group, logger: logger)
        } catch {
            logger.error(
                "cannot listen on a tenant port; its allocation stays",
                metadata: ["tenant": "\(allocation.tenant)", "name": "\(allocation.name)", "port": "\(allocation.port)",
                           "error": "\(error)"])
        }
    }
}
