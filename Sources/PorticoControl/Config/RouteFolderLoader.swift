import Foundation
import PorticoCore

/// Reads every `*.yaml`, `*.yml` and `*.json` file of the routes folder into one ``RouteSet``
/// (SPEC §3): files in the byte order of their names, entries in file order.
public enum RouteFolderLoader {
    /// The file extensions that are read.
    public static let extensions: Set<String> = ["yaml", "yml", "json"]

    /// Loads the folder; throws every problem of every file at once.
    public static func load(directory: String) throws(ConfigurationError) -> RouteSet {
        let display = displayPath(directory)
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ConfigurationError(problems: [
                ConfigProblem(file: display, path: "", message: "cannot read the routes folder: \(describe(error))")
            ])
        }
        let files = names.filter(isRouteFile).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }

        var set = RouteSet()
        var problems: [ConfigProblem] = []
        for name in files {
            let file = display == "." ? name : display + "/" + name
            let path = (directory as NSString).appendingPathComponent(name)
            do {
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                guard let text = String(data: data, encoding: .utf8) else {
                    problems.append(ConfigProblem(file: file, path: "", message: "not valid UTF-8"))
                    set.append(.unreadable)
                    continue
                }
                let value = try ConfigDocumentParser.parse(text, file: file)
                set.append(try RouteFileDecoder.decodeDocument(value, file: file))
            } catch let error as ConfigurationError {
                problems += error.problems
                set.append(error.decoded ?? .unreadable)
            } catch {
                problems.append(ConfigProblem(file: file, path: "", message: "cannot read: \(describe(error))"))
                set.append(.unreadable)
            }
        }
        // What did decode goes with the problems, so the table-level checks can run on it too.
        guard problems.isEmpty else { throw ConfigurationError(problems: problems, decoded: set) }
        return set
    }

    /// Whether a file name is read as a route file: a visible `.yaml`, `.yml` or `.json` file.
    @Sendable static func isRouteFile(_ name: String) -> Bool {
        !name.hasPrefix(".") && extensions.contains((name as NSString).pathExtension.lowercased())
    }

    /// The folder as the user named it, without a leading `./` or trailing `/`.
    static func displayPath(_ directory: String) -> String {
        var path = Substring(directory)
        while path.hasPrefix("./") { path = path.dropFirst(2) }
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        return path.isEmpty ? "." : String(path)
    }

    private static func describe(_ error: Error) -> String {
        (error as NSError).localizedDescription
    }
}
