#if os(macOS)
    import Foundation

    extension RuntimeFolder {
        /// No tmpfs by default; APFS clones a cluster without writing it anyway.
        static var sharedMemoryParent: String? { nil }
    }
#endif
