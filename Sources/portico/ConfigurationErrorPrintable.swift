import Foundation
import PorticoControl
import PorticoCore

/// Start-up errors that the CLI prints one line per problem before exiting 1.
protocol ConfigurationErrorPrintable: Error {
    var problemLines: [String] { get }
}

extension ConfigurationErrorPrintable {
    func printProblems() {
        for line in problemLines { printProblem(line) }
    }
}

/// Prints one problem line to standard error.
func printProblem(_ line: String) {
    FileHandle.standardError.write(Data("portico: \(line)\n".utf8))
}

extension ConfigurationError: ConfigurationErrorPrintable {
    var problemLines: [String] { problems.map(\.description) }
}

extension GatewayStartupError: ConfigurationErrorPrintable {
    var problemLines: [String] { problems }
}
