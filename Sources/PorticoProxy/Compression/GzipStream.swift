import CompressNIO
import NIOCore

/// gzip of one response body as it streams: each chunk is compressed and sync-flushed at
/// once, so the client receives data as the upstream sends it and nothing is buffered whole.
final class GzipStream {
    private let compressor: NIOCompressor
    private let allocator: ByteBufferAllocator

    init(allocator: ByteBufferAllocator) throws {
        compressor = CompressionAlgorithm.gzip().compressor
        self.allocator = allocator
        try compressor.startStream()
    }

    /// The compressed form of `chunk` (possibly empty).
    func compress(_ chunk: ByteBuffer) throws -> ByteBuffer {
        var input = chunk
        return try input.compressStream(with: compressor, flush: .sync, allocator: allocator)
    }

    /// The end of the gzip stream (trailer); the stream cannot be used after.
    func finish() throws -> ByteBuffer {
        var empty = allocator.buffer(capacity: 0)
        let tail = try empty.compressStream(with: compressor, flush: .finish, allocator: allocator)
        try compressor.finishStream()
        return tail
    }

    deinit {
        try? compressor.resetStream()
    }
}
