/// One tenant port: which tenant asked, under which name, and where it forwards.
public struct PortAllocation: Hashable, Sendable {
    public var tenant: String
    public var name: String
    public var port: Int
    /// Where connections to the port are forwarded; `nil` allocates without forwarding.
    public var target: Endpoint?
    /// When the port was allocated, in seconds since 1970.
    public var createdAt: Double

    public init(tenant: String, name: String, port: Int, target: Endpoint?, createdAt: Double) {
        self.tenant = tenant
        self.name = name
        self.port = port
        self.target = target
        self.createdAt = createdAt
    }

    /// Tenant and name: what makes an allocation idempotent.
    public var key: PortPool.Key { PortPool.Key(tenant: tenant, name: name) }

    /// `{"tenant", "name", "port", "target", "createdAt"}` as `GET /v1/ports` lists it;
    /// `createdAt` in RFC 3339 (UTC, whole seconds).
    public var configValue: ConfigValue {
        [
            "tenant": .string(tenant), "name": .string(name), "port": .integer(port),
            "target": target.map { .string($0.description) } ?? .null,
            "createdAt": .string(RFC3339.format(secondsSince1970: createdAt)),
        ]
    }
}

/// RFC 3339 timestamps without Foundation (Core stays Foundation-free).
public enum RFC3339 {
    /// `2026-11-21T23:33:55Z` for a number of seconds since 1970 (UTC).
    public static func format(secondsSince1970: Double) -> String {
        // A stored time that is not a time of this era (NaN, ±∞, beyond year 9999) reads as 1970
        // rather than trapping in the conversion below.
        let bounded = secondsSince1970.isFinite && abs(secondsSince1970) < 253_402_300_800 ? secondsSince1970 : 0
        let seconds = Int(bounded.rounded(.down))
        var days = seconds / 86400
        let secondOfDay = seconds % 86400
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60))Z"
    }
}

/// The tenant port pool's bookkeeping (SPEC §10), pure and synchronous: which ports are
/// allocated, and in which order free ports are offered.
///
/// Free ports wait in a first-in first-out line: a freed port joins the back, so it is not
/// handed to another tenant at once, and a port found busy on the host joins the back too,
/// so the next allocation does not try it again first. Offering a candidate is O(1) however
/// full the pool is; the caller checks the candidate on the host and then commits it.
public struct PortPool: Sendable {
    /// Tenant and name of an allocation.
    public struct Key: Hashable, Sendable {
        public var tenant: String
        public var name: String
        public init(tenant: String, name: String) {
            self.tenant = tenant
            self.name = name
        }
    }

    /// The configured range.
    public let range: ClosedRange<Int>
    /// Ports never handed out: the gateway's listeners and configured reservations.
    public let reserved: Set<Int>
    private(set) var allocations: [Key: PortAllocation] = [:]
    private var ownerOfPort: [Int: Key] = [:]
    /// Free ports in the order they will be offered; a ring over an array.
    private var line: [Int] = []
    private var lineStart = 0

    public init(range: ClosedRange<Int>, reserved: Set<Int>, allocations: [PortAllocation] = []) {
        self.range = range
        self.reserved = reserved
        for allocation in allocations {
            self.allocations[allocation.key] = allocation
            ownerOfPort[allocation.port] = allocation.key
        }
        line = range.filter { !reserved.contains($0) && ownerOfPort[$0] == nil }
    }

    /// Ports that can be allocated at all: the range less the reserved ports.
    public var capacity: Int { range.count - reserved.filter(range.contains).count }
    /// Ports allocated now.
    public var allocatedCount: Int { allocations.count }
    /// Ports not allocated (some may be busy on the host).
    public var freeCount: Int { capacity - allocatedCount }

    /// Every allocation, by port.
    public var all: [PortAllocation] { allocations.values.sorted { $0.port < $1.port } }

    /// The allocation of a tenant and name, if there is one.
    public func allocation(for key: Key) -> PortAllocation? { allocations[key] }

    /// The allocations of one tenant, by port.
    public func allocations(ofTenant tenant: String) -> [PortAllocation] {
        all.filter { $0.tenant == tenant }
    }

    /// Takes the next free port from the front of the line; `nil` when none is left.
    /// Give it back with ``returnCandidate(_:)`` if it cannot be used, or ``commit(_:)`` it.
    public mutating func takeCandidate() -> Int? {
        while lineStart < line.count {
            let port = line[lineStart]
            lineStart += 1
            compactIfNeeded()
            if ownerOfPort[port] == nil { return port }
        }
        return nil
    }

    /// Puts a candidate that could not be used (busy on the host) at the back of the line.
    public mutating func returnCandidate(_ port: Int) {
        guard ownerOfPort[port] == nil, range.contains(port), !reserved.contains(port) else { return }
        line.append(port)
    }

    /// Records an allocation of a port taken with ``takeCandidate()``.
    public mutating func commit(_ allocation: PortAllocation) {
        allocations[allocation.key] = allocation
        ownerOfPort[allocation.port] = allocation.key
    }

    /// Changes where an allocation forwards to; its port stays. `nil` when there is none.
    public mutating func retarget(_ key: Key, to target: Endpoint?) -> PortAllocation? {
        guard var allocation = allocations[key] else { return nil }
        allocation.target = target
        allocations[key] = allocation
        return allocation
    }

    /// Frees an allocation; its port joins the back of the line.
    @discardableResult
    public mutating func free(_ key: Key) -> PortAllocation? {
        guard let allocation = allocations.removeValue(forKey: key) else { return nil }
        ownerOfPort[allocation.port] = nil
        returnCandidate(allocation.port)
        return allocation
    }

    private mutating func compactIfNeeded() {
        if lineStart > 4096, lineStart * 2 > line.count {
            line.removeFirst(lineStart)
            lineStart = 0
        }
    }

    /// Tenant and allocation names: 1 to 63 of `a-z`, `0-9` and `-` (SPEC §10).
    public static func isValidName(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 63
            && text.utf8.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
            }
    }
}
