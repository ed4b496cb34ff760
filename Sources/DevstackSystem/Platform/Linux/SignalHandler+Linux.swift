#if os(Linux)
    import Foundation

    extension SignalListener {
        /// Glibc names the handler's field differently from Darwin.
        static func setHandler(_ action: inout sigaction, _ handler: @convention(c) (Int32) -> Void) {
            action.__sigaction_handler.sa_handler = handler
        }
    }
#endif
