import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Sends the queued spans to an OTLP/HTTP collector (SPEC §16): a batch whenever
/// ``SpanQueue/batchSize`` spans wait, and what waits at least every `interval`, one export
/// at a time. It runs on a task and an event loop of its own, so a collector that is slow or
/// down never delays a request: while an export waits, the queue fills and then drops.
///
/// A batch that cannot be delivered (no connection, a timeout, an answer other than 2xx) is
/// dropped and counted; the first failure of a run of them is logged, and the recovery.
public final class SpanExporter: Sendable {
    private let queue: SpanQueue
    private let url: String
    private let interval: Duration
    private let timeout: Duration
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let client: HTTPClient

    /// - Parameter tracesURL: Where spans are posted: ``OTLPEndpoint/tracesURL(base:)``.
    public init(
        queue: SpanQueue, tracesURL: String, interval: Duration = .seconds(5), timeout: Duration = .seconds(10), logger: Logger
    ) {
        self.queue = queue
        url = tracesURL
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        configuration.timeout.connect = .seconds(5)
        client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
    }

    /// Exports until cancelled, then sends what is still queued, giving up at the first
    /// batch not delivered within `shutdownTimeout` (a hung collector holds shutdown no
    /// longer than that), and closes its connections.
    public func run(shutdownTimeout: Duration = .seconds(2)) async {
        var failing = false
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [queue, interval] in
                while (try? await Task.sleep(for: interval)) != nil { queue.wakeExporter() }
            }
            for await _ in queue.wakeups {
                await exportQueued(timeout: timeout, failing: &failing)
            }
            group.cancelAll()
        }
        // The cancellation that ended the wait would fail the last export: it runs apart.
        await Task { [self, failing] in
            var failing = failing
            await exportQueued(timeout: shutdownTimeout, failing: &failing, untilAFailure: true)
            try? await client.shutdown()
            try? await group.shutdownGracefully()
        }.value
    }

    /// Sends batches until the queue is empty (or, with `untilAFailure`, one fails).
    private func exportQueued(timeout: Duration, failing: inout Bool, untilAFailure: Bool = false) async {
        while true {
            let batch = queue.takeBatch()
            guard !batch.isEmpty else { return }
            do {
                try await send(batch, timeout: timeout)
                queue.exported.increment(by: Int64(batch.count))
                if failing { logger.info("span export recovered", metadata: ["url": "\(url)"]) }
                failing = false
            } catch {
                queue.countDropped(batch.count)
                if !failing {
                    logger.warning(
                        "span export failed; spans are dropped until it works again",
                        metadata: ["url": "\(url)", "error": "\(error)", "spans": "\(batch.count)"])
                }
                failing = true
                if untilAFailure {
                    queue.countDropped(queue.takeAll())
                    return
                }
            }
        }
    }

    private func send(_ batch: [FinishedSpan], timeout: Duration) async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.body = .bytes(OTLPTraceRequest.encode(batch))
        let response = try await client.execute(request, timeout: .milliseconds(timeout.wholeMilliseconds))
        // Read to the end so the connection can be used again; a collector says little.
        _ = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(response.status.code) else { throw SpanExportError.status(response.status.code) }
    }
}

/// Why a batch of spans was not delivered.
enum SpanExportError: Error, CustomStringConvertible {
    case status(UInt)

    var description: String {
        switch self {
        case .status(let code): "the collector answered \(code)"
        }
    }
}

/// The OTLP/HTTP endpoint setting (`PORTICO_OTLP_ENDPOINT`).
public enum OTLPEndpoint {
    /// Where traces are posted for the base URL `base` (`http://collector:4318`): its path
    /// with `/v1/traces` appended, as OpenTelemetry's exporters do, unless it already ends
    /// so; nil when `base` is not an `http` or `https` URL with a host.
    public static func tracesURL(base: String) -> String? {
        guard var components = URLComponents(string: base), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil, components.user == nil
        else { return nil }
        if !components.path.hasSuffix("/v1/traces") {
            components.path = (components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path) + "/v1/traces"
        }
        return components.string
    }
}
