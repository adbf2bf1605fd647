import ArgumentParser
import Foundation
import PorticoControl

/// `portico explain URL [-X METHOD] [-H 'Name: value']…`: which route a running gateway
/// would choose for a request, and why (SPEC §14), printed for a person.
struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running gateway which route would serve a request, and why.")

    @OptionGroup var admin: Ports.AdminOptions
    @Argument(help: "The request's absolute URL, e.g. https://api.example.com/users?x=1.") var url: String
    @Option(name: .customShort("X"), help: "The method (default GET).") var method = "GET"
    @Option(name: .customShort("H"), help: "A request header, 'Name: value' (repeatable).") var header: [String] = []

    func run() async throws {
        var headers: [String: String] = [:]
        for line in header {
            guard let colon = line.firstIndex(of: ":") else { throw ValidationError("-H \(line): expected 'Name: value'") }
            headers[String(line[..<colon]).trimmingCharacters(in: .whitespaces)] =
                String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        }
        let body: [String: Any] = ["method": method, "url": url, "headers": headers]
        let text = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
        let json = try await succeed(try admin.client().send(.POST, "/v1/explain", json: text)).json
        guard let route = json["route"] as? String else {
            print("no route: the gateway answers 404")
            printCandidates(json)
            return
        }
        print("route     \(route)  (decided by \(json["decidedBy"] as? String ?? "?"))")
        if let upstream = json["upstream"] as? String {
            print("upstream  \(upstream)")
            print("path      \(json["path"] as? String ?? "")")
        } else {
            print("answered by the gateway itself (respond, redirect or httpsRedirect)")
        }
        printCandidates(json)
    }

    private func printCandidates(_ json: [String: Any]) {
        let candidates = json["candidates"] as? [[String: Any]] ?? []
        guard !candidates.isEmpty else { return }
        print("candidates, best first:")
        for candidate in candidates {
            let name = candidate["route"] as? String ?? "?"
            print("  \(name): \(candidate["reason"] as? String ?? "")")
        }
    }
}
