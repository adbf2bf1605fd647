// Route table costs: compile and swap 10,000 routes; lookup at 10 and at 10,000 routes.
// Run with: swift run -c release route-table-benchmark
import Foundation
import Logging
import PorticoCore
import PorticoProxy

func routeSet(count: Int) -> RouteSet {
    let upstreams = (0..<max(1, count / 100)).map {
        UpstreamDefinition(name: "u\($0)", endpoints: [Endpoint(host: "127.0.0.1", port: 10000 + $0)])
    }
    let routes = (0..<count).map { index -> RouteDefinition in
        let host = index % 3 == 0 ? [HostPattern.exact("svc\(index % 50).example.com")] : index % 3 == 1 ? [.wildcard(suffix: ".example.org")] : []
        let path: PathMatch = index % 4 == 0 ? .exact("/svc\(index)/status") : .prefix("/svc\(index)/api")
        return RouteDefinition(
            name: "r\(index)", hosts: host, match: RouteMatch(path: path, methods: index % 5 == 0 ? ["GET"] : nil),
            action: .upstream("u\(index % upstreams.count)"))
    }
    return RouteSet(upstreams: upstreams.map { ($0, .api) }, routes: routes.map { ($0, .api) })
}

func measure(_ body: () throws -> Void) rethrows -> Duration {
    let start = ContinuousClock.now
    try body()
    return ContinuousClock.now - start
}

func milliseconds(_ duration: Duration) -> String {
    String(format: "%.2f ms", Double(duration.components.attoseconds) / 1e15 + Double(duration.components.seconds) * 1000)
}

let big = routeSet(count: 10_000)
var builds: [Duration] = []
var table = RouteTable.empty()
for run in 0..<5 {
    builds.append(try measure { table = try RouteTable.build(version: UInt64(run + 1), from: big) })
}
let dataPlane = DataPlane(initialTable: .empty(), logger: Logger(label: "bench"))
var swaps: [Duration] = []
for _ in 0..<5 {
    let start = ContinuousClock.now
    await dataPlane.publish(table, drainTimeout: .seconds(10))
    swaps.append(ContinuousClock.now - start)
}
print("compile 10,000 routes: median \(milliseconds(builds.sorted()[2])) (5 runs)")
print("swap (publish) 10,000 routes: median \(milliseconds(swaps.sorted()[2])) (5 runs)")

func lookupCost(routes: Int) throws -> Double {
    let table = try RouteTable.build(version: 1, from: routeSet(count: routes))
    let requests = (0..<1024).map { index -> (String, String) in
        let route = (index * 7919) % routes
        let host = route % 3 == 0 ? "svc\(route % 50).example.com" : route % 3 == 1 ? "a.example.org" : "other.net"
        let path = route % 4 == 0 ? "/svc\(route)/status" : "/svc\(route)/api/items/42"
        return (host, path)
    }
    let iterations = 500_000
    var found = 0
    let start = ContinuousClock.now
    for index in 0..<iterations {
        let (host, path) = requests[index & 1023]
        if table.match(method: "GET", host: host, path: path, header: { _ in nil }) != nil { found += 1 }
    }
    let elapsed = ContinuousClock.now - start
    precondition(found > iterations / 2, "lookups should mostly match")
    return (Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9) / Double(iterations)
}
let small = try lookupCost(routes: 10)
let large = try lookupCost(routes: 10_000)
print(String(format: "lookup at 10 routes: %.0f ns; at 10,000 routes: %.0f ns (ratio %.2f)", small, large, large / small))
