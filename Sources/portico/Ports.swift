import ArgumentParser
import Foundation
import PorticoControl

/// `portico ports list|allocate|free`: the tenant port pool through the admin API.
struct Ports: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, allocate and free tenant ports through a running gateway's admin API.",
        subcommands: [List.self, Allocate.self, Free.self])

    /// Where the admin API is and how to authenticate, as `serve` is configured.
    struct AdminOptions: ParsableArguments {
        @Option(name: .customLong("admin-addr"), help: "Admin listener host:port (PORTICO_ADMIN_ADDR, default 127.0.0.1:9901).")
        var adminAddress: String?
        @Option(name: .customLong("admin-token"), help: "Bearer token (PORTICO_ADMIN_TOKEN, else <state-dir>/admin.token).")
        var adminToken: String?
        @Option(name: .customLong("state-dir"), help: "State folder holding admin.token (PORTICO_STATE_DIR, default ./.portico).")
        var stateDirectory: String?

        func client() throws -> AdminAPIClient {
            let environment = ProcessInfo.processInfo.environment
            let settings: GatewaySettings
            do {
                settings = try GatewaySettings.resolve(
                    environment: environment,
                    flags: [.adminAddress: adminAddress, .adminToken: adminToken, .stateDirectory: stateDirectory]
                        .compactMapValues { $0 })
            } catch {
                throw ValidationError(error.description)
            }
            let token =
                settings.adminToken
                ?? (try? String(
                    contentsOfFile: (settings.stateDirectory as NSString).appendingPathComponent("admin.token"), encoding: .utf8)
                )?.trimmingCharacters(in: .whitespacesAndNewlines)
            let host = settings.adminAddress.host == "0.0.0.0" ? "127.0.0.1" : settings.adminAddress.host
            return AdminAPIClient(host: host, port: settings.adminAddress.port, token: token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the range and every allocation.")
        @OptionGroup var admin: AdminOptions

        func run() async throws {
            let response = try await succeed(try admin.client().send(.GET, "/v1/ports"))
            let json = response.json
            let range = json["range"] as? [String: Int] ?? [:]
            print("range \(range["start"] ?? 0)-\(range["end"] ?? 0): \(json["allocated"] ?? 0) allocated, \(json["free"] ?? 0) free")
            for allocation in json["allocations"] as? [[String: Any]] ?? [] {
                let target = allocation["target"] as? String ?? "-"
                print("\(allocation["port"] ?? "")\t\(allocation["tenant"] ?? "")\t\(allocation["name"] ?? "")\t\(target)\t\(allocation["createdAt"] ?? "")")
            }
        }
    }

    struct Allocate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Allocate a port to a tenant (idempotent) and print it.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The tenant.") var tenant: String
        @Argument(help: "The allocation's name, e.g. redis.") var name: String
        @Option(help: "Forward connections to this host:port.") var target: String?

        func run() async throws {
            var body: [String: String] = ["name": name]
            if let target { body["target"] = target }
            let text = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
            let response = try await succeed(try admin.client().send(.POST, "/v1/tenants/\(tenant)/ports", json: text))
            print(response.json["port"] ?? "")
        }
    }

    struct Free: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Free a tenant's port and stop its forwarding.")
        @OptionGroup var admin: AdminOptions
        @Argument(help: "The tenant.") var tenant: String
        @Argument(help: "The allocation's name.") var name: String

        func run() async throws {
            _ = try await succeed(try admin.client().send(.DELETE, "/v1/tenants/\(tenant)/ports/\(name)"))
            print("freed")
        }
    }
}

/// Returns a 2xx response; prints the API's error message and exits 1 otherwise.
func succeed(_ response: AdminAPIClient.Response) throws -> AdminAPIClient.Response {
    guard (200..<300).contains(response.status) else {
        let message = response.json["message"] as? String ?? response.body
        FileHandle.standardError.write(Data("portico: \(response.status) \(message)\n".utf8))
        throw ExitCode(1)
    }
    return response
}
