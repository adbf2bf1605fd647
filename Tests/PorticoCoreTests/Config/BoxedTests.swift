import Testing

@testable import PorticoCore

/// `Boxed` members keep value semantics: equality and hashing by value, copies independent.
@Suite struct BoxedTests {
    @Test func equalValuesInDifferentBoxesAreEqualAndHashAlike() {
        let a = Boxed(wrappedValue: RateLimitDefinitionSample.limit)
        let b = Boxed(wrappedValue: RateLimitDefinitionSample.limit)
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != Boxed(wrappedValue: nil))
        #expect(Boxed<RateLimitDefinition>(wrappedValue: nil) == Boxed(wrappedValue: nil))
    }

    @Test func aCopyDoesNotSeeAChangeMadeThroughTheOriginal() {
        var route = RouteDefinition(name: "r", action: .respond(StaticResponse(status: 200)))
        route.retries = RetryPolicyDefinition.default
        let copy = route
        route.retries = nil
        route.rateLimit = RateLimitDefinitionSample.limit
        #expect(copy.retries == RetryPolicyDefinition.default)
        #expect(copy.rateLimit == nil)
        #expect(route != copy)
        var back = route
        back.retries = RetryPolicyDefinition.default
        back.rateLimit = nil
        #expect(back == copy)
    }
}

private enum RateLimitDefinitionSample {
    static let limit = RateLimitDefinition(requests: 10, per: .seconds(1), burst: 20)
}
