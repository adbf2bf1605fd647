import PorticoCore
import Testing

private func allocation(_ tenant: String, _ name: String, _ port: Int) -> PortAllocation {
    PortAllocation(tenant: tenant, name: name, port: port, target: nil, createdAt: 0)
}

@Suite struct PortPoolTests {
    @Test func offersPortsInOrderSkippingReservedAndAllocated() {
        var pool = PortPool(range: 30000...30005, reserved: [30001], allocations: [allocation("a", "x", 30002)])
        #expect(pool.capacity == 5)
        #expect(pool.freeCount == 4)
        #expect(pool.takeCandidate() == 30000)
        #expect(pool.takeCandidate() == 30003)
    }

    @Test func freedAndBusyPortsGoToTheBackOfTheLine() {
        var pool = PortPool(range: 30000...30003, reserved: [])
        let first = pool.takeCandidate()!
        pool.commit(allocation("t", "a", first))
        let busy = pool.takeCandidate()!  // say another process holds it
        pool.returnCandidate(busy)
        pool.free(PortPool.Key(tenant: "t", name: "a"))
        #expect(pool.takeCandidate() == 30002)
        #expect(pool.takeCandidate() == 30003)
        #expect(pool.takeCandidate() == busy)
        #expect(pool.takeCandidate() == first)
        #expect(pool.takeCandidate() == nil)
    }

    @Test func neverOffersAPortTwice() {
        var pool = PortPool(range: 30000...30999, reserved: Set(30100...30199))
        var seen = Set<Int>()
        var index = 0
        while let port = pool.takeCandidate() {
            #expect(!seen.contains(port))
            #expect(!(30100...30199).contains(port))
            seen.insert(port)
            pool.commit(allocation("t", "n\(index)", port))
            index += 1
        }
        #expect(seen.count == 900)
        #expect(pool.freeCount == 0)
    }

    @Test(arguments: ["redis", "a", "tenant-1", String(repeating: "a", count: 63)])
    func acceptsNames(name: String) { #expect(PortPool.isValidName(name)) }

    @Test(arguments: ["", "Redis", "a_b", "a.b", String(repeating: "a", count: 64), "ä"])
    func refusesNames(name: String) { #expect(!PortPool.isValidName(name)) }
}
