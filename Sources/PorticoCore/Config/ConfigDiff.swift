/// What changed between two route-table documents (SPEC §14), by route and upstream name:
/// added, removed, and changed (the same name with another definition). Documents are the
/// stored form `GET /v1/config` shows: `{"routes": [...], "upstreams": [...]}`.
public struct ConfigDiff: Hashable, Sendable {
    /// The names of one kind that changed, each list in the order the documents give them.
    public struct Changes: Hashable, Sendable {
        public var added: [String] = []
        public var removed: [String] = []
        public var changed: [String] = []

        public init(added: [String] = [], removed: [String] = [], changed: [String] = []) {
            self.added = added
            self.removed = removed
            self.changed = changed
        }

        public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

        public var configValue: ConfigValue {
            [
                "added": .array(added.map { .string($0) }), "removed": .array(removed.map { .string($0) }),
                "changed": .array(changed.map { .string($0) }),
            ]
        }
    }

    public var routes: Changes
    public var upstreams: Changes

    public init(from old: ConfigValue, to new: ConfigValue) {
        routes = Self.changes(old.member("routes"), new.member("routes"))
        upstreams = Self.changes(old.member("upstreams"), new.member("upstreams"))
    }

    public var isEmpty: Bool { routes.isEmpty && upstreams.isEmpty }

    /// `{"routes": {"added", "removed", "changed"}, "upstreams": {…}}`.
    public var configValue: ConfigValue { ["routes": routes.configValue, "upstreams": upstreams.configValue] }

    private static func changes(_ old: ConfigValue?, _ new: ConfigValue?) -> Changes {
        let before = named(old)
        let after = named(new)
        let beforeByName = Dictionary(before, uniquingKeysWith: { first, _ in first })
        let afterByName = Dictionary(after, uniquingKeysWith: { first, _ in first })
        var changes = Changes()
        for (name, definition) in after {
            if let previous = beforeByName[name] {
                if !previous.sameDefinition(as: definition) { changes.changed.append(name) }
            } else {
                changes.added.append(name)
            }
        }
        changes.removed = before.map(\.name).filter { afterByName[$0] == nil }
        return changes
    }

    private static func named(_ list: ConfigValue?) -> [(name: String, definition: ConfigValue)] {
        guard case .array(let items)? = list else { return [] }
        return items.compactMap { item in
            guard case .string(let name)? = item.member("name") else { return nil }
            return (name, item)
        }
    }
}

extension ConfigValue {
    /// The value of an object's member.
    public func member(_ key: String) -> ConfigValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    /// Equal, with object members compared by key whatever their order.
    fileprivate func sameDefinition(as other: ConfigValue) -> Bool {
        switch (self, other) {
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            if ConfigValue.sharesStorage(a, b) { return true }
            return a.allSatisfy { pair in b.first { $0.key == pair.key }.map { pair.value.sameDefinition(as: $0.value) } ?? false }
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameDefinition(as: $1) }
        default:
            return self == other
        }
    }
}
