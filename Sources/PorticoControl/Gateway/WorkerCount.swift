import Foundation
import NIOCore

/// How many event-loop threads the data plane runs.
public enum WorkerCount {
    /// The CPUs this process may run on: its affinity mask on Linux (so `taskset -c 0` or a
    /// cpuset gives one thread per allowed core), else every core. More threads than cores
    /// only adds cross-thread wake-ups on the hot path.
    public static var available: Int {
        let cores = System.coreCount
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") }),
            let allowed = cpuCount(list: line.dropFirst("Cpus_allowed_list:".count)), allowed > 0
        else { return cores }
        return min(allowed, cores)
    }

    /// Counts the CPUs of a Linux CPU list such as `0-3,6`.
    static func cpuCount(list: Substring) -> Int? {
        var count = 0
        for item in list.split(separator: ",") {
            let bounds = item.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            switch bounds.count {
            case 1:
                guard bounds[0] != nil else { return nil }
                count += 1
            case 2:
                guard let low = bounds[0], let high = bounds[1], low <= high else { return nil }
                count += high - low + 1
            default:
                return nil
            }
        }
        return count
    }
}
