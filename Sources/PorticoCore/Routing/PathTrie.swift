/// Prefix routes of one host group, keyed by path segment, so that a lookup costs one
/// dictionary probe per segment of the request path whatever the number of routes.
final class PathTrie: Sendable {
    /// Routes whose prefix ends at this node, best first (more conditions, then definition order).
    let routes: [CompiledRoute]
    let children: [Substring: PathTrie]

    private init(routes: [CompiledRoute], children: [Substring: PathTrie]) {
        self.routes = routes
        self.children = children
    }

    /// Returns the first route, longest prefix first, whose conditions hold.
    func bestMatch(path: String, request: RouteRequest) -> CompiledRoute? {
        bestMatch(below: Substring(path), request: request)
    }

    /// Descends one segment of `rest` at a time and tries each node's routes on the way back
    /// up, so the deepest (longest) prefix is tried first; no allocation per lookup.
    private func bestMatch(below rest: Substring, request: RouteRequest) -> CompiledRoute? {
        var remaining = rest.utf8[...]
        while remaining.first == UInt8(ascii: "/") { remaining = remaining.dropFirst() }
        if !remaining.isEmpty {
            let end = remaining.firstIndex(of: UInt8(ascii: "/")) ?? remaining.endIndex
            if let child = children[Substring(remaining[..<end])],
                let route = child.bestMatch(below: Substring(remaining[end...]), request: request)
            {
                return route
            }
        }
        for route in routes where route.conditionsHold(request) {
            return route
        }
        return nil
    }

    /// A mutable trie used while a table is built, then frozen into a ``PathTrie``.
    final class Builder {
        private var routes: [CompiledRoute] = []
        private var children: [Substring: Builder] = [:]

        func insert(prefix: String, route: CompiledRoute) {
            var node = self
            for segment in prefix.split(separator: "/") {
                if let child = node.children[segment] {
                    node = child
                } else {
                    let child = Builder()
                    node.children[segment] = child
                    node = child
                }
            }
            node.routes.append(route)
        }

        func freeze() -> PathTrie {
            PathTrie(
                routes: routes.sorted(by: RouteTable.precedes),
                children: children.mapValues { $0.freeze() }
            )
        }
    }
}
