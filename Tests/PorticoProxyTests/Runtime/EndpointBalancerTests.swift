import PorticoCore
@testable import PorticoProxy
import Testing

/// Balancing over the endpoints in rotation. (Moved here from the health tests with the
/// balancing state, which left the pure-values target.)
@Suite struct EndpointBalancerTests {
    let endpoints = [Endpoint(host: "10.0.0.1", port: 80), Endpoint(host: "10.0.0.2", port: 80), Endpoint(host: "10.0.0.3", port: 80)]

    @Test func roundRobinSkipsEndpointsOutOfRotation() {
        let balancer = EndpointBalancer(UpstreamDefinition(name: "app", endpoints: endpoints))
        let down = endpoints[1]
        let picks = (0..<30).compactMap { _ in balancer.nextEndpoint(skipping: { $0 == down }) }
        #expect(picks.count == 30)
        #expect(!picks.contains(down))
        #expect(Set(picks).count == 2)
        #expect(balancer.nextEndpoint(skipping: { _ in true }) == nil)
    }

    @Test func leastRequestPicksTheEndpointWithFewestRunning() {
        var definition = UpstreamDefinition(name: "app", endpoints: endpoints)
        definition.loadBalancing = .leastRequest
        let balancer = EndpointBalancer(definition)
        balancer.requestStarted(on: endpoints[0])
        balancer.requestStarted(on: endpoints[2])
        #expect((0..<6).allSatisfy { _ in balancer.nextEndpoint() == endpoints[1] })
        balancer.requestStarted(on: endpoints[1])
        balancer.requestStarted(on: endpoints[1])
        balancer.requestEnded(on: endpoints[0])
        #expect(balancer.nextEndpoint() == endpoints[0])
    }

    @Test func aRetryDoesNotMoveTheRotation() {
        let balancer = EndpointBalancer(UpstreamDefinition(name: "app", endpoints: endpoints))
        #expect(balancer.nextEndpoint() == endpoints[0])
        #expect(balancer.nextEndpoint(skipping: { $0 == endpoints[1] }, advancing: false) == endpoints[2])
        #expect(balancer.nextEndpoint() == endpoints[1])
    }
}
