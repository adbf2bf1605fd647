/// An optional member stored out of line: `nil` costs one pointer and no allocation, a value
/// one shared, immutable box. For the large and seldom set members of ``RouteDefinition``,
/// which is copied for the table, the route's counter, the history encoder and the decoder's
/// memory: with auth, CORS, retries and the rate limit boxed, a route is 360 bytes instead of
/// 584, and one that sets none of them allocates nothing for them.
@propertyWrapper
public struct Boxed<Wrapped: Hashable & Sendable>: Hashable, Sendable, CustomDebugStringConvertible {
    private final class Box: Sendable {
        let value: Wrapped
        init(_ value: Wrapped) { self.value = value }
    }
    private var box: Box?

    public init(wrappedValue: Wrapped?) {
        box = wrappedValue.map(Box.init)
    }

    public var wrappedValue: Wrapped? {
        get { box?.value }
        set { box = newValue.map(Box.init) }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.box === rhs.box || lhs.wrappedValue == rhs.wrappedValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(wrappedValue)
    }

    /// The value's, so that a definition prints as it did before its members were boxed.
    public var debugDescription: String { String(reflecting: wrappedValue) }
}
