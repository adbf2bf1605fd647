import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import PorticoCore

/// One `auth.forward` call (SPEC §13, Traefik ForwardAuth): `GET url` with the request's
/// method, scheme, host, target and client as `X-Forwarded-*` and the listed client headers;
/// then what its answer means for the request.
struct ForwardAuthCall {
    /// An answer's body the gateway passes on to the client, at most.
    static let maximumBodyBytes = 64 * 1024

    /// What the answer means.
    enum Outcome {
        /// 2xx: the headers the upstream request gets (each `responseHeaders` name: removed,
        /// then set from the answer where it has it).
        case allowed(remove: [String], set: [(String, String)])
        /// Any other status: the answer goes to the client as it is.
        case denied(LocalAnswer)
        /// No answer within the timeout, or none at all: 503 `auth_unavailable`.
        case unavailable(reason: String)
    }

    /// The headers of the answer a denial passes on.
    static let deniedHeaders = ["www-authenticate", "location", "set-cookie", "content-type"]

    let definition: ForwardAuthDefinition
    let headers: HTTPHeaders

    init(_ definition: ForwardAuthDefinition, request: HTTPRequestHead, client: String, scheme: String) {
        self.definition = definition
        var headers = HTTPHeaders()
        headers.reserveCapacity(5 + definition.requestHeaders.count)
        headers.add(name: "X-Forwarded-Method", value: request.method.rawValue)
        headers.add(name: "X-Forwarded-Proto", value: scheme)
        if let host = request.headers.first(name: "host") { headers.add(name: "X-Forwarded-Host", value: host) }
        headers.add(name: "X-Forwarded-Uri", value: request.uri)
        headers.add(name: "X-Forwarded-For", value: client)
        for name in definition.requestHeaders {
            for value in request.headers[name] { headers.add(name: name, value: value) }
        }
        self.headers = headers
    }

    /// What a complete answer means.
    func outcome(status: Int, headers answer: HTTPHeaders, body: ByteBuffer?) -> Outcome {
        if (200..<300).contains(status) {
            var set: [(String, String)] = []
            for name in definition.responseHeaders {
                for value in answer[name] { set.append((name, value)) }
            }
            return .allowed(remove: definition.responseHeaders, set: set)
        }
        var headers = HTTPHeaders()
        for name in Self.deniedHeaders {
            for value in answer[name] { headers.add(name: name, value: value) }
        }
        return .denied(
            LocalAnswer(
                status: status, headers: headers, body: body ?? ByteBuffer(),
                failureReason: "auth.forward answered \(status)"))
    }

    /// Makes the call with `client` on `eventLoop` (the request's, so no thread hop), giving
    /// up after the definition's timeout: a timer of its own on the loop answers and cancels
    /// the call, so the bound holds whatever the client does with its deadline (in a loaded
    /// test run a 300 ms timeout once answered after 3.5 s without it).
    func perform(with client: HTTPClient, on eventLoop: any EventLoop) -> EventLoopFuture<Outcome> {
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: definition.url, method: .GET, headers: headers)
        } catch {
            return eventLoop.makeSucceededFuture(.unavailable(reason: "auth.forward: \(error)"))
        }
        let timeout = TimeAmount.milliseconds(definition.timeout.wholeMilliseconds)
        let accumulator = ResponseAccumulator(request: request, maxBodySize: Self.maximumBodyBytes)
        let task = client.execute(
            request: request, delegate: accumulator, eventLoop: .delegateAndChannel(on: eventLoop),
            deadline: .now() + timeout)
        let promise = eventLoop.makePromise(of: Outcome.self)
        let timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            promise.succeed(.unavailable(reason: "auth.forward: no answer within \(definition.timeout.configString)"))
            task.cancel()
        }
        task.futureResult.hop(to: eventLoop).assumeIsolated().whenComplete { result in
            timer.cancel()
            switch result {
            case .success(let response):
                promise.succeed(outcome(status: Int(response.status.code), headers: response.headers, body: response.body))
            case .failure(let error):
                promise.succeed(.unavailable(reason: "auth.forward: \(error)"))
            }
        }
        return promise.futureResult
    }
}
