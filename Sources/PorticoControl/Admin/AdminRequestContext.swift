import Hummingbird
import PorticoCore

/// Requires `Authorization: Bearer <token>` (401 otherwise): the admin token, compared in
/// constant time, or a live tenant token (SPEC §15), which may call only
/// `/v1/routes…`, `/v1/upstreams…`, `/v1/tenants/<its tenant>/ports…` and `POST /v1/explain`
/// (403 otherwise) and is carried on in ``AdminRequestContext/tenant``.
struct BearerTokenMiddleware: RouterMiddleware {
    let token: String
    let tenants: TenantDirectory?

    func handle(
        _ request: Request, context: AdminRequestContext, next: (Request, AdminRequestContext) async throws -> Response
    ) async throws -> Response {
        let header = request.headers[.authorization] ?? ""
        let prefix = "Bearer "
        let presented = header.count > prefix.count && header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(prefix.count)) : nil
        if let presented, AdminToken.constantTimeEquals(presented, token) {
            return try await next(request, context)
        }
        guard let presented, let tenant = tenants?.tenant(ofToken: presented) else {
            var response = AdminAPI.json(
                ["error": "unauthorized", "message": "a valid Authorization: Bearer token is required", "details": []],
                status: .unauthorized)
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        guard Self.tenantMayCall(request.method, path: request.uri.path, tenant: tenant) else {
            return AdminAPI.errorResponse(.forbidden("a token of tenant \"\(tenant)\" may not call \(request.method) \(request.uri.path)"))
        }
        var context = context
        context.tenant = tenant
        return try await next(request, context)
    }

    /// SPEC §15's list of what a tenant token may call.
    static func tenantMayCall(_ method: HTTPRequest.Method, path: String, tenant: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()  // the leading ""
        guard segments.first == "v1" else { return false }
        let rest = Array(segments.dropFirst())
        switch rest.first {
        case "routes", "upstreams": return rest.count <= 2
        case "tenants": return rest.count >= 3 && rest.count <= 4 && rest[1] == Substring(tenant) && rest[2] == "ports"
        case "explain": return rest.count == 1 && method == .post
        default: return false
        }
    }
}

/// The admin API's request context: who is asking.
public struct AdminRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The tenant whose token the request carries; nil for the admin token.
    public var tenant: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Whether the caller may see `definition`: the admin sees all, a tenant its own.
    func sees(_ definition: some APIManagedDefinition) -> Bool {
        tenant == nil || definition.tenant == tenant
    }

    /// A definition a tenant token sends becomes its tenant's; naming another is 422.
    func owned<Definition: APIManagedDefinition>(_ definition: Definition) throws -> Definition {
        guard let tenant else { return definition }
        var definition = definition
        switch definition.tenant {
        case nil: definition.tenant = tenant
        case tenant?: break
        case let other?:
            throw ControlPlaneError.invalid([
                ConfigProblem(path: "tenant", message: "must be \"\(tenant)\", the token's tenant, found \"\(other)\"")
            ])
        }
        return definition
    }

    /// Another tenant's definition (or the operator's) is as absent to a tenant token: 404.
    func requireVisible<Definition: APIManagedDefinition>(_ kind: Definition.Type, named name: String, in table: RouteTable) throws {
        guard let tenant, let existing = kind.all(in: table).first(where: { $0.name == name }), existing.tenant != tenant else { return }
        throw ControlPlaneError.notFound("no \(kind.kindName) \"\(name)\"")
    }
}
