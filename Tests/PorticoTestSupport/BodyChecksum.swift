import NIOCore

/// A running FNV-1a 64-bit checksum, so tests compare large bodies without keeping them.
public struct BodyChecksum: Hashable, Sendable, CustomStringConvertible {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    public private(set) var length = 0

    public init() {}

    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            var hash = value
            for byte in bytes {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
            value = hash
        }
        length += buffer.readableBytes
    }

    public var description: String { "\(length) bytes, fnv \(String(value, radix: 16))" }
}

/// Deterministic test bytes: chunk `index` of a body is filled from a simple counter.
public enum TestBody {
    public static func chunk(index: Int, size: Int, allocator: ByteBufferAllocator = .init()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: size)
        var seed = UInt8(truncatingIfNeeded: index &* 31 &+ 7)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { pointer in
            for offset in 0..<size {
                pointer[offset] = seed
                seed = seed &+ 13
            }
            return size
        }
        return buffer
    }

    /// The checksum of a whole body of `total` bytes sent in chunks of `chunkSize`.
    public static func checksum(total: Int, chunkSize: Int) -> BodyChecksum {
        var checksum = BodyChecksum()
        var index = 0
        var remaining = total
        while remaining > 0 {
            let size = min(chunkSize, remaining)
            checksum.update(chunk(index: index, size: size))
            remaining -= size
            index += 1
        }
        return checksum
    }
}
