import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Gives the allocator's free pages back to the system once configuration changes pause.
///
/// glibc keeps what a thread frees in that thread's arena. A large change — a 10,000-route
/// document decoded, encoded and recorded, and the table it replaced — left the process at
/// 160 MiB, 55 MiB of it free. ``run()`` calls `malloc_trim(0)` once ``changed()`` has not
/// been called for the delay, so a burst of changes trims once and the data plane's hot path
/// never does.
public final class HeapTrimmer: Sendable {
    private let delay: Duration
    private let clock: any Clock<Duration>
    private let trim: @Sendable () -> Void
    private let changes: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation
    /// Counts changes, so that a wait can tell whether another came meanwhile.
    private let generation = Atomic<UInt64>(0)

    /// `trim`: what gives the pages back (``returnFreePages()``; tests count calls instead).
    public init(
        delay: Duration = .seconds(1), clock: any Clock<Duration> = ContinuousClock(),
        trim: @escaping @Sendable () -> Void = HeapTrimmer.returnFreePages
    ) {
        self.delay = delay
        self.clock = clock
        self.trim = trim
        (changes, signal) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// A change was published.
    public func changed() {
        generation.wrappingAdd(1, ordering: .relaxed)
        signal.yield()
    }

    /// Trims after each pause in changes, until cancelled.
    public func run() async {
        var trimmed: UInt64 = 0
        for await _ in changes {
            var seen = generation.load(ordering: .relaxed)
            // A signal left over from changes that the last trim came after.
            if seen == trimmed { continue }
            while true {
                do { try await clock.sleep(for: delay) } catch { return }
                let now = generation.load(ordering: .relaxed)
                if now == seen { break }
                seen = now
            }
            trim()
            trimmed = seen
        }
    }

    /// Returns the free pages of every arena to the system (`malloc_trim(0)`; glibc only).
    public static func returnFreePages() {
        #if canImport(Glibc)
        _ = mallocTrim?(0)
        #endif
    }
}

#if canImport(Glibc)
/// glibc's `malloc_trim`, looked up once: Swift's Glibc module does not import `<malloc.h>`.
private let mallocTrim: (@convention(c) (Int) -> Int32)? = {
    guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
}()
#endif
