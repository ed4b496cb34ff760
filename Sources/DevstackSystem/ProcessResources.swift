import Foundation

/// What this process costs the machine, for `/metrics`.
public struct ProcessResources: Sendable {
    /// Resident memory now, in bytes.
    public var residentBytes: Int
    /// User plus system CPU time since the process started.
    public var cpuSeconds: Double

    public init(residentBytes: Int, cpuSeconds: Double) {
        self.residentBytes = residentBytes
        self.cpuSeconds = cpuSeconds
    }

    public static func current() -> ProcessResources {
        var usage = rusage()
        getrusage(rusageSelf, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        return ProcessResources(residentBytes: residentBytes(), cpuSeconds: cpu)
    }

    /// Free bytes for an unprivileged writer on the file system holding `path`.
    public static func freeBytes(at path: String) -> Int? {
        var space = statvfs()
        guard statvfs(path, &space) == 0 else { return nil }
        return Int(space.f_bavail) * Int(space.f_frsize)
    }
}
