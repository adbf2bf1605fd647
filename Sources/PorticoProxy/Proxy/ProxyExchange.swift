import NIOCore
import NIOHTTP1
import PorticoCore

/// One request on a downstream connection, from its head to the end of its response.
///
/// Owned by the ``HTTPProxyHandler`` of that connection and touched only on its event loop.
final class ProxyExchange {
    /// Where the exchange stands.
    enum Phase {
        /// The gateway answers itself (respond route, redirect or error); request body is discarded.
        case answeringLocally
        /// Waiting for an upstream connection; request parts are buffered and reads held.
        case connecting
        /// Request and response stream between the downstream and the upstream connection.
        case forwarding
        /// The upstream agreed to an `Upgrade` (101): both connections become one byte pipe.
        case tunneling
    }

    let requestHead: HTTPRequestHead
    let requestID: String?
    let host: String?
    let path: String
    let route: CompiledRoute?
    let startTime: NIODeadline
    /// Whether the downstream connection may serve another request after this one.
    var keepAlive: Bool
    var phase: Phase = .answeringLocally

    /// The head sent (or to send) upstream, kept so that a request without a body can be
    /// retried once when a reused connection turns out to be closed.
    var upstreamHead: HTTPRequestHead?
    var endpoint: Endpoint?
    var upstream: UpstreamConnection?
    /// The CORS headers the response gets (the route has a policy and the origin is allowed).
    var corsHeaders: [(String, String)]?
    /// Compresses the response body when it is gzipped on its way to the client.
    var gzip: GzipStream?
    /// Request parts received while connecting.
    var bufferedParts: [HTTPClientRequestPart] = []
    /// Retries the route's policy counts (the keep-alive refresh is not one).
    var retries = 0
    /// Numbers the tries from 1, so that a connect or a connection slot that arrives for an
    /// abandoned try is recognised.
    var attempt = 0
    /// Whether the current try is a retry (retries use fresh connections).
    var isRetry: Bool { attempt > 1 }
    /// Endpoints whose try failed for this request (a retry goes to another one).
    var endpointsTried: [Endpoint] = []
    /// Set while the request waits for one of the upstream's `maxConnections`.
    var connectionWaiter: ConnectionLimiter.WaiterID?
    /// The request holds a place in its upstream's retry budget until it ends.
    var holdsRetryBudget = false
    /// When the current try stops waiting for a response head (`retries.perTryTimeout`).
    var tryDeadline: NIODeadline?
    /// The request asks for an `Upgrade` (WebSocket), passed through to the upstream.
    var isUpgrade = false

    var requestComplete = false
    var requestHadBody = false
    /// A final (non-1xx) response head has been written downstream.
    var responseStarted = false
    var responseComplete = false
    var upstreamKeepAlive = true

    var status = 0
    var bytesIn = 0
    var bytesOut = 0
    /// Why the gateway answered itself or cut the exchange, for the access log.
    var failureReason: String?
    /// When the route timeout expires; `nil` once the response is complete or the gateway answers.
    var deadline: NIODeadline?
    /// When a drain of the exchange's retired route ends it; `nil` while its route is active.
    var drainDeadline: NIODeadline?

    init(requestHead: HTTPRequestHead, requestID: String?, host: String?, path: String, route: CompiledRoute?, startTime: NIODeadline) {
        self.requestHead = requestHead
        self.requestID = requestID
        self.host = host
        self.path = path
        self.route = route
        self.startTime = startTime
        // An HTTP/2 stream ends with its exchange; its connection stays.
        self.keepAlive = requestHead.version.major >= 2 || requestHead.isKeepAlive
    }

    /// Whether the request can be sent again on a fresh connection: nothing of its body was
    /// streamed and no response byte was seen.
    var canRetryOnFreshConnection: Bool {
        !responseStarted && requestComplete && !requestHadBody
    }
}
