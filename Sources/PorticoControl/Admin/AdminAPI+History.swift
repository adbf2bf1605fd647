import Hummingbird
import PorticoCore
import PorticoProxy

/// SPEC §14's calls: kept versions, diffs, rollback, explain, and the dry-run and warning
/// parts of every change's answer.
extension AdminAPI {
    /// `GET /v1/config/versions`, `GET /v1/config/diff`, `POST /v1/config/rollback`,
    /// `POST /v1/explain`.
    static func addHistoryEndpoints(to v1: RouterGroup<AdminRequestContext>, controller: RouteController) {
        v1.get("config/versions") { _, _ in
            await respond {
                let versions = try await controller.versions()
                return json([
                    "versions": .array(
                        versions.map {
                            [
                                "version": .integer(Int(clamping: $0.version)), "createdAt": .string($0.createdAt),
                                "source": .string($0.source), "routes": .integer($0.routes), "upstreams": .integer($0.upstreams),
                            ]
                        })
                ])
            }
        }
        v1.post("config/rollback") { request, _ in
            await respond {
                guard case .integer(let number)? = try await decodeBody(request).member("version"), number >= 0 else {
                    throw ControlPlaneError.malformed(#"expected {"version": N}"#)
                }
                let dryRun = try isDryRun(request)
                let report = try await controller.rollback(to: UInt64(number), ifMatch: try ifMatch(request), dryRun: dryRun)
                if dryRun { return dryRunAnswer(report) }
                let active = await controller.activeDocument()
                return json(active.document, warnings: report.warnings, etag: active.version)
            }
        }
        v1.get("config/diff") { request, _ in
            await respond {
                func version(_ name: String) throws -> UInt64? {
                    guard let text = request.uri.queryParameters.get(name) else { return nil }
                    guard let version = UInt64(text) else { throw ControlPlaneError.malformed("\(name) must be a version number") }
                    return version
                }
                let active = await controller.table.version
                let to = try version("to") ?? active
                let from = try version("from") ?? (to > 0 ? to - 1 : 0)
                guard let old = try await controller.snapshot(version: from) else {
                    throw ControlPlaneError.notFound("version \(from) is not in the history")
                }
                guard let new = try await controller.snapshot(version: to) else {
                    throw ControlPlaneError.notFound("version \(to) is not in the history")
                }
                var answer: [(key: String, value: ConfigValue)] = [("from", .integer(Int(from))), ("to", .integer(Int(to)))]
                if case .object(let pairs) = ConfigDiff(from: old, to: new).configValue { answer += pairs }
                return json(.object(answer))
            }
        }

        v1.post("explain") { request, _ in
            await respond {
                let body = try await decodeBody(request)
                guard case .string(let url)? = body.member("url") else { throw ControlPlaneError.malformed("url: required") }
                var method = "GET"
                if let value = body.member("method") {
                    guard case .string(let text) = value else { throw ControlPlaneError.malformed("method: expected a string") }
                    method = text
                }
                var headers: [(String, String)] = []
                switch body.member("headers") {
                case nil, .null?: break
                case .object(let pairs)?:
                    for (name, value) in pairs {
                        guard case .string(let text) = value else { throw ControlPlaneError.malformed("headers.\(name): expected a string") }
                        headers.append((name, text))
                    }
                default: throw ControlPlaneError.malformed("headers: expected an object of names and values")
                }
                let answer = try controller.explain(method: method, url: url, headers: headers)
                return json([
                    "route": answer.route.map(ConfigValue.string) ?? .null,
                    "upstream": answer.upstream.map(ConfigValue.string) ?? .null,
                    "path": answer.path.map(ConfigValue.string) ?? .null,
                    "decidedBy": answer.explanation.decidedBy.map { .string($0.rawValue) } ?? .null,
                    "candidates": .array(
                        answer.explanation.candidates.map {
                            ["route": .string($0.route), "matched": .bool($0.matched), "reason": .string($0.reason)]
                        }),
                ])
            }
        }
    }

    /// `?dryRun=true` (SPEC §14): validate and report, change nothing.
    static func isDryRun(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("dryRun") {
        case nil, "false"?: return false
        case "true"?: return true
        default: throw ControlPlaneError.malformed("dryRun must be true or false")
        }
    }

    /// A dry run's answer: what the change would do.
    static func dryRunAnswer(_ report: ChangeReport) -> Response {
        json(["dryRun": true, "valid": true, "diff": report.diff.configValue, "warnings": warningsValue(report.warnings)])
    }

    /// `[{"route", "code", "by", "message"}]`.
    static func warningsValue(_ warnings: [RouteWarning]) -> ConfigValue {
        .array(
            warnings.map {
                ["route": .string($0.route), "code": .string($0.code), "by": .string($0.by), "message": .string($0.message)]
            })
    }

    /// An accepted change's answer with the new table's warnings.
    static func adding(_ warnings: [RouteWarning], to value: ConfigValue) -> ConfigValue {
        guard case .object(var pairs) = value else { return value }
        pairs.append(("warnings", warningsValue(warnings)))
        return .object(pairs)
    }
}
