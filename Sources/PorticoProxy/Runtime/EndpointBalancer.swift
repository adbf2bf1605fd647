import PorticoCore
import Synchronization

/// The balancing state of one upstream in one snapshot (SPEC §6): the round-robin position
/// and, for `least_request`, the requests running per endpoint. Shared by every event loop;
/// a new table starts a new one, as the endpoints may have changed.
final class EndpointBalancer: Sendable {
    private let definition: UpstreamDefinition
    private let nextIndex = Atomic<Int>(0)
    /// Requests running per endpoint (same order as the definition's), for `least_request`.
    private let running: [RunningCount]

    init(_ definition: UpstreamDefinition) {
        self.definition = definition
        running = definition.loadBalancing == .leastRequest ? definition.endpoints.map { _ in RunningCount() } : []
    }

    /// The endpoint the upstream's policy picks among those `skip` does not exclude (out of
    /// rotation, or tried already); `nil` when no endpoint is left. A retry passes
    /// `advancing: false`, so that it takes the next endpoint without moving the rotation
    /// of the requests that follow.
    func nextEndpoint(skipping skip: (Endpoint) -> Bool = { _ in false }, advancing: Bool = true) -> Endpoint? {
        let endpoints = definition.endpoints
        guard !endpoints.isEmpty else { return nil }
        if endpoints.count == 1 { return skip(endpoints[0]) ? nil : endpoints[0] }
        let start: Int
        switch definition.loadBalancing {
        case .roundRobin, .leastRequest:
            let index = advancing ? nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue : nextIndex.load(ordering: .relaxed)
            start = Int(UInt(bitPattern: index) % UInt(endpoints.count))
        case .random:
            start = Int.random(in: 0..<endpoints.count)
        }
        var chosen: Int?
        for offset in 0..<endpoints.count {
            let index = (start + offset) % endpoints.count
            guard !skip(endpoints[index]) else { continue }
            guard definition.loadBalancing == .leastRequest else { return endpoints[index] }
            if let best = chosen, running[index].count >= running[best].count { continue }
            chosen = index
        }
        return chosen.map { endpoints[$0] }
    }

    /// A request began running on `endpoint` (counted for `least_request` only).
    func requestStarted(on endpoint: Endpoint) {
        guard !running.isEmpty, let index = definition.endpoints.firstIndex(of: endpoint) else { return }
        running[index].add(1)
    }

    /// A request that ``requestStarted(on:)`` counted ended.
    func requestEnded(on endpoint: Endpoint) {
        guard !running.isEmpty, let index = definition.endpoints.firstIndex(of: endpoint) else { return }
        running[index].add(-1)
    }
}

/// A count of requests running on one endpoint, shared by every event loop.
private final class RunningCount: Sendable {
    private let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .relaxed) }
    func add(_ delta: Int) { value.wrappingAdd(delta, ordering: .relaxed) }
}
