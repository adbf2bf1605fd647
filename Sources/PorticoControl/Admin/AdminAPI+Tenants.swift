import Foundation
import Hummingbird
import PorticoCore

/// SPEC §15's tenant calls, for the admin token only (``BearerTokenMiddleware`` refuses
/// tenant tokens): tenants with their hosts and quotas, and their tokens.
extension AdminAPI {
    static func addTenantEndpoints(
        to v1: RouterGroup<AdminRequestContext>, tenants: TenantDirectory, controller: RouteController, ports: PortAllocator
    ) {
        v1.get("tenants") { _, _ in
            json(["tenants": .array(tenants.tenants.map(\.configValue))])
        }
        v1.put("tenants/:tenant") { request, context in
            await respond {
                let name = try context.parameters.require("tenant")
                let tenant = try TenantDefinition.decode(name: name, from: try await decodeBody(request))
                try await tenants.put(tenant)
                return json(tenant.configValue)
            }
        }
        v1.get("tenants/:tenant") { _, context in
            await respond {
                let name = try context.parameters.require("tenant")
                guard let tenant = tenants.tenant(named: name) else { throw ControlPlaneError.notFound("no tenant \"\(name)\"") }
                return json(tenant.configValue)
            }
        }
        v1.delete("tenants/:tenant") { _, context in
            await respond {
                let name = try context.parameters.require("tenant")
                try await tenants.delete(named: name) {
                    let table = await controller.table
                    let routes = table.routes.count { $0.definition.tenant == name }
                    let upstreams = table.upstreams.values.count { $0.definition.tenant == name }
                    let allocations = await ports.allocations(ofTenant: name).count
                    guard routes + upstreams + allocations > 0 else { return nil }
                    return "\(routes) routes, \(upstreams) upstreams and \(allocations) ports"
                }
                return json(["tenant": .string(name), "deleted": true])
            }
        }
        v1.post("tenants/:tenant/tokens") { _, context in
            await respond {
                let made = try await tenants.makeToken(for: try context.parameters.require("tenant"))
                return json(["id": .string(made.token.id), "token": .string(made.text)], status: .created)
            }
        }
        v1.get("tenants/:tenant/tokens") { _, context in
            await respond {
                let name = try context.parameters.require("tenant")
                guard tenants.tenant(named: name) != nil else { throw ControlPlaneError.notFound("no tenant \"\(name)\"") }
                return json([
                    "tokens": .array(
                        tenants.tokens(of: name).map {
                            ["id": .string($0.id), "createdAt": .string(RFC3339.format(secondsSince1970: $0.createdAt))]
                        })
                ])
            }
        }
        v1.delete("tenants/:tenant/tokens/:id") { _, context in
            await respond {
                let name = try context.parameters.require("tenant")
                let id = try context.parameters.require("id")
                try await tenants.revokeToken(id, of: name)
                return json(["tenant": .string(name), "id": .string(id), "revoked": true])
            }
        }
    }
}
