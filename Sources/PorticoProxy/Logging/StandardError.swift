#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where log lines go: standard error, each call in as few `write(2)`s as the kernel takes.
public enum StandardError {
    /// Writes every byte, again after `EINTR`; gives up quietly when the descriptor is gone
    /// (a log line is dropped, never the process).
    public static func write(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(STDERR_FILENO, base + offset, bytes.count - offset)
            if written > 0 {
                offset += written
            } else if written < 0, errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    /// What a pipe writes whole, never interleaved with another writer's bytes (POSIX's
    /// `PIPE_BUF`, 4096 on Linux): container runtimes read standard error through a pipe.
    public static let atomicWriteLimit = 4096
}

private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// Nanoseconds since 1970 on the wall clock (log lines, OTLP span times).
func wallClockNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(clamping: now.tv_sec) &* 1_000_000_000 &+ UInt64(clamping: now.tv_nsec)
}
