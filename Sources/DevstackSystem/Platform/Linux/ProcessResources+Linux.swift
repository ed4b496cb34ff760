#if os(Linux)
    import Foundation
    import Glibc

    extension ProcessResources {
        /// Glibc imports `RUSAGE_SELF` as an enum case.
        static let rusageSelf = Int32(RUSAGE_SELF.rawValue)

        /// The second field of /proc/self/statm: resident pages.
        static func residentBytes() -> Int {
            let fields = ((try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? "").split(separator: " ")
            guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
            return pages * sysconf(Int32(_SC_PAGESIZE))
        }
    }
#endif
