import Foundation

/// Written by the signal handler, read by the listener thread (a self-pipe: the only async-signal-safe hand-off).
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// Turns SIGINT, SIGTERM and SIGHUP into an async sequence.
///
/// Real handlers, not SIG_IGN: ignored signals are inherited by children across exec, handled ones
/// are reset to the default, so every child still dies on SIGTERM.
public enum SignalListener {
    public static func listen(to signals: [Int32]) -> AsyncStream<Int32> {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        signalPipeWriteEnd = fds[1]
        let readEnd = fds[0]
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let reader = Thread {
            var byte: UInt8 = 0
            while true {
                let count = read(readEnd, &byte, 1)
                if count == 1 { continuation.yield(Int32(byte)) } else if count < 0 && errno == EINTR { continue } else { break }
            }
            continuation.finish()
        }
        reader.name = "devstack-signals"
        reader.start()
        for signal in signals {
            var action = sigaction()
            setHandler(&action) { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipeWriteEnd, &byte, 1)
            }
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
        return stream
    }
}
