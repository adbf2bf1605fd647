import FoundationEssentials
import NIOCore
import PorticoCore

/// The auth side of the proxy handler (SPEC §13): a JWKS load for an unknown `kid` and the
/// forward-auth call, each reported back to the exchange that asked, by its serial (an
/// answer for an exchange that has ended is dropped).
extension HTTPProxyHandler {
    /// Wall-clock time, for `exp` and `nbf`.
    static var epochSeconds: Double { Date().timeIntervalSince1970 }

    func refreshKeys(_ source: JWKSSource, context: ChannelHandlerContext) {
        let serial = currentSerial
        guard let loaded = source.refresh(on: context.eventLoop) else {
            return run(exchange?.machine?.keysRefreshed(serial: serial, now: context.eventLoop.now, epochSeconds: Self.epochSeconds), context: context)
        }
        loaded.assumeIsolated().whenComplete { [weak self] _ in
            guard let self, let context = self.context else { return }
            self.run(
                self.exchange?.machine?.keysRefreshed(serial: serial, now: context.eventLoop.now, epochSeconds: Self.epochSeconds),
                context: context)
        }
    }

    func callForwardAuth(_ definition: ForwardAuthDefinition, client: AuthHTTPClient, context: ChannelHandlerContext) {
        guard let exchange = exchange?.machine else { return }
        let serial = currentSerial
        let call = ForwardAuthCall(definition, request: exchange.request, client: exchange.record.client, scheme: environment.scheme)
        guard let http = client.client else {
            return run(
                self.exchange?.machine?.forwardAuthAnswered(serial: serial, .unavailable(reason: "auth.forward: shutting down"), now: context.eventLoop.now),
                context: context)
        }
        call.perform(with: http, on: context.eventLoop).assumeIsolated().whenSuccess { [weak self] outcome in
            guard let self, let context = self.context else { return }
            self.run(self.exchange?.machine?.forwardAuthAnswered(serial: serial, outcome, now: context.eventLoop.now), context: context)
        }
    }
}
