import Foundation
import Logging
import PorticoCore
import Synchronization

/// The tenants and their tokens (SPEC §15), as the admin API checks them: read without
/// waiting on every request, changed one at a time through the state store (recorded first,
/// then in effect here). Replicas sharing PostgreSQL take in each other's changes with
/// ``reload()``, every half second, so a revoked token is refused everywhere within a second.
public final class TenantDirectory: Sendable {
    private let store: any StateStore
    private let state: Mutex<TenantState>
    private let gate = SerialGate()

    private init(store: any StateStore, state: TenantState) {
        self.store = store
        self.state = Mutex(state)
    }

    /// Loads what the store keeps.
    public static func load(from store: any StateStore) async throws -> TenantDirectory {
        TenantDirectory(store: store, state: try await store.tenantState())
    }

    /// Every tenant, by name.
    public var tenants: [TenantDefinition] { state.withLock { $0.tenants } }

    public func tenant(named name: String) -> TenantDefinition? {
        state.withLock { $0.tenants.first { $0.name == name } }
    }

    /// The tenant a bearer token belongs to; nil for anything but a live tenant token.
    public func tenant(ofToken text: String) -> String? {
        guard let id = TenantToken.id(of: text) else { return nil }
        guard let token = state.withLock({ $0.tokens.first { $0.id == id } }), token.matches(text) else { return nil }
        return token.tenant
    }

    /// A tenant's tokens (ids and times, never hashes in answers).
    public func tokens(of tenant: String) -> [TenantToken] {
        state.withLock { $0.tokens.filter { $0.tenant == tenant } }
    }

    /// Takes in what other replicas recorded.
    public func reload() async throws {
        try await gate.run { try await self.reloadAlone() }
    }

    /// ``reload()`` for a caller that holds the gate.
    private func reloadAlone() async throws {
        let loaded = try await store.tenantState()
        state.withLock { $0 = loaded }
    }

    /// `PUT /v1/tenants/{name}`: records `tenant`, new or changed; 409 when a host of it
    /// overlaps another tenant's.
    public func put(_ tenant: TenantDefinition) async throws(ControlPlaneError) {
        try await gate.run { () async throws(ControlPlaneError) in
            // Checked against what other replicas recorded too.
            do {
                try await self.reloadAlone()
            } catch {
                throw .storeUnavailable("the state store could not be read: \(error)")
            }
            for other in self.tenants where other.name != tenant.name {
                if let (mine, theirs) = tenant.overlap(with: other) {
                    throw .conflict("host \(mine) overlaps \(theirs) of tenant \"\(other.name)\"")
                }
            }
            do {
                try await self.store.saveTenant(tenant)
            } catch {
                throw .storeUnavailable("the state store could not record the tenant: \(error)")
            }
            self.state.withLock { state in
                state.tenants.removeAll { $0.name == tenant.name }
                state.tenants.append(tenant)
                state.tenants.sort { $0.name < $1.name }
            }
        }
    }

    /// `DELETE /v1/tenants/{name}`, with its tokens; 409 when `holdings` (called under the
    /// directory's gate) names what the tenant still has.
    public func delete(named name: String, holdings: () async -> String?) async throws(ControlPlaneError) {
        try await gate.run { () async throws(ControlPlaneError) in
            guard self.tenant(named: name) != nil else { throw .notFound("no tenant \"\(name)\"") }
            if let held = await holdings() { throw .conflict("tenant \"\(name)\" still has \(held)") }
            do {
                _ = try await self.store.deleteTenant(named: name)
            } catch {
                throw .storeUnavailable("the state store could not record the removal: \(error)")
            }
            self.state.withLock { state in
                state.tenants.removeAll { $0.name == name }
                state.tokens.removeAll { $0.tenant == name }
            }
        }
    }

    /// `POST /v1/tenants/{name}/tokens`: a new token; its text is returned once and kept
    /// nowhere.
    public func makeToken(for tenant: String) async throws(ControlPlaneError) -> (token: TenantToken, text: String) {
        try await gate.run { () async throws(ControlPlaneError) in
            // A tenant another replica has just recorded counts.
            if self.tenant(named: tenant) == nil { try? await self.reloadAlone() }
            guard self.tenant(named: tenant) != nil else { throw .notFound("no tenant \"\(tenant)\"") }
            let made = TenantToken.make(tenant: tenant)
            do {
                try await self.store.insertTenantToken(made.token)
            } catch {
                throw .storeUnavailable("the state store could not record the token: \(error)")
            }
            self.state.withLock { $0.tokens.append(made.token) }
            return made
        }
    }

    /// `DELETE /v1/tenants/{name}/tokens/{id}`: refused from now on.
    public func revokeToken(_ id: String, of tenant: String) async throws(ControlPlaneError) {
        try await gate.run { () async throws(ControlPlaneError) in
            // Refused here at once, whatever the store says next.
            let held = self.state.withLock { state in
                let held = state.tokens.contains { $0.id == id && $0.tenant == tenant }
                state.tokens.removeAll { $0.id == id && $0.tenant == tenant }
                return held
            }
            let deleted: Bool
            do {
                deleted = try await self.store.deleteTenantToken(tenant: tenant, id: id)
            } catch {
                throw .storeUnavailable("the state store could not record the revocation: \(error)")
            }
            guard held || deleted else { throw .notFound("tenant \"\(tenant)\" has no token \"\(id)\"") }
        }
    }
}
