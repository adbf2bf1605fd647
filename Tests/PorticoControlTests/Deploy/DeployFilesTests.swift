import Foundation
import PorticoControl
import PorticoCore
import PorticoTestSupport
import Testing
import Yams

/// Every file in deploy/ parses, each Kustomize overlay renders (`kubectl kustomize`), and
/// what it renders agrees with the gateway's defaults and endpoints.
@Suite struct DeployFilesTests {
    static let folder = PackageRoot.path + "/deploy/kubernetes"
    static let overlays = ["dev", "prod"]

    /// The documents `kubectl kustomize` renders for an overlay, by kind.
    static func documents(_ overlay: String) throws -> [String: [String: Any]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["kubectl", "kustomize", folder + "/overlays/" + overlay]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let rendered = output.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "kubectl kustomize \(overlay): \(problems)")
        return try byKind(String(decoding: rendered, as: UTF8.self), source: overlay)
    }

    static func byKind(_ text: String, source: String) throws -> [String: [String: Any]] {
        var byKind: [String: [String: Any]] = [:]
        for document in try Yams.load_all(yaml: text) {
            let object = try #require(document as? [String: Any], "\(source) holds a non-mapping document")
            let kind = try #require(object["kind"] as? String, "\(source) lacks kind")
            if byKind[kind] == nil { byKind[kind] = object }
        }
        return byKind
    }

    private func value(_ object: Any?, _ path: String...) -> Any? {
        path.reduce(object) { current, key in (current as? [String: Any])?[key] }
    }

    @Test(arguments: overlays)
    func theDeploymentProbesTheHealthEndpointsOnTheAdminPort(overlay: String) throws {
        let documents = try Self.documents(overlay)
        let deployment = try #require(documents["Deployment"])
        let container = try #require((value(deployment, "spec", "template", "spec", "containers") as? [[String: Any]])?.first)
        let ports = Dictionary(
            uniqueKeysWithValues: (container["ports"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["containerPort"] as? Int ?? 0) })
        let defaults = GatewaySettings()
        #expect(ports["http"] == defaults.httpAddress.port)
        #expect(ports["https"] == defaults.httpsAddress.port)
        #expect(ports["admin"] == defaults.adminAddress.port)
        #expect(value(container, "readinessProbe", "httpGet", "path") as? String == "/health/ready")
        #expect(value(container, "livenessProbe", "httpGet", "path") as? String == "/health/live")
        #expect(value(container, "readinessProbe", "httpGet", "port") as? String == "admin")
        #expect(value(container, "livenessProbe", "httpGet", "port") as? String == "admin")
        #expect(value(container, "resources", "requests") != nil)
        #expect(value(container, "resources", "limits") != nil)

        // Every environment variable is one the gateway reads, and parses.
        let env = Dictionary(
            uniqueKeysWithValues: (container["env"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["value"] as? String) })
        let known = Set(GatewaySettings.Key.allCases.map(\.rawValue) + ["PORTICO_LOG_FORMAT", "PORTICO_LOG_LEVEL"])
        #expect(Set(env.keys).isSubset(of: known), "unknown: \(Set(env.keys).subtracting(known))")
        let settings = try GatewaySettings.resolve(environment: env.compactMapValues { $0 })
        #expect(settings.adminAddress == ListenAddress(host: "0.0.0.0", port: ports["admin"] ?? 0))
        #expect(env.keys.contains("PORTICO_ADMIN_TOKEN"))
        // httpsRedirect names the port the Service exposes for HTTPS, not the container's.
        let service = try #require(documents["Service"])
        let servicePorts = value(service, "spec", "ports") as? [[String: Any]] ?? []
        let httpsPort = try #require(servicePorts.first { ($0["targetPort"] as? String) == "https" }?["port"] as? Int)
        #expect(settings.httpsRedirectPort == httpsPort)

        // Pods get longer to stop than requests get to drain.
        let grace = try #require(value(deployment, "spec", "template", "spec", "terminationGracePeriodSeconds") as? Int)
        #expect(Double(grace) > Double(settings.drainTimeout.components.seconds) + 5)
    }

    @Test(arguments: overlays)
    func theServicePointsAtTheDeployment(overlay: String) throws {
        let documents = try Self.documents(overlay)
        let deployment = try #require(documents["Deployment"])
        let labels = try #require(value(deployment, "spec", "template", "metadata", "labels") as? [String: String])
        let service = try #require(documents["Service"])
        #expect(value(service, "spec", "selector") as? [String: String] == labels)
        let targets = (value(service, "spec", "ports") as? [[String: Any]] ?? []).compactMap { $0["targetPort"] as? String }
        #expect(Set(targets) == ["http", "https"])
    }

    @Test func devIsOneSmallReplica() throws {
        let documents = try Self.documents("dev")
        let deployment = try #require(documents["Deployment"])
        #expect(value(deployment, "spec", "replicas") as? Int == 1)
        #expect(documents["HorizontalPodAutoscaler"] == nil)
        let container = try #require((value(deployment, "spec", "template", "spec", "containers") as? [[String: Any]])?.first)
        #expect(value(container, "resources", "limits", "memory") as? String == "256Mi")
        #expect(value(documents["Service"], "spec", "type") as? String == "ClusterIP")
    }

    @Test func prodScalesSpreadsAndServesHTTPSOn443() throws {
        let documents = try Self.documents("prod")
        let deployment = try #require(documents["Deployment"])
        let labels = try #require(value(deployment, "spec", "template", "metadata", "labels") as? [String: String])
        let name = try #require(value(deployment, "metadata", "name") as? String)
        let hpa = try #require(documents["HorizontalPodAutoscaler"])
        #expect(value(hpa, "spec", "scaleTargetRef", "name") as? String == name)
        #expect(value(hpa, "spec", "minReplicas") as? Int == 2)
        #expect(value(hpa, "spec", "maxReplicas") as? Int == 20)
        let cpu = (value(hpa, "spec", "metrics") as? [[String: Any]])?.first
        #expect(value(cpu, "resource", "target", "averageUtilization") as? Int == 70)
        let budget = try #require(documents["PodDisruptionBudget"])
        #expect(value(budget, "spec", "selector", "matchLabels") as? [String: String] == labels)
        let spread = value(deployment, "spec", "template", "spec", "affinity", "podAntiAffinity") as? [String: Any]
        #expect(spread != nil)
        #expect(value(documents["Service"], "spec", "type") as? String == "LoadBalancer")
        // The certificates folder is cert-manager's Secret, as NAME.crt beside NAME.key.
        let volumes = value(deployment, "spec", "template", "spec", "volumes") as? [[String: Any]] ?? []
        let certs = try #require(volumes.first { $0["name"] as? String == "certs" })
        #expect(value(certs, "secret", "secretName") as? String == "portico-tls")
        let paths = (value(certs, "secret", "items") as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        #expect(Set(paths) == ["portico.crt", "portico.key"])
        #expect(value(documents["Certificate"], "spec", "secretName") as? String == "portico-tls")
    }

    @Test func theExampleSecretsAreTheOnesTheDeploymentReads() throws {
        let text = try String(contentsOfFile: Self.folder + "/secrets.example.yaml", encoding: .utf8)
        let names = try Yams.load_all(yaml: text).compactMap { value($0, "metadata", "name") as? String }
        #expect(Set(names) == ["portico-admin", "portico-certs", "portico-state"])
    }

    @Test func theRoutesConfigMapIsAValidRoutesFolder() throws {
        let configMap = try #require(try Self.documents("dev")["ConfigMap"])
        let files = try #require(value(configMap, "data") as? [String: String])
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for (name, text) in files { try folder.write("routes/" + name, text) }
        let set = try RouteFolderLoader.load(directory: folder.url.appendingPathComponent("routes").path)
        #expect(!(try RouteTable.build(version: 1, from: set)).routes.isEmpty)
    }

    @Test func theImageRunsAStaticReleaseBinaryAsANonRootUser() throws {
        let dockerfile = try String(contentsOfFile: PackageRoot.path + "/deploy/Dockerfile", encoding: .utf8)
        let lines = dockerfile.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.filter { $0.hasPrefix("FROM ") }.count == 2, "multi-stage build")
        #expect(dockerfile.contains("swift build -c release --product portico --static-swift-stdlib"))
        let user = try #require(lines.last { $0.hasPrefix("USER ") })
        #expect(!user.contains("root") && !user.hasSuffix(" 0") && !user.contains(" 0:"))
        let exposed = Set(lines.filter { $0.hasPrefix("EXPOSE ") }.flatMap { $0.split(separator: " ").dropFirst().compactMap { Int($0) } })
        let defaults = GatewaySettings()
        #expect(exposed == [defaults.httpAddress.port, defaults.httpsAddress.port, defaults.adminAddress.port])
    }
}
