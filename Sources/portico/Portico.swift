import ArgumentParser
import Foundation
import Logging
import PorticoControl

/// The `portico` command line.
@main
struct Portico: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portico",
        abstract: "A multi-tenant ingress gateway: host and path routing, TLS with SNI, hot-swapped route tables.",
        subcommands: [Serve.self, Validate.self, Explain.self, Ports.self, Certs.self],
        defaultSubcommand: Serve.self)
}
