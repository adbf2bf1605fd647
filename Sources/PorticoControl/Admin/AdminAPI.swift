import Foundation
import Hummingbird
import Logging
import NIOCore
import PorticoCore
import Prometheus
import Synchronization

/// Whether the gateway is ready for traffic (`GET /health/ready`): not before the first
/// snapshot is active and every listener is bound, and no longer once shutdown began, so a
/// load balancer stops sending before connections drain.
public final class Readiness: Sendable {
    private let ready = Atomic<Bool>(false)
    public init() {}
    public var isReady: Bool { ready.load(ordering: .relaxed) }
    public func markReady() { ready.store(true, ordering: .relaxed) }
    public func markNotReady() { ready.store(false, ordering: .relaxed) }
}

/// The admin API of SPEC §6 (routes, upstreams, config and status), on Hummingbird.
public enum AdminAPI {
    /// The largest request body accepted.
    static let maxBodyBytes = 4 * 1024 * 1024

    /// Builds the router: health checks open, everything under `/v1` behind the bearer token.
    public static func router(
        controller: RouteController, ports: PortAllocator, metrics: MetricsEndpoint, token: String, readiness: Readiness,
        tenants: TenantDirectory? = nil
    ) -> Router<AdminRequestContext> {
        let router = Router(context: AdminRequestContext.self)
        // First, so that it also covers the paths no route matches (SPEC §6: every error is JSON).
        router.add(middleware: JSONErrorMiddleware())
        router.get("/metrics") { _, _ in
            let text = await metrics.render(controller: controller, ports: ports)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
        }
        router.get("/health/live") { _, _ in json(["status": "live"]) }
        router.get("/health/ready") { _, _ in
            readiness.isReady ? json(["status": "ready"]) : json(["status": "not_ready"], status: .serviceUnavailable)
        }

        let v1 = router.group("v1").add(middleware: BearerTokenMiddleware(token: token, tenants: tenants))
        v1.get("config") { request, _ in
            await respond {
                if let text = request.uri.queryParameters.get("version") {
                    guard let version = UInt64(text) else { throw ControlPlaneError.malformed("version must be a number") }
                    guard let snapshot = try await controller.snapshot(version: version) else {
                        throw ControlPlaneError.notFound("version \(version) is not in the history")
                    }
                    return json(snapshot, etag: version)
                }
                let active = await controller.activeDocument()
                return json(active.document, etag: active.version)
            }
        }
        v1.put("config") { request, _ in
            await respond {
                let body = try await decodeBody(request)
                guard case .object(var pairs) = body else { throw ControlPlaneError.malformed("expected a JSON object") }
                pairs.removeAll { $0.key == "version" }  // what GET /v1/config shows may be sent back
                let set: RouteSet
                do {
                    set = try controller.decodeAPIDocument(.object(pairs))
                } catch let error as ConfigurationError {
                    throw ControlPlaneError.invalid(await controller.everyProblem(ofAPIDocument: error))
                }
                let dryRun = try isDryRun(request)
                let report = try await controller.replaceAPIConfiguration(
                    upstreams: set.upstreams.map(\.definition), routes: set.routes.map(\.definition),
                    ifMatch: try ifMatch(request), dryRun: dryRun)
                if dryRun { return dryRunAnswer(report) }
                let active = await controller.activeDocument()
                return json(active.document, warnings: report.warnings, etag: active.version)
            }
        }

        addHistoryEndpoints(to: v1, controller: controller)

        addCollection(RouteDefinition.self, to: v1, controller: controller)
        addCollection(UpstreamDefinition.self, to: v1, controller: controller)

        addPortEndpoints(to: v1, ports: ports, tenants: tenants)
        if let tenants { addTenantEndpoints(to: v1, tenants: tenants, controller: controller, ports: ports) }

        v1.get("status") { _, _ in
            let table = await controller.table
            let lastError = await controller.lastError
            let draining = controller.drains.drainingRoutes()
            return json([
                "version": .integer(Int(table.version)),
                "routes": .integer(table.routes.count),
                "upstreams": .integer(table.upstreams.count),
                "lastError": lastError.map(ConfigValue.string) ?? .null,
                "warnings": warningsValue(table.shadowedRoutes),
                "draining": .array(
                    draining.map {
                        [
                            "route": .string($0.route), "inFlight": .integer($0.inFlight),
                            "deadline": .string(RFC3339.format(secondsSince1970: $0.deadline.timeIntervalSince1970)),
                        ]
                    }),
            ])
        }
        return router
    }

    /// `GET/POST /v1/<collection>` and `GET/PUT/DELETE /v1/<collection>/{name}` for one kind.
    static func addCollection<Definition: APIManagedDefinition>(
        _ kind: Definition.Type, to group: RouterGroup<AdminRequestContext>, controller: RouteController
    ) {
        let collection = kind.collectionName
        group.get(RouterPath(collection)) { _, context in
            let table = await controller.table
            let visible = kind.all(in: table).filter { context.sees($0) }
            return json([collection: .array(visible.map(\.configValue))], etag: table.version)
        }
        group.post(RouterPath(collection)) { request, context in
            await respond {
                let definition = try context.owned(try decode(kind, from: try await decodeBody(request), name: nil))
                let dryRun = try isDryRun(request)
                let report = try await controller.add(definition, dryRun: dryRun)
                if dryRun { return dryRunAnswer(report) }
                return json(adding(report.warnings, to: definition.configValue), status: .created, etag: report.version)
            }
        }
        group.get(RouterPath("\(collection)/:name")) { _, context in
            await respond {
                let name = try context.parameters.require("name")
                guard let definition = kind.all(in: await controller.table).first(where: { $0.name == name && context.sees($0) }) else {
                    throw ControlPlaneError.notFound("no \(kind.kindName) \"\(name)\"")
                }
                return json(definition.configValue)
            }
        }
        group.put(RouterPath("\(collection)/:name")) { request, context in
            await respond {
                let name = try context.parameters.require("name")
                try context.requireVisible(kind, named: name, in: await controller.table)
                let definition = try context.owned(try decode(kind, from: try await decodeBody(request), name: name))
                let dryRun = try isDryRun(request)
                let report = try await controller.replace(definition, ifMatch: try ifMatch(request), dryRun: dryRun)
                if dryRun { return dryRunAnswer(report) }
                return json(adding(report.warnings, to: definition.configValue), etag: report.version)
            }
        }
        group.delete(RouterPath("\(collection)/:name")) { request, context in
            await respond {
                let dryRun = try isDryRun(request)
                let name = try context.parameters.require("name")
                try context.requireVisible(kind, named: name, in: await controller.table)
                let report = try await controller.delete(kind, named: name, ifMatch: try ifMatch(request), dryRun: dryRun)
                if dryRun { return dryRunAnswer(report) }
                return json(["version": .integer(Int(report.version)), "warnings": warningsValue(report.warnings)], etag: report.version)
            }
        }
    }

    /// `GET /v1/ports` and the tenant port calls of SPEC §6.
    static func addPortEndpoints(to group: RouterGroup<AdminRequestContext>, ports: PortAllocator, tenants: TenantDirectory?) {
        group.get("ports") { _, _ in
            let snapshot = await ports.snapshot
            return json([
                "range": ["start": .integer(snapshot.range.lowerBound), "end": .integer(snapshot.range.upperBound)],
                "allocated": .integer(snapshot.allocated),
                "free": .integer(snapshot.free),
                "allocations": .array(snapshot.allocations.map(\.configValue)),
            ])
        }
        group.post("tenants/:tenant/ports") { request, context in
            await respond {
                let tenant = try context.parameters.require("tenant")
                let body = try await decodeBody(request)
                guard case .object = body else { throw ControlPlaneError.malformed("expected a JSON object") }
                var problems: [ConfigProblem] = []
                for key in body.objectKeys where key != "name" && key != "target" {
                    problems.append(ConfigProblem(path: key, message: "unknown field (expected one of name, target)"))
                }
                let name: String
                switch body["name"] {
                case .string(let text): name = text
                case nil: name = ""
                case let other?:
                    problems.append(ConfigProblem(path: "name", message: "expected a string, found \(other.kindDescription)"))
                    name = ""
                }
                var target: String?
                switch body["target"] {
                case .string(let text)?: target = text
                case nil, .null?: target = nil
                case let other?:
                    problems.append(ConfigProblem(path: "target", message: "expected a string, found \(other.kindDescription)"))
                }
                guard problems.isEmpty else { throw ControlPlaneError.invalid(problems) }
                let outcome = try await ports.allocate(
                    tenant: tenant, name: name, target: target, quota: tenants?.tenant(named: tenant)?.quota.ports)
                return json(
                    ["tenant": .string(tenant), "name": .string(name), "port": .integer(outcome.allocation.port)],
                    status: outcome.created ? .created : .ok)
            }
        }
        group.get("tenants/:tenant/ports") { _, context in
            await respond {
                let tenant = try context.parameters.require("tenant")
                return json(["allocations": .array(await ports.allocations(ofTenant: tenant).map(\.configValue))])
            }
        }
        group.patch("tenants/:tenant/ports/:name") { request, context in
            await respond {
                let tenant = try context.parameters.require("tenant")
                let name = try context.parameters.require("name")
                let body = try await decodeBody(request)
                guard case .object = body else { throw ControlPlaneError.malformed("expected a JSON object") }
                var problems: [ConfigProblem] = []
                for key in body.objectKeys where key != "target" {
                    problems.append(ConfigProblem(path: key, message: "unknown field (expected target)"))
                }
                var target = ""
                switch body["target"] {
                case .string(let text)?: target = text
                case nil: problems.append(ConfigProblem(path: "target", message: "required: the new host:port"))
                case let other?:
                    problems.append(ConfigProblem(path: "target", message: "expected a string, found \(other.kindDescription)"))
                }
                guard problems.isEmpty else { throw ControlPlaneError.invalid(problems) }
                return json(try await ports.retarget(tenant: tenant, name: name, target: target).configValue)
            }
        }
        group.delete("tenants/:tenant/ports/:name") { _, context in
            await respond {
                let tenant = try context.parameters.require("tenant")
                let name = try context.parameters.require("name")
                try await ports.free(tenant: tenant, name: name)
                return json(["tenant": .string(tenant), "name": .string(name), "freed": true])
            }
        }
    }

    // MARK: Bodies and answers

    /// Runs `body`, answering a refused change with its JSON error.
    static func respond(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as ControlPlaneError {
            return errorResponse(error)
        } catch {
            return errorResponse(.malformed("\(error)"))
        }
    }

    static func errorResponse(_ error: ControlPlaneError) -> Response {
        let details: [ConfigValue] = error.problems.map { problem in
            ["field": .string(problem.path), "message": .string(problem.message)]
        }
        return json(
            ["error": .string(error.errorCode), "message": .string(error.message), "details": .array(details)],
            status: HTTPResponse.Status(code: error.status))
    }

    static func json(_ value: ConfigValue, status: HTTPResponse.Status = .ok, etag: UInt64? = nil) -> Response {
        json((try? value.jsonBytes(sortedKeys: true)) ?? Array("{}".utf8), status: status, etag: etag)
    }

    /// The snapshot document's answer, with `warnings` when given (``adding(_:to:)``).
    static func json(_ document: SnapshotDocument, warnings: [RouteWarning]? = nil, etag: UInt64) -> Response {
        json((try? document.json(warnings: warnings.map(warningsValue))) ?? Array("{}".utf8), etag: etag)
    }

    /// An answer of JSON bytes already written.
    static func json(_ data: [UInt8], status: HTTPResponse.Status = .ok, etag: UInt64? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let etag { headers[.eTag] = "\"\(etag)\"" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func decodeBody(_ request: Request) async throws -> ConfigValue {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBodyBytes)
        } catch {
            throw ControlPlaneError.malformed("the body is larger than \(maxBodyBytes) bytes")
        }
        do {
            return try buffer.withUnsafeReadableBytes { try JSONReader.read($0) }
        } catch {
            throw ControlPlaneError.malformed("the body is not valid JSON (\(error))")
        }
    }

    /// A definition body; for `PUT /v1/<collection>/{name}` the name may be left out, and must match.
    static func decode<Definition: APIManagedDefinition>(_ kind: Definition.Type, from value: ConfigValue, name: String?)
        throws -> Definition
    {
        let value = try named(value, name: name)
        do {
            return try kind.decode(value)
        } catch {
            throw ControlPlaneError.invalid(error.problems)
        }
    }

    private static func named(_ value: ConfigValue, name: String?) throws -> ConfigValue {
        guard case .object(var pairs) = value else { throw ControlPlaneError.malformed("expected a JSON object") }
        guard let name else { return value }
        if let given = value["name"] {
            guard given == .string(name) else {
                throw ControlPlaneError.invalid([ConfigProblem(path: "name", message: "must be \"\(name)\", the name in the URL")])
            }
        } else {
            pairs.insert((key: "name", value: .string(name)), at: 0)
        }
        return .object(pairs)
    }

    /// `If-Match: "<version>"`; `*` or no header matches any version.
    static func ifMatch(_ request: Request) throws -> UInt64? {
        guard let header = request.headers[.ifMatch]?.trimmingCharacters(in: .whitespaces), header != "*" else {
            return nil
        }
        var text = Substring(header)
        if text.hasPrefix("W/") { text = text.dropFirst(2) }
        text = text.drop { $0 == "\"" }
        while text.hasSuffix("\"") { text = text.dropLast() }
        // An If-Match that names no version of ours can never match the active one.
        return UInt64(text) ?? UInt64.max
    }
}

/// Answers the errors Hummingbird raises itself (a path no route matches, a method a path
/// does not take) as JSON, like every other admin error.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not_found" : error.status == .methodNotAllowed ? "method_not_allowed" : "bad_request"
            let message = error.body ?? (error.status == .notFound ? "no such path: \(request.uri.path)" : error.status.reasonPhrase)
            return AdminAPI.json(["error": .string(code), "message": .string(message), "details": []], status: error.status)
        }
    }
}
