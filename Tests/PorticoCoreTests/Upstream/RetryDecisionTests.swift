import PorticoCore
import Testing

@Suite struct RetryDecisionTests {
    @Test func conditionsCoverTheirFailures() {
        let gatewayErrors = RetryPolicyDefinition(attempts: 1, on: [.gatewayError])
        #expect(gatewayErrors.retries(.status(503), idempotent: true, replayable: true))
        #expect(!gatewayErrors.retries(.status(500), idempotent: true, replayable: true))
        #expect(gatewayErrors.retries(.connectFailure, idempotent: true, replayable: true))
        let serverErrors = RetryPolicyDefinition(attempts: 1, on: [.anyServerError])
        #expect(serverErrors.retries(.status(500), idempotent: true, replayable: true))
        let only503 = RetryPolicyDefinition(attempts: 1, on: [.status(503)])
        #expect(only503.retries(.status(503), idempotent: false, replayable: true))
        #expect(!only503.retries(.status(502), idempotent: true, replayable: true))
        #expect(!only503.retries(.connectFailure, idempotent: true, replayable: true))
        #expect(RetryPolicyDefinition(attempts: 1, on: [.reset]).retries(.refusedStream, idempotent: true, replayable: true))
    }

    @Test func onlyWhatIsSafeToSendAgainIsRetried() {
        let all = RetryPolicyDefinition(attempts: 1, on: [.anyServerError])
        // Nothing was sent: always.
        #expect(all.retries(.connectFailure, idempotent: false, replayable: false))
        // A body already streamed cannot be sent again.
        #expect(!all.retries(.status(503), idempotent: true, replayable: false))
        #expect(!all.retries(.refusedStream, idempotent: true, replayable: false))
        // A reset or a timeout may have been processed: idempotent methods only.
        #expect(!all.retries(.reset, idempotent: false, replayable: true))
        #expect(all.retries(.reset, idempotent: true, replayable: true))
        #expect(!all.retries(.perTryTimeout, idempotent: false, replayable: true))
    }

    @Test func theBudgetAllowsAShareOfRunningRequestsAndAMinimum() {
        let budget = RetryBudgetDefinition(percent: 20, minRetries: 3)
        #expect(budget.allowsRetry(runningRetries: 2, runningRequests: 1))
        #expect(!budget.allowsRetry(runningRetries: 3, runningRequests: 10))
        #expect(budget.allowsRetry(runningRetries: 19, runningRequests: 100))
        #expect(!budget.allowsRetry(runningRetries: 20, runningRequests: 100))
    }
}
