import Foundation
import PorticoCore
@testable import PorticoProxy
import PorticoTestSupport
import Testing

/// What outlives a snapshot: upstream runtimes by name, route counters by definition, and
/// balancing that a new table starts afresh. (Moved here from the route table's tests with
/// the state itself, which left the pure-values target.)
@Suite struct RuntimeRegistryTests {
    func set(_ upstreams: [String]) -> RouteSet {
        RouteSet(
            upstreams: upstreams.map { (UpstreamDefinition(name: $0, endpoints: [Endpoint(host: "127.0.0.1", port: 1)]), .api) },
            routes: [])
    }

    @Test func anUpstreamKeepsItsRuntimeStateAcrossTables() throws {
        let registry = RuntimeRegistry()
        let first = registry.snapshot(of: try RouteTable.build(version: 1, from: set(["a", "b"])), health: UnhealthyEndpoints())
        let second = registry.snapshot(of: try RouteTable.build(version: 2, from: set(["a", "c"])), health: UnhealthyEndpoints())
        // Connections and ejections belong to the upstream, not to one snapshot of it.
        #expect(second.runtime(ofUpstream: "a") === first.runtime(ofUpstream: "a"))
        #expect(second.runtime(ofUpstream: "c") !== first.runtime(ofUpstream: "b"))
        // An upstream the table dropped starts afresh when it comes back.
        let third = registry.snapshot(of: try RouteTable.build(version: 3, from: set(["a", "b"])), health: UnhealthyEndpoints())
        #expect(third.runtime(ofUpstream: "b") !== first.runtime(ofUpstream: "b"))
        let fresh = RuntimeRegistry().snapshot(of: try RouteTable.build(version: 3, from: set(["a"])), health: UnhealthyEndpoints())
        #expect(fresh.runtime(ofUpstream: "a") !== first.runtime(ofUpstream: "a"))
    }

    @Test func aRouteCountsOnOneCounterWhileItsDefinitionStaysTheSame() throws {
        let registry = RuntimeRegistry()
        let routes = "routes: [{ name: a, respond: { status: 200 } }, { name: b, respond: { status: 200 } }]"
        let first = registry.snapshot(of: try TestRoutes.table(routes), health: UnhealthyEndpoints())
        let a = try #require(first.table.routes.first)
        first.counter(for: a).started()
        // An unrelated change keeps the counter: the request begun before still counts.
        let second = registry.snapshot(
            of: try TestRoutes.table(routes.replacingOccurrences(of: "name: b, respond: { status: 200 }", with: "name: b, respond: { status: 204 }"), version: 2),
            health: UnhealthyEndpoints())
        let kept = second.counter(for: try #require(second.table.routes.first))
        #expect(kept === first.counter(for: a))
        #expect(kept.inFlightRequests == 1)
        // Changing the route starts a new counter; the old one drains.
        let third = registry.snapshot(
            of: try TestRoutes.table("routes: [{ name: a, respond: { status: 201 } }]", version: 3), health: UnhealthyEndpoints())
        #expect(third.counter(for: try #require(third.table.routes.first)) !== kept)
        #expect(third.counter(for: nil) === first.counter(for: nil))  // requests without a route
    }

    @Test func theDrainTrackerListsRetiredRoutesUntilTheirRequestsEnd() async throws {
        let dataPlane = DataPlane(initialTable: try TestRoutes.table("routes: [{ name: a, respond: { status: 200 } }]"), logger: .init(label: "t"))
        let counter = dataPlane.snapshot.counter(for: dataPlane.snapshot.table.routes.first)
        counter.started()
        #expect(dataPlane.runningRequests() == 1)
        let (retired, deadline) = await dataPlane.publish(try TestRoutes.table("routes: []", version: 2), drainTimeout: .seconds(30))
        #expect(retired.map(\.name) == ["a"])
        let draining = dataPlane.drains.drainingRoutes(now: deadline - 1)
        #expect(draining.map(\.route) == ["a"])
        #expect(dataPlane.drains.drainingRequests(now: deadline - 1) == 1)
        #expect(dataPlane.runningRequests() == 1)
        // Listed a second past the deadline, then dropped.
        #expect(dataPlane.drains.drainingRoutes(now: deadline + 2).isEmpty)
        counter.ended()
        #expect(dataPlane.runningRequests() == 0)
    }
}
