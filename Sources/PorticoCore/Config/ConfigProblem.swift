/// One problem found in configuration input, located by file (when there is one) and field path.
///
/// Rendered as `routes/hrm.yaml: routes[1].match.path: exactly one of prefix, exact, regex`.
public struct ConfigProblem: Hashable, Sendable, CustomStringConvertible {
    /// The file the problem is in, as the user named it; `nil` for API input.
    public var file: String?
    /// The field path inside the document (`routes[1].match.path`); empty for the whole document.
    public var path: String
    /// What is wrong, in plain words.
    public var message: String

    public init(file: String? = nil, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if !path.isEmpty { parts.append(path) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Thrown when configuration input is refused; carries every problem found, not only the first.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Every problem, in the order found.
    public var problems: [ConfigProblem]
    /// For a refused document: the definitions that did decode, with what was left out, so
    /// that the checks of a whole table can still run on them (``RouteTable/problems(in:)``).
    public var decoded: RouteSet?

    public init(problems: [ConfigProblem], decoded: RouteSet? = nil) {
        self.problems = problems
        self.decoded = decoded
    }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
