import Foundation
import PorticoCore
import PostgresNIO

/// SPEC §15's tenants and their tokens' hashes in the shared store.
extension PostgresStateStore {
    public func tenantState() async throws -> TenantState {
        try await withTimeout { _ in
            var state = TenantState()
            let tenants = try await self.client.query("SELECT name, document FROM tenants ORDER BY name", logger: self.logger)
            for try await (name, document) in tenants.decode((String, String).self) {
                state.tenants.append(try TenantDefinition.stored(name: name, document: document))
            }
            let tokens = try await self.client.query(
                "SELECT id, tenant, hash, created_at FROM tenant_tokens ORDER BY created_at, id", logger: self.logger)
            for try await (id, tenant, hash, createdAt) in tokens.decode((String, String, String, Double).self) {
                state.tokens.append(TenantToken(id: id, tenant: tenant, hash: hash, createdAt: createdAt))
            }
            return state
        }
    }

    public func saveTenant(_ tenant: TenantDefinition) async throws {
        let document = try tenant.configValue.jsonText()
        try await withTimeout { _ in
            try await self.client.query(
                """
                INSERT INTO tenants (name, document) VALUES (\(tenant.name), \(document))
                ON CONFLICT (name) DO UPDATE SET document = EXCLUDED.document
                """, logger: self.logger)
        }
    }

    public func deleteTenant(named name: String) async throws -> Bool {
        try await withTimeout { _ in
            try await self.client.withTransaction(logger: self.logger) { connection in
                try await connection.query("DELETE FROM tenant_tokens WHERE tenant = \(name)", logger: self.logger)
                return try await Self.returnsRows(connection.query("DELETE FROM tenants WHERE name = \(name) RETURNING name", logger: self.logger))
            }
        }
    }

    public func insertTenantToken(_ token: TenantToken) async throws {
        try await withTimeout { _ in
            try await self.client.query(
                """
                INSERT INTO tenant_tokens (id, tenant, hash, created_at)
                VALUES (\(token.id), \(token.tenant), \(token.hash), \(token.createdAt))
                """, logger: self.logger)
        }
    }

    public func deleteTenantToken(tenant: String, id: String) async throws -> Bool {
        try await withTimeout { _ in
            return try await Self.returnsRows(self.client.query(
                "DELETE FROM tenant_tokens WHERE tenant = \(tenant) AND id = \(id) RETURNING id", logger: self.logger))
        }
    }
}
