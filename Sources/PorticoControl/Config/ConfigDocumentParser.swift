import PorticoCore
import Yams

/// Parses YAML and JSON documents into ``ConfigValue`` trees.
///
/// Both go through Yams: JSON is valid YAML flow syntax, so one parser keeps the two formats
/// decoding identically (same types, same key order, same error style).
public enum ConfigDocumentParser {
    /// Parses a document; a syntax error is one problem naming the file and line.
    public static func parse(_ text: String, file: String?) throws(ConfigurationError) -> ConfigValue {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError(problems: [ConfigProblem(file: file, path: "", message: syntaxMessage(error))])
        } catch {
            throw ConfigurationError(problems: [ConfigProblem(file: file, path: "", message: "cannot parse: \(error)")])
        }
        guard let node else { return .null }
        var problems: [ConfigProblem] = []
        let value = convert(node, file: file, path: "", problems: &problems)
        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return value
    }

    private static func convert(_ node: Node, file: String?, path: String, problems: inout [ConfigProblem]) -> ConfigValue {
        switch node {
        case .scalar(let scalar):
            if scalar.style != .plain { return .string(scalar.string) }
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: return .null
            case .bool: return node.bool.map(ConfigValue.bool) ?? .string(scalar.string)
            case .int: return node.int.map(ConfigValue.integer) ?? .string(scalar.string)
            case .float: return node.float.map(ConfigValue.double) ?? .string(scalar.string)
            default: return .string(scalar.string)
            }
        case .sequence(let sequence):
            return .array(
                sequence.enumerated().map { index, item in
                    convert(item, file: file, path: "\(path)[\(index)]", problems: &problems)
                })
        case .mapping(let mapping):
            var pairs: [(key: String, value: ConfigValue)] = []
            for (key, value) in mapping {
                guard let name = key.string else {
                    problems.append(ConfigProblem(file: file, path: path, message: "mapping keys must be strings"))
                    continue
                }
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                pairs.append((name, convert(value, file: file, path: childPath, problems: &problems)))
            }
            return .object(pairs)
        case .alias:
            problems.append(ConfigProblem(file: file, path: path, message: "YAML aliases are not supported"))
            return .null
        }
    }

    private static func syntaxMessage(_ error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            let where_ = "line \(mark.line), column \(mark.column)"
            return "syntax error at \(where_): \(problem)" + (context.map { " (\($0.text))" } ?? "")
        default:
            return "syntax error: \(error)"
        }
    }
}
