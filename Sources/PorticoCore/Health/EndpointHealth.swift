/// One endpoint's active health, with thresholds against flapping (Envoy's and nginx's
/// rule): healthy until `unhealthyThreshold` checks fail in a row, then unhealthy until
/// `healthyThreshold` pass in a row. An endpoint starts healthy, so a restart does not
/// refuse traffic before the first check.
public struct EndpointHealth: Hashable, Sendable {
    /// Failed checks in a row that take a healthy endpoint out of rotation, by default.
    public static let defaultUnhealthyThreshold = 3
    /// Passed checks in a row that bring an unhealthy endpoint back, by default.
    public static let defaultHealthyThreshold = 2

    public private(set) var isHealthy = true
    private var streak = 0

    /// Whether the last checks disagree with the state: a change is being confirmed.
    public var isChanging: Bool { streak > 0 }
    private let healthyThreshold: Int
    private let unhealthyThreshold: Int

    public init(
        healthyThreshold: Int = EndpointHealth.defaultHealthyThreshold,
        unhealthyThreshold: Int = EndpointHealth.defaultUnhealthyThreshold
    ) {
        self.healthyThreshold = healthyThreshold
        self.unhealthyThreshold = unhealthyThreshold
    }

    /// Records a check; returns `true` when the endpoint changed state.
    public mutating func record(passed: Bool) -> Bool {
        if passed == isHealthy {
            streak = 0
            return false
        }
        streak += 1
        guard streak >= (isHealthy ? unhealthyThreshold : healthyThreshold) else { return false }
        isHealthy.toggle()
        streak = 0
        return true
    }
}

/// The endpoints that active health checks took out of rotation, by upstream: an
/// immutable snapshot the control plane publishes and requests read once.
public struct UnhealthyEndpoints: Hashable, Sendable {
    /// One upstream's endpoint.
    public struct Key: Hashable, Sendable {
        public var upstream: String
        public var endpoint: Endpoint

        public init(upstream: String, endpoint: Endpoint) {
            self.upstream = upstream
            self.endpoint = endpoint
        }
    }

    public var keys: Set<Key>

    public init(_ keys: Set<Key> = []) {
        self.keys = keys
    }

    /// Whether `endpoint` of `upstream` is out of rotation.
    public func contains(upstream: String, endpoint: Endpoint) -> Bool {
        !keys.isEmpty && keys.contains(Key(upstream: upstream, endpoint: endpoint))
    }
}
