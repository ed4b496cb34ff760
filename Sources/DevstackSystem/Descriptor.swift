import Foundation

/// Writing to and closing a file descriptor.
public enum Descriptor {
    /// Whether all of it was written (errno says why not); interrupted writes go on.
    @discardableResult
    public static func writeAll(_ descriptor: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
    }

    /// Closes it; for types with a `close()` of their own, where the C function's name is hidden.
    public static func close(_ descriptor: Int32) {
        _ = Foundation.close(descriptor)
    }
}
