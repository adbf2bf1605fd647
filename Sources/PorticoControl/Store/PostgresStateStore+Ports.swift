import PorticoCore
import PostgresNIO

/// SPEC §10's tenant port allocations in the shared store (and SPEC §15's port quotas).
extension PostgresStateStore {
    public func portAllocations() async throws -> [PortAllocation] {
        try await withTimeout { _ in
            let rows = try await self.client.query(
                "SELECT tenant, name, port, target, created_at FROM port_allocations ORDER BY port", logger: self.logger)
            var allocations: [PortAllocation] = []
            for try await (tenant, name, port, target, createdAt) in rows.decode((String, String, Int, String?, Double).self) {
                allocations.append(
                    PortAllocation(
                        tenant: tenant, name: name, port: port, target: target.flatMap { Endpoint(parsing: $0) },
                        createdAt: createdAt))
            }
            return allocations
        }
    }

    public func insertPortAllocation(_ allocation: PortAllocation, quota: Int?) async throws {
        let insert: PostgresQuery = """
            INSERT INTO port_allocations (tenant, name, port, target, created_at)
            VALUES (\(allocation.tenant), \(allocation.name), \(allocation.port), \(allocation.target?.description),
                    \(allocation.createdAt))
            """
        do {
            _ = try await withTimeout { _ in
                guard let quota else { return try await self.client.query(insert, logger: self.logger) }
                return try await self.client.withTransaction(logger: self.logger) { connection in
                    // One replica at a time counts and inserts for a tenant.
                    try await connection.query(
                        "SELECT pg_advisory_xact_lock(7428002, hashtext(\(allocation.tenant)))", logger: self.logger)
                    let rows = try await connection.query(
                        "SELECT COUNT(*) FROM port_allocations WHERE tenant = \(allocation.tenant)", logger: self.logger)
                    var held: Int64 = 0
                    for try await count in rows.decode(Int64.self) { held = count }
                    if held >= quota { throw StateStoreError.quotaReached }
                    return try await connection.query(insert, logger: self.logger)
                }
            }
        } catch let error as PostgresTransactionError {
            if let refused = error.closureError as? StateStoreError { throw refused }
            if let psql = error.closureError as? PSQLError, psql.serverInfo?[.sqlState] == "23505" { throw StateStoreError.portTaken }
            throw error
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {  // unique_violation
            throw StateStoreError.portTaken
        }
    }

    public func deletePortAllocation(tenant: String, name: String) async throws -> Bool {
        try await withTimeout { _ in
            return try await Self.returnsRows(self.client.query(
                "DELETE FROM port_allocations WHERE tenant = \(tenant) AND name = \(name) RETURNING port", logger: self.logger))
        }
    }

    public func updatePortTarget(tenant: String, name: String, target: Endpoint) async throws -> Bool {
        try await withTimeout { _ in
            return try await Self.returnsRows(self.client.query(
                "UPDATE port_allocations SET target = \(target.description) WHERE tenant = \(tenant) AND name = \(name) RETURNING port",
                logger: self.logger))
        }
    }
}
